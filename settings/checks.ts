/**
 * Small validators shared by the config parsers. Every failure is a `ConfigError`
 * whose message names the key in backticks, says what would be valid and shows
 * what was given, so the operator can fix `Pulumi.<stack>.yaml` without reading code.
 */
import { isPlainObject } from "../core/values";
export class ConfigError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "ConfigError";
    }
}

/** Renders a given value for an error message; long values are cut so a message stays one line. */
export function shown(value: unknown): string {
    const text = value === undefined ? "nothing" : JSON.stringify(value);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

export function fail(key: string, expectation: string, value: unknown): never {
    throw new ConfigError(`\`${key}\` must be ${expectation}; got ${shown(value)}`);
}

export type Plain = Record<string, unknown>;

export const isObject: (value: unknown) => value is Plain = isPlainObject;

export function requireObject(key: string, value: unknown): Plain {
    if (!isObject(value)) fail(key, "an object", value);
    return value;
}

/** Rejects keys a parser does not know, which are nearly always typos that would otherwise be ignored. */
export function rejectUnknownKeys(key: string, value: Plain, known: readonly string[]): void {
    const unknown = Object.keys(value).filter((k) => !known.includes(k));
    if (unknown.length > 0) {
        throw new ConfigError(
            `\`${key}\` has unknown ${unknown.length === 1 ? "key" : "keys"} ${unknown.map((k) => `\`${k}\``).join(", ")}; ` +
                `valid keys are ${known.map((k) => `\`${k}\``).join(", ")}`,
        );
    }
}

export function requireString(key: string, value: unknown): string {
    if (typeof value !== "string" || value.length === 0) fail(key, "a non-empty string", value);
    return value;
}

export function optionalString(key: string, value: unknown): string | undefined {
    return value === undefined ? undefined : requireString(key, value);
}

/** Pulumi config arrives as strings; `"true"`/`"false"` are accepted as booleans. */
export function optionalBoolean(key: string, value: unknown): boolean | undefined {
    if (value === undefined) return undefined;
    if (value === true || value === "true") return true;
    if (value === false || value === "false") return false;
    return fail(key, "true or false", value);
}

/** An integer in [min, max]; numeric strings are accepted because stack config stores scalars as strings. */
export function optionalInteger(key: string, value: unknown, min: number, max: number): number | undefined {
    if (value === undefined) return undefined;
    const parsed = typeof value === "string" && /^-?\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : value;
    if (typeof parsed !== "number" || !Number.isInteger(parsed) || parsed < min || parsed > max) {
        fail(key, `an integer from ${min} to ${max}`, value);
    }
    return parsed;
}

export function optionalStringMap(key: string, value: unknown, keyPattern: RegExp, keyMeaning: string): Record<string, string> {
    if (value === undefined) return {};
    const map = requireObject(key, value);
    for (const [name, entry] of Object.entries(map)) {
        if (!keyPattern.test(name)) fail(`${key}.${name}`, `named as ${keyMeaning}`, name);
        if (typeof entry !== "string") fail(`${key}.${name}`, "a string", entry);
    }
    return map as Record<string, string>;
}

export function optionalStringList(key: string, value: unknown): string[] | undefined {
    if (value === undefined) return undefined;
    if (!Array.isArray(value)) fail(key, "a list of strings", value);
    value.forEach((entry, i) => requireString(`${key}[${i}]`, entry));
    return value as string[];
}
