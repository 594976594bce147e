import * as crypto from "crypto";
import type { CheckFailure, DiffResult } from "@pulumi/pulumi/provider";
import { DockerEngine } from "./engine";
import { Props } from "./wire";

/** What each resource type of the stand-in does; inputs and outputs arrive and leave without secret wrappers. */
export interface ResourceHandler {
    check(olds: Props, news: Props, resourceName: string): { inputs: Props; failures: CheckFailure[] };
    diff(olds: Props, news: Props): DiffResult;
    create(engine: DockerEngine, inputs: Props): Promise<{ id: string; outs: Props }>;
    /** `undefined` when the object is gone from the engine. */
    read(engine: DockerEngine, id: string, props: Props): Promise<Props | undefined>;
    update(engine: DockerEngine, id: string, olds: Props, news: Props): Promise<Props>;
    delete(engine: DockerEngine, id: string, props: Props): Promise<void>;
}

/**
 * A create that made the object but could not finish (a container that never got
 * healthy). The SDK's server turns `id` and `properties` into the engine's
 * "resource initialization failed", so the object is recorded, not leaked, and
 * the next update replaces it: what the upstream (Terraform) provider does when
 * its create fails after the id is set.
 */
export class InitFailedError extends Error {
    constructor(
        message: string,
        readonly id: string,
        public properties: Props,
    ) {
        super(message);
        this.reasons = [message];
    }
    readonly reasons: string[];
}

export interface DiffRules {
    /** Inputs that change in place; any other changed input replaces. */
    readonly updatable: readonly string[];
    /** Outputs the engine computes; never compared. */
    readonly computed: readonly string[];
    /** Optional inputs the engine fills when absent (Terraform's Optional+Computed): absent in the new inputs is no change. */
    readonly optionalComputed: readonly string[];
    readonly deleteBeforeReplace: boolean;
}

/** Absent, null, `[]` and `{}` are one value, as in the upstream (Terraform) schema. */
function isEmpty(value: unknown): boolean {
    if (value === undefined || value === null) return true;
    if (Array.isArray(value)) return value.length === 0;
    return typeof value === "object" && Object.keys(value as object).length === 0;
}

export function sameValue(a: unknown, b: unknown): boolean {
    if (isEmpty(a) && isEmpty(b)) return true;
    if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => sameValue(v, b[i]));
    if (typeof a === "object" && a !== null && typeof b === "object" && b !== null && !Array.isArray(a) && !Array.isArray(b)) {
        const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
        return [...keys].every((k) => sameValue((a as Props)[k], (b as Props)[k]));
    }
    return a === b;
}

/** Which inputs changed, and whether any of them forces a replacement. */
export function diffInputs(olds: Props, news: Props, rules: DiffRules): DiffResult & { changed: string[] } {
    const keys = [...new Set([...Object.keys(olds), ...Object.keys(news)])].filter((k) => !rules.computed.includes(k)).sort();
    const changed = keys.filter((k) => {
        if (news[k] === undefined && rules.optionalComputed.includes(k)) return false;
        return !sameValue(olds[k], news[k]);
    });
    const replaces = changed.filter((k) => !rules.updatable.includes(k));
    return { changes: changed.length > 0, replaces, deleteBeforeReplace: rules.deleteBeforeReplace && replaces.length > 0, changed };
}

/** Upstream autonames (`SetAutonaming(255, "-")`): the resource name and a random suffix, kept across updates. */
export function autoname(olds: Props, news: Props, resourceName: string): string {
    if (typeof news.name === "string") return news.name;
    if (typeof olds.name === "string") return olds.name;
    return `${resourceName}-${crypto.randomBytes(4).toString("hex").slice(0, 7)}`;
}

/** A failure for every input the stand-in does not implement, so nothing is silently ignored. */
export function unsupportedInputs(news: Props, supported: readonly string[], typeName: string): CheckFailure[] {
    return Object.keys(news)
        .filter((k) => !k.startsWith("__") && news[k] !== undefined && !supported.includes(k))
        .sort()
        .map((k) => ({
            property: k,
            reason: `the stand-in docker provider does not implement \`${k}\` of ${typeName}; it implements ${supported.map((s) => `\`${s}\``).join(", ")}`,
        }));
}

/** `[{label, value}]` → `{label: value}` */
export function labelMap(labels: unknown): Record<string, string> {
    return Object.fromEntries(((labels as Array<{ label: string; value: string }>) ?? []).map((l) => [l.label, l.value]));
}
