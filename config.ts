import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "./settings/checks";
import { RELEASE_KEYS, ReleaseConfig, parseReleaseConfig, referencedSecretKeys } from "./settings/release";

export { ConfigError } from "./settings/checks";
export type { ReleaseConfig } from "./settings/release";

const NAMESPACE = "release:";

/** The validated release config, and the secrets it refers to as Pulumi secrets. */
export interface LoadedConfig {
    readonly release: ReleaseConfig;
    /** `release:<key>` secrets: those named by `secretEnv` `config:<key>` references, `databaseUrl`, `smokeOperatorToken`. */
    readonly secrets: Record<string, pulumi.Output<string>>;
}

/**
 * The one place the stack's config is read. Unknown `release:` keys are refused
 * (a misspelt `canaryWieght` must not silently keep the old weight), and every
 * value is validated before the program registers a single resource.
 */
export function readReleaseConfig(): LoadedConfig {
    const raw = rawReleaseValues(pulumi.runtime.allConfig());
    const allowed = [...RELEASE_KEYS, ...referencedSecretKeys(raw.components)];
    const unknown = Object.keys(raw).filter((key) => !(allowed as string[]).includes(key)).sort();
    if (unknown.length > 0) {
        throw new ConfigError(
            `unknown config ${unknown.map((k) => `\`${NAMESPACE}${k}\``).join(", ")}; ` +
                `valid keys are ${RELEASE_KEYS.map((k) => `\`${NAMESPACE}${k}\``).join(", ")} and the secrets that \`secretEnv\` refers to`,
        );
    }
    const release = parseReleaseConfig(raw);
    const config = new pulumi.Config("release");
    const secrets: Record<string, pulumi.Output<string>> = {};
    const secretKeys = [
        ...referencedSecretKeys(raw.components),
        ...(["databaseUrl", "smokeOperatorToken"] as const).filter((key) => raw[key] !== undefined),
    ];
    for (const key of secretKeys) secrets[key] = config.requireSecret(key);
    return { release, secrets };
}

/**
 * Stack config arrives as strings, with objects and lists as JSON text; this
 * turns the `release:` entries into plain values keyed without the namespace.
 */
export function rawReleaseValues(all: Record<string, string>): Record<string, unknown> {
    const raw: Record<string, unknown> = {};
    for (const [fullKey, text] of Object.entries(all)) {
        if (!fullKey.startsWith(NAMESPACE)) continue;
        const key = fullKey.slice(NAMESPACE.length);
        // Pulumi.yaml gives optional keys an empty default (the CLI has no "optional" type): empty means unset.
        if (text === "") continue;
        // Only the program's own keys hold objects; the secrets `secretEnv` refers to stay text, because a
        // parse error quotes the text it failed on.
        const structured = (RELEASE_KEYS as readonly string[]).includes(key) && /^\s*[[{]/.test(text);
        raw[key] = structured ? parseStructured(fullKey, text, !SECRET_OBJECTS.includes(key)) : text;
    }
    return raw;
}

/** Object keys whose whole value is a secret (`pulumi config set --secret --path release:notify.webhookUrl …`). */
const SECRET_OBJECTS = ["notify", "databaseUrl", "smokeOperatorToken"];

function parseStructured(fullKey: string, text: string, quoteParseError: boolean): unknown {
    try {
        return JSON.parse(text);
    } catch (err) {
        // A parse error quotes the text around the mistake: never for a secret.
        const detail = quoteParseError ? `: ${(err as Error).message}` : " (details withheld: the value is a secret)";
        throw new ConfigError(`\`${fullKey}\` is not a valid object or list${detail}`);
    }
}
