import * as semver from "semver";

/**
 * Release tags as the runbooks use them: `vMAJOR.MINOR.PATCH`, optionally with a
 * SemVer pre-release suffix (`v1.5.0-rc.1`), ordered by the `semver` package (the
 * ordering npm uses), so every part of the project agrees on which tag is newer.
 * Build metadata (`+…`) is refused because it is not allowed in container image
 * tags, and so are numbers beyond 2^53, which `semver` cannot compare exactly.
 */
export function isReleaseTag(value: string): boolean {
    if (!value.startsWith("v")) return false;
    const version = value.slice(1);
    // `valid` normalises (`=1.2.3`, `1.2.3+build` → `1.2.3`): only a tag it returns unchanged is one.
    if (semver.valid(version) !== version) return false;
    const dash = version.indexOf("-");
    const identifiers = dash < 0 ? [] : version.slice(dash + 1).split(".");
    return identifiers.every((id) => !/^\d+$/.test(id) || Number.isSafeInteger(Number(id)));
}

function versionOf(tag: string): string {
    if (!isReleaseTag(tag)) throw new Error(`not a release tag: ${tag}`);
    return tag.slice(1);
}

/** SemVer precedence: negative when `a` is older than `b`, 0 when equal, positive when newer. */
export function compareTags(a: string, b: string): number {
    return semver.compare(versionOf(a), versionOf(b));
}

export function newestTag(tags: readonly string[]): string | undefined {
    return tags.reduce<string | undefined>((best, tag) => (best === undefined || compareTags(tag, best) > 0 ? tag : best), undefined);
}

/** A tag as it may appear in names that refuse dots (ECS services, task families): `v1.5.0` → `v1-5-0`. */
export function tagSlug(tag: string): string {
    return tag.replace(/[^A-Za-z0-9-]/g, "-");
}
