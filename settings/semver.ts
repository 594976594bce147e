/**
 * Release tags as the runbooks use them: `vMAJOR.MINOR.PATCH`, optionally with a
 * SemVer pre-release suffix (`v1.5.0-rc.1`). Build metadata (`+…`) is refused
 * because it is not allowed in container image tags.
 */
const TAG =
    /^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?$/;

export function isReleaseTag(value: string): boolean {
    return TAG.test(value);
}

interface Parsed {
    core: [string, string, string];
    pre: string[];
}

function parse(tag: string): Parsed {
    const match = TAG.exec(tag);
    if (!match) throw new Error(`not a release tag: ${tag}`);
    return { core: [match[1], match[2], match[3]], pre: match[4] ? match[4].split(".") : [] };
}

/** Digit strings without leading zeros, compared exactly: `Number` would make v9007199254740993.0.0 equal v9007199254740992.0.0. */
function compareNumbers(a: string, b: string): number {
    if (a.length !== b.length) return a.length - b.length;
    return a < b ? -1 : a > b ? 1 : 0;
}

function compareIdentifiers(a: string, b: string): number {
    const numA = /^\d+$/.test(a);
    const numB = /^\d+$/.test(b);
    if (numA && numB) return compareNumbers(a, b);
    if (numA !== numB) return numA ? -1 : 1;
    return a < b ? -1 : a > b ? 1 : 0;
}

/** SemVer precedence: negative when `a` is older than `b`, 0 when equal, positive when newer. */
export function compareTags(a: string, b: string): number {
    const pa = parse(a);
    const pb = parse(b);
    for (let i = 0; i < 3; i++) {
        const order = compareNumbers(pa.core[i], pb.core[i]);
        if (order !== 0) return order;
    }
    if (pa.pre.length === 0 || pb.pre.length === 0) return pb.pre.length - pa.pre.length;
    for (let i = 0; i < Math.min(pa.pre.length, pb.pre.length); i++) {
        const order = compareIdentifiers(pa.pre[i], pb.pre[i]);
        if (order !== 0) return order;
    }
    return pa.pre.length - pb.pre.length;
}

export function newestTag(tags: readonly string[]): string | undefined {
    return tags.reduce<string | undefined>((best, tag) => (best === undefined || compareTags(tag, best) > 0 ? tag : best), undefined);
}

/** A tag as it may appear in names that refuse dots (ECS services, task families): `v1.5.0` → `v1-5-0`. */
export function tagSlug(tag: string): string {
    return tag.replace(/[^A-Za-z0-9-]/g, "-");
}
