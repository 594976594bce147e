import { createHash } from "crypto";
import { tagSlug } from "../core/releaseTags";

/**
 * Names that AWS sees. They are deterministic (the same config always names the
 * same things, so a preview is reviewable) and keyed by version, so each live
 * version owns its resources.
 */

function shortHash(text: string, length: number): string {
    return createHash("sha256").update(text).digest("hex").slice(0, length);
}

/** Fits `parts` joined by `-` into `max` characters, keeping it unique with a hash when it must be cut. */
export function boundedName(parts: string[], max: number): string {
    const full = parts.join("-");
    if (full.length <= max) return full;
    const hash = shortHash(full, 8);
    return `${full.slice(0, max - hash.length - 1).replace(/-+$/, "")}-${hash}`;
}

/** ECS service and task family names refuse dots: `shop-api-v1-5-0`. */
export function versionedName(app: string, component: string, version: string): string {
    return boundedName([app, component, tagSlug(version)], 255);
}

/** Target group names are at most 32 characters of letters, digits and `-`. */
export function targetGroupName(app: string, component: string, version: string): string {
    return boundedName([app, component, tagSlug(version)], 32);
}

/**
 * Priority of a version's test-listener rule: a pure function of version and
 * component, so it never changes while the version is live (a rollback must not
 * touch these rules). Two live versions collide with a chance of 1 in 49 999;
 * `testRulePriorities` refuses that case rather than let AWS fail halfway.
 */
export function testRulePriority(component: string, version: string): number {
    return 1 + (parseInt(shortHash(`${component}@${version}`, 8), 16) % 49999);
}
