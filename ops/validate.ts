import { isReleaseTag } from "../core/releaseTags";
import { UsageError } from "./command";

/**
 * The values every ops program names a release by. One rule each, so a backup id,
 * a ledger row and a lock key made by different programs always agree.
 */
const APP = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

export function validateApp(app: string): string {
    if (!APP.test(app)) {
        throw new UsageError(
            `\`--app\` must be 1–63 lower-case letters, digits, \`-\` or \`_\`, starting with a letter or digit; got \`${app}\``,
        );
    }
    return app;
}

/** The stack's own rule (`release:version`): an image tag, so no build metadata. */
export function validateVersion(version: string, option = "version"): string {
    if (!isReleaseTag(version)) {
        throw new UsageError(
            `\`--${option}\` must be a release tag \`vMAJOR.MINOR.PATCH\`, optionally with a pre-release suffix such as \`v1.5.0-rc.1\`; got \`${version}\``,
        );
    }
    return version;
}

export function validateDigest(digest: string): string {
    if (!DIGEST.test(digest)) {
        throw new UsageError(`\`--digest\` must be sha256: followed by 64 lower-case hex digits; got \`${digest}\``);
    }
    return digest;
}
