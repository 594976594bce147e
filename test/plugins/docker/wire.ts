/**
 * The engine's property encoding as `toJavaScript()` hands it to a provider that
 * accepts secrets: a secret is an object carrying a signature key, an unknown
 * (preview) value is a sentinel string. Handlers work on plain values; the
 * provider unwraps at the gRPC boundary and wraps again what it returns, because
 * an engine that was told "accepts secrets" no longer re-marks outputs itself.
 */

const SIGNATURE_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIGNATURE = "1b47061264138c4ac30d75fd1eb44270";

/** The engine's stand-in for a value that is not known until an update runs. */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export type Props = Record<string, any>;

function isSecret(value: unknown): value is { value: unknown } {
    return typeof value === "object" && value !== null && (value as Props)[SIGNATURE_KEY] === SECRET_SIGNATURE;
}

/** Removes every secret wrapper, however deep. */
export function reveal(value: unknown): any {
    if (isSecret(value)) return reveal(value.value);
    if (Array.isArray(value)) return value.map(reveal);
    if (typeof value === "object" && value !== null) {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, reveal(v)]));
    }
    return value;
}

function containsSecret(value: unknown): boolean {
    if (isSecret(value)) return true;
    if (Array.isArray(value)) return value.some(containsSecret);
    if (typeof value === "object" && value !== null) return Object.values(value).some(containsSecret);
    return false;
}

/** Top-level keys whose value is, or holds, a secret. */
export function secretKeys(...propSets: Array<Props | undefined>): Set<string> {
    const keys = new Set<string>();
    for (const props of propSets) {
        for (const [key, value] of Object.entries(props ?? {})) if (containsSecret(value)) keys.add(key);
    }
    return keys;
}

export function secret(value: unknown): Props {
    return { [SIGNATURE_KEY]: SECRET_SIGNATURE, value };
}

/** Wraps the given top-level keys whole: a property that held a secret anywhere is secret as a whole. */
export function conceal(props: Props, keys: Set<string>): Props {
    return Object.fromEntries(Object.entries(props).map(([k, v]) => [k, keys.has(k) && v !== undefined ? secret(v) : v]));
}

export function containsUnknown(value: unknown): boolean {
    if (value === UNKNOWN) return true;
    if (Array.isArray(value)) return value.some(containsUnknown);
    if (typeof value === "object" && value !== null) return Object.values(value).some(containsUnknown);
    return false;
}

/** `urn:pulumi:stack::project::type::name` → `name`. */
export function resourceName(urn: string): string {
    return urn.slice(urn.lastIndexOf("::") + 2);
}

/** `urn:pulumi:stack::project::parent$type::name` → `type`. */
export function resourceType(urn: string): string {
    const qualified = urn.split("::")[2] ?? "";
    return qualified.slice(qualified.lastIndexOf("$") + 1);
}
