import { ProgramRun, RecordedResource, RunOptions, runProgram } from "./mockEngine";
import { StackConfig } from "./mockProviders";

export type Change = "created" | "updated" | "deleted" | "unchanged";

export interface PlanDiff {
    readonly before: ProgramRun;
    readonly after: ProgramRun;
    /** URN → change, for every resource in either run. */
    readonly changes: Map<string, Change>;
    /** URNs with the given change, sorted. */
    urns(change: Change): string[];
    /** `type::name` of the resources with the given change, sorted; easier to read in assertions than URNs. */
    names(change: Change): string[];
}

/**
 * Evaluates a transition the way `pulumi up` would see it: the old config is
 * deployed (evaluated twice, so it reads its own outputs back like a stack at
 * rest), then the new config is evaluated against those outputs. Each resource
 * is then created, deleted, updated (same URN, other inputs or lifecycle
 * options) or unchanged.
 */
export async function planDiff(
    oldConfig: StackConfig,
    newConfig: StackConfig,
    options: Omit<RunOptions, "config" | "lastOutputs"> = {},
): Promise<PlanDiff> {
    const deployed = await runProgram({ ...options, config: oldConfig });
    const before = await runProgram({ ...options, config: oldConfig, lastOutputs: deployed.outputs });
    const after = await runProgram({ ...options, config: newConfig, lastOutputs: before.outputs });
    return diffRuns(before, after);
}

export function diffRuns(before: ProgramRun, after: ProgramRun): PlanDiff {
    const changes = new Map<string, Change>();
    for (const [urn, resource] of after.resources) {
        const old = before.resources.get(urn);
        changes.set(urn, old === undefined ? "created" : sameDesiredState(old, resource) ? "unchanged" : "updated");
    }
    for (const urn of before.resources.keys()) {
        if (!after.resources.has(urn)) changes.set(urn, "deleted");
    }
    const urns = (change: Change) =>
        [...changes]
            .filter(([, c]) => c === change)
            .map(([urn]) => urn)
            .sort();
    const names = (change: Change) =>
        urns(change)
            .map((urn) => {
                const resource = after.resources.get(urn) ?? before.resources.get(urn)!;
                return `${resource.type}::${resource.name}`;
            })
            .sort();
    return { before, after, changes, urns, names };
}

function sameDesiredState(a: RecordedResource, b: RecordedResource): boolean {
    return canonical(a.inputs) === canonical(b.inputs) && a.protect === b.protect && a.retainOnDelete === b.retainOnDelete;
}

/** JSON with sorted keys, so key order never reads as a change. */
export function canonical(value: unknown): string {
    return JSON.stringify(value, (_key, v) =>
        v !== null && typeof v === "object" && !Array.isArray(v)
            ? Object.fromEntries(
                  Object.keys(v)
                      .sort()
                      .map((k) => [k, v[k]]),
              )
            : v,
    );
}
