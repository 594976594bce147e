import { sameValue, WireMap } from "./wire";

export interface InputDiff {
    /** Input names whose value changed (or is unknown in a preview), sorted. */
    readonly changed: string[];
    /** The changed inputs that force a replacement, sorted. */
    readonly replaces: string[];
}

/**
 * Upstream's diff (pulumi-go-provider's default for a resource with an update
 * method): every changed input is an update, except the inputs marked
 * `replaceOnChanges`, whose change replaces the resource. `olds` is the stored
 * state, a superset of the old inputs, so only the declared input names are
 * compared; like upstream, `version` and `__`-prefixed keys are the engine's.
 */
export function diffInputs(inputNames: readonly string[], replaceOnChanges: readonly string[], olds: WireMap, news: WireMap): InputDiff {
    const changed = inputNames.filter((name) => !isEngineKey(name) && !sameValue(olds[name] ?? null, news[name] ?? null)).sort();
    return { changed, replaces: changed.filter((name) => replaceOnChanges.includes(name)) };
}

function isEngineKey(name: string): boolean {
    return name === "version" || name.startsWith("__");
}
