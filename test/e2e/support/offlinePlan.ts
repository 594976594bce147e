import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { evaluateTransition } from "../../../plan/evaluate";
import { evaluatedConfig, projectDefaults } from "../../../plan/stackConfig";
import { PROJECT_DIR, PreviewJson, StackConfig } from "./pulumiCli";

/**
 * The offline plan (`npm run plan`) of one update, from the configs of the
 * updates before it, and the engine's `pulumi preview --json` of the same
 * update, both as `created`/`updated`/`deleted` lists of `type::name`, so a
 * test can hold them equal. The engine's replacement counts as an update (the
 * plan does not tell them apart); the stack itself and the engine's default
 * providers, which the program does not declare, are left out.
 */
export interface ChangeSets {
    readonly created: string[];
    readonly updated: string[];
    readonly deleted: string[];
}

/** `history`: the configs applied so far, oldest first; `next`: the one to plan. */
export async function offlinePlan(stack: string, history: StackConfig[], next: StackConfig): Promise<ChangeSets> {
    const defaults = projectDefaults(fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.yaml"), "utf8"));
    const evaluated = (config: StackConfig, label: string) => ({
        config: evaluatedConfig(yaml.dump({ config }), defaults, label),
        label,
    });
    const before = history.at(-1);
    const earlier = history.at(-2);
    const diff = await evaluateTransition({
        stack,
        ...(before !== undefined ? { before: evaluated(before, "the deployed config") } : {}),
        ...(before !== undefined
            ? { earlier: earlier !== undefined ? evaluated(earlier, "the config before it") : ("none" as const) }
            : {}),
        after: evaluated(next, "the new config").config,
    });
    return { created: diff.names("created"), updated: diff.names("updated"), deleted: diff.names("deleted") };
}

export function engineChanges(json: PreviewJson): ChangeSets {
    const sets: Record<keyof ChangeSets, string[]> = { created: [], updated: [], deleted: [] };
    const kinds: Record<string, keyof ChangeSets> = { create: "created", update: "updated", replace: "updated", delete: "deleted" };
    for (const step of json.steps ?? []) {
        const kind = kinds[step.op];
        if (kind === undefined) continue;
        const [type, name] = step.urn.split("::").slice(-2);
        const leaf = type.split("$").pop()!;
        if (leaf === "pulumi:pulumi:Stack" || (leaf.startsWith("pulumi:providers:") && name.startsWith("default"))) continue;
        sets[kind].push(`${leaf}::${name}`);
    }
    return { created: sets.created.sort(), updated: sets.updated.sort(), deleted: sets.deleted.sort() };
}
