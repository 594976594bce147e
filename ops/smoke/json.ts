/** JSON helpers for smoke expectations, captures and `{{var}}` substitution. */

/** A dot path such as `data.items.0.id`; `length` of an array is its size. */
export function valueAtPath(document: unknown, path: string): unknown {
    let current: unknown = document;
    for (const segment of path.split(".")) {
        if (Array.isArray(current)) {
            current = segment === "length" ? current.length : /^\d+$/.test(segment) ? current[Number(segment)] : undefined;
        } else if (typeof current === "object" && current !== null && Object.prototype.hasOwnProperty.call(current, segment)) {
            current = (current as Record<string, unknown>)[segment];
        } else {
            return undefined;
        }
    }
    return current;
}

export function jsonEqual(a: unknown, b: unknown): boolean {
    if (a === b) return true;
    if (Array.isArray(a) || Array.isArray(b)) {
        return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((item, i) => jsonEqual(item, b[i]));
    }
    if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
    const keysA = Object.keys(a);
    const keysB = Object.keys(b);
    return (
        keysA.length === keysB.length &&
        keysA.every(
            (k) =>
                Object.prototype.hasOwnProperty.call(b, k) &&
                jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
        )
    );
}

/** Fills `{{var}}` in every string of a JSON value; `encode` escapes values placed into a URL path. */
export function substitute<T>(value: T, variables: ReadonlyMap<string, string>, encode = false): T {
    if (typeof value === "string") {
        return value.replace(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g, (_, name: string) => {
            const found = variables.get(name);
            if (found === undefined) throw new Error(`\`{{${name}}}\` has not been captured`);
            return encode ? encodeURIComponent(found) : found;
        }) as unknown as T;
    }
    if (Array.isArray(value)) return value.map((item) => substitute(item, variables, encode)) as unknown as T;
    if (typeof value === "object" && value !== null) {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, variables, encode)])) as T;
    }
    return value;
}
