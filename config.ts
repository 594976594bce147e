import * as pulumi from "@pulumi/pulumi";
import { checkHostMachine, localMachine } from "./components/host/machineChecks";
import { ConfigError } from "./settings/checks";
import { checkHostKeySecret, hostSecretKeys } from "./settings/hostRemote";
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
/**
 * The offline plan evaluates the program where the stack's machine is not, so it
 * turns the host platform's checks of that machine off (the engine's preview
 * runs them).
 */
let machineChecks = true;
export function skipMachineChecks(): void {
    machineChecks = false;
}

export function readReleaseConfig(): LoadedConfig {
    const raw = rawReleaseValues(pulumi.runtime.allConfig());
    const allowed = [...RELEASE_KEYS, ...referencedSecretKeys(raw.components), ...hostSecretKeys(raw.host)];
    const unknown = Object.keys(raw)
        .filter((key) => !(allowed as string[]).includes(key))
        .sort();
    if (unknown.length > 0) {
        const named = unknown.map((key) => {
            const near = closestKey(key, allowed);
            return `\`${NAMESPACE}${key}\`${near !== undefined ? ` (did you mean \`${NAMESPACE}${near}\`?)` : ""}`;
        });
        throw new ConfigError(
            `unknown config ${named.join(", ")}; Pulumi.yaml lists the valid keys, ` +
                "and a secret a component's `secretEnv` names as `config:<key>` is valid too",
        );
    }
    const release = parseReleaseConfig(raw);
    checkHostKeySecret(
        release.host,
        (key) => raw[key] !== undefined,
        (key) => isConfigSecret(`${NAMESPACE}${key}`),
    );
    // The host platform's checks need the machine (tools, root, ports, artifacts); they too come before any resource.
    if (release.platform === "host" && machineChecks) {
        const note = checkHostMachine(release, localMachine());
        if (note !== undefined) void pulumi.log.info(note);
    }
    const config = new pulumi.Config("release");
    const secrets: Record<string, pulumi.Output<string>> = {};
    const secretKeys = [
        ...referencedSecretKeys(raw.components),
        ...hostSecretKeys(raw.host),
        ...(["databaseUrl", "smokeOperatorToken"] as const).filter((key) => raw[key] !== undefined),
    ];
    for (const key of secretKeys) secrets[key] = config.requireSecret(key);
    return { release, secrets };
}

/** Whether the stack holds the key as a secret: the SDK's own test, which it marks internal (the SDK is pinned exactly). */
function isConfigSecret(fullKey: string): boolean {
    const sdkConfig = require("@pulumi/pulumi/runtime/config") as { isConfigSecret(key: string): boolean };
    return sdkConfig.isConfigSecret(fullKey);
}

/** The known key a typo most likely meant: at most two edits away, ignoring case. */
export function closestKey(key: string, known: readonly string[]): string | undefined {
    let best: { key: string; distance: number } | undefined;
    for (const candidate of known) {
        const distance = editDistance(key.toLowerCase(), candidate.toLowerCase());
        if (distance <= 2 && (best === undefined || distance < best.distance)) best = { key: candidate, distance };
    }
    return best?.key;
}

/** Levenshtein distance, with a transposition counted as one edit (`Wieght` → `Weight`). */
function editDistance(a: string, b: string): number {
    const d = Array.from({ length: a.length + 1 }, (_, i) =>
        Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
    );
    for (let i = 1; i <= a.length; i++) {
        for (let j = 1; j <= b.length; j++) {
            d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
            if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
        }
    }
    return d[a.length][b.length];
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
