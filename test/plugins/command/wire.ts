/**
 * Property values as the Node.js provider server hands them over: plain JSON
 * in which the engine's secrets arrive wrapped (the server accepts secrets) and,
 * while previewing, unknown values arrive as a sentinel string. Outputs keep the
 * wrappers of the inputs they mirror, so what was secret stays secret in state.
 */

export const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export type WireValue = unknown;
export type WireMap = Record<string, WireValue>;

export function isSecret(value: WireValue): value is { value: WireValue } {
    return isObject(value) && value[SECRET_SIG_KEY] === SECRET_SIG;
}

export function secret(value: WireValue): WireValue {
    return { [SECRET_SIG_KEY]: SECRET_SIG, value };
}

export function isUnknown(value: WireValue): boolean {
    return value === UNKNOWN;
}

export function containsUnknown(value: WireValue): boolean {
    if (isUnknown(value)) return true;
    if (Array.isArray(value)) return value.some(containsUnknown);
    if (isObject(value)) return Object.values(value).some(containsUnknown);
    return false;
}

/** The value with every secret wrapper removed, at any depth: what a command gets to see. */
export function reveal(value: WireValue): WireValue {
    if (isSecret(value)) return reveal(value.value);
    if (Array.isArray(value)) return value.map(reveal);
    if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, reveal(v)]));
    return value;
}

/** Every non-empty string (or number) under a secret wrapper: the values to keep out of logs and messages. */
export function secretStrings(value: WireValue, insideSecret = false): string[] {
    const found = new Set<string>();
    const walk = (v: WireValue, inside: boolean): void => {
        if (isSecret(v)) return walk(v.value, true);
        if (typeof v === "string" && inside && v !== "") found.add(v);
        else if (typeof v === "number" && inside) found.add(String(v));
        else if (Array.isArray(v)) v.forEach((e) => walk(e, inside));
        else if (isObject(v)) Object.values(v).forEach((e) => walk(e, inside));
    };
    walk(value, insideSecret);
    return [...found];
}

/**
 * Deep equality of revealed values, where an object key holding null equals a
 * missing key (as in the engine's property diff). Secretness is not compared: the
 * old side is the stored state, which `additionalSecretOutputs` may have wrapped
 * where the program's inputs are plain.
 */
export function sameValue(a: WireValue, b: WireValue): boolean {
    const x = reveal(a);
    const y = reveal(b);
    if (Array.isArray(x) || Array.isArray(y)) {
        return Array.isArray(x) && Array.isArray(y) && x.length === y.length && x.every((e, i) => sameValue(e, y[i]));
    }
    if (isObject(x) || isObject(y)) {
        if (!isObject(x) || !isObject(y)) return false;
        const keys = new Set([...Object.keys(x), ...Object.keys(y)]);
        return [...keys].every((k) => sameValue(x[k] ?? null, y[k] ?? null));
    }
    return (x ?? null) === (y ?? null);
}

export function isObject(value: WireValue): value is WireMap {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}
