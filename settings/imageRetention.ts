import { ConfigError, fail } from "./checks";

/** `release:keepImages` when unset: the runbooks' "retain the last 5 release images". */
export const DEFAULT_KEEP_IMAGES = 5;
/** Far above any useful retention; a typo with extra digits is refused rather than kept forever. */
const MAX_KEEP_IMAGES = 1000;

/**
 * `release:keepImages`: how many of the versions this program released keep their images in
 * an ECR repository (aws-ecs; the lifecycle policy's `countNumber`). At least 2, the version
 * that takes traffic and the one a rollback returns to, and never fewer than the live versions:
 * a smaller count would let ECR expire an image a running version needs to start a task.
 */
export function parseKeepImages(value: unknown, liveVersions: readonly string[]): number {
    if (value === undefined) return Math.max(DEFAULT_KEEP_IMAGES, liveVersions.length);
    const parsed = typeof value === "string" && /^\s*-?\d+(\.\d+)?\s*$/.test(value) ? Number(value) : value;
    if (typeof parsed !== "number" || !Number.isInteger(parsed) || parsed < 2 || parsed > MAX_KEEP_IMAGES) {
        fail(
            "release:keepImages",
            `an integer from 2 to ${MAX_KEEP_IMAGES} (the images of the version that takes traffic and of the one a rollback returns to, at least)`,
            value,
        );
    }
    if (parsed < liveVersions.length) {
        throw new ConfigError(
            `\`release:keepImages\` is ${parsed}, fewer than the ${liveVersions.length} live versions (${liveVersions.join(", ")}): ` +
                `ECR would expire images they run; set it to at least ${liveVersions.length}`,
        );
    }
    return parsed;
}
