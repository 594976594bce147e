import { UnknownValueError } from "@pulumi/policy";

/**
 * Stands for an input the engine cannot know yet. During `pulumi preview` a computed
 * input (an image digest from a registry lookup, a security group id) is unknown and
 * the SDK's props proxy throws on reading it; the same resource is analysed again with
 * known values during `pulumi up`, so a rule skips what it cannot see instead of
 * letting one unknown field hide every other field of the resource.
 */
export const UNKNOWN: unique symbol = Symbol("unknown");

/** Reads `container[key]`, returning `UNKNOWN` for a preview-time unknown and `undefined` for a non-object container. */
export function readKnown(container: unknown, key: string | number): unknown {
    if (container === null || typeof container !== "object") {
        return undefined;
    }
    try {
        return (container as Record<string | number, unknown>)[key];
    } catch (err) {
        if (err instanceof UnknownValueError) {
            return UNKNOWN;
        }
        throw err;
    }
}

/** The elements of an array-valued input, each read with `readKnown`; `[]` for anything that is not an array. */
export function readKnownList(value: unknown): unknown[] {
    if (!Array.isArray(value)) {
        return [];
    }
    const items: unknown[] = [];
    for (let index = 0; index < value.length; index++) {
        items.push(readKnown(value, index));
    }
    return items;
}

/** How a resource is named in violation messages: its type token and its name. */
export function describeResource(type: string, name: string): string {
    return `${type} \`${name}\``;
}

/** A plain (non-secret) value as messages quote it; `nothing` when the input is absent. */
export function quote(value: unknown): string {
    if (value === undefined) {
        return "nothing";
    }
    const text = typeof value === "string" ? value : JSON.stringify(value);
    return `\`${text}\``;
}
