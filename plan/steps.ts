import { BACKUP_PARTS, RUNBOOK, StepName, stepResource } from "../core/runbook";
import { componentsStopped } from "../components/data/upgradeSteps";
import { ReleaseConfig } from "../settings/release";
import { PlanDiff, canonical } from "./diff";
import { RecordedResource } from "./mockEngine";

export type { StepName } from "../core/runbook";

export interface RunbookStep {
    readonly step: StepName;
    /** Whether this update carries the step out. */
    readonly runs: boolean;
    /** What the step does, or why this update does not run it. */
    readonly detail: string;
}

/** What a stack's outputs say about its release. */
export interface ReleaseState {
    readonly version?: string;
    readonly previous?: string;
    /** Version → percent of traffic. */
    readonly weights: Record<string, number>;
    readonly schemaHead?: string;
}

export interface StepFacts {
    readonly config: ReleaseConfig;
    readonly diff: PlanDiff;
    readonly before: ReleaseState;
    readonly after: ReleaseState;
    /** Version → component → digest as the plan shows it (a looked-up one is marked, not invented). */
    readonly digests: Record<string, Record<string, string>>;
}

const COMMAND = "command:local:Command";

/**
 * The runbook steps and whether this update runs each. A step runs when its
 * resource runs: a command is created, or replaced because its `triggers`
 * changed (an update of anything else runs nothing: `update` is a no-op).
 */
export function runbookSteps(facts: StepFacts): RunbookStep[] {
    const restoring = facts.config.data.restoreFrom !== undefined;
    return RUNBOOK.filter(({ step }) => step !== "restore" || restoring).map(({ step }) => DESCRIBE[step](facts));
}

/** How the plan tells whether each step runs, and what it does; the order is RUNBOOK's. */
const DESCRIBE: Record<StepName, (facts: StepFacts) => RunbookStep> = {
    "record version": recordVersion,
    "check rollback": rollbackCheckStep,
    "check drift": driftStep,
    rehearse: rehearseStep,
    quiesce: (facts) => quiesceStep(facts, "quiesce", "stop"),
    backup: backupStep,
    migrate: migrateStep,
    restore: restoreStep,
    resume: (facts) => quiesceStep(facts, "resume", "start"),
    deploy: deployStep,
    smoke: smokeStep,
    weights: weightsStep,
};

function recordVersion({ before, after }: StepFacts): RunbookStep {
    const changes = [
        ...(before.version !== after.version ? [`${before.version ?? "none"} → ${after.version} (stack output \`version\`)`] : []),
        ...(before.previous !== after.previous
            ? [`previous ${before.previous ?? "none"} → ${after.previous ?? "none"} (stack output \`previous\`)`]
            : []),
    ];
    if (changes.length > 0) return { step: "record version", runs: true, detail: changes.join("; ") };
    return notRun(
        "record version",
        `${liveVersions(after).join(" and ")} ${liveVersions(after).length > 1 ? "are" : "is"} already recorded`,
    );
}

function rollbackCheckStep(facts: StepFacts): RunbookStep {
    const { component, child } = stepResource("check rollback");
    const [check] = stepResources(facts.diff, component, child);
    if (check !== undefined) {
        const target = facts.before.version!;
        const what = /\bhost-check\b/.test(String(check.inputs.create))
            ? `${target}'s release directories still hold what was installed`
            : `${target}'s pinned images are still in their registries`;
        return { step: "check rollback", runs: true, detail: `${what}, before anything changes` };
    }
    if (facts.before.version === undefined) return notRun("check rollback", "a first deploy has no earlier version to return to");
    return notRun("check rollback", `no newer version enters: ${liveVersions(facts.after).join(" and ")} already ran`);
}

function driftStep(facts: StepFacts): RunbookStep {
    const { component, child } = stepResource("check drift");
    if (stepResources(facts.diff, component, child).length > 0) {
        const onDrift = facts.config.data.migrate?.onDrift ?? "warn";
        return {
            step: "check drift",
            runs: true,
            detail: `compare the live schema with the one ${facts.before.schemaHead}'s migration left (${onDrift === "stop" ? "a difference stops the update" : "a difference is listed"})`,
        };
    }
    if (!dataStepsRun(facts) || facts.config.data.restoreFrom !== undefined) return notRun("check drift", noDataWork(facts));
    if (facts.before.schemaHead === undefined) return notRun("check drift", "no migration has run yet: no schema to compare with");
    return notRun("check drift", "no `release:migrate` command is configured");
}

function rehearseStep(facts: StepFacts): RunbookStep {
    const { component, child } = stepResource("rehearse");
    if (stepResources(facts.diff, component, child).length > 0) {
        return {
            step: "rehearse",
            runs: true,
            detail: `${facts.config.data.migrate!.command!.join(" ")} on a copy of the live database first, before any writer stops`,
        };
    }
    if (!dataStepsRun(facts) || facts.config.data.restoreFrom !== undefined) return notRun("rehearse", noDataWork(facts));
    return notRun("rehearse", "`release:migrate.rehearse` is not set");
}

function quiesceStep(facts: StepFacts, step: "quiesce" | "resume", verb: string): RunbookStep {
    const { component, child } = stepResource(step);
    const running = stepResources(facts.diff, component, child);
    const writers = componentsStopped(facts.config);
    const versions = liveVersions(facts.before).filter((v) => v in facts.after.weights);
    if (running.length > 0) return { step, runs: true, detail: `${verb} ${writers.join(", ")} of ${versions.join(" and ")}` };
    if (!dataStepsRun(facts)) return notRun(step, noDataWork(facts));
    if (writers.length === 0) return notRun(step, "`release:migrate.quiesce` names no writers");
    return notRun(step, "no version ran before this update, so no writer is running");
}

/** What each part of a pre-upgrade backup is, in the order the plan lists them. */
const BACKUP_PART_TEXT: Record<keyof typeof BACKUP_PARTS, (resource: RecordedResource, config: ReleaseConfig) => string> = {
    postgres: () => "pg_dump",
    directory: (_r, config) => `archive of ${config.data.backup.directory}`,
    bucket: (_r, config) => `copy of bucket ${config.data.backup.bucket}`,
    kms: (_r, config) => `record of KMS key ${config.data.backup.kmsKeyId}`,
    rds: (r) => `RDS snapshot ${r.inputs.dbSnapshotIdentifier}`,
    aurora: (r) => `Aurora cluster snapshot ${r.inputs.dbClusterSnapshotIdentifier}`,
};

function backupStep(facts: StepFacts): RunbookStep {
    const parts = (Object.keys(BACKUP_PART_TEXT) as Array<keyof typeof BACKUP_PARTS>).flatMap((part) =>
        stepResources(facts.diff, stepResource("backup").component, BACKUP_PARTS[part]).map((r) => BACKUP_PART_TEXT[part](r, facts.config)),
    );
    if (parts.length > 0) return { step: "backup", runs: true, detail: parts.join(" + ") };
    return notRun("backup", noDataWork(facts));
}

function migrateStep(facts: StepFacts): RunbookStep {
    const migrate = facts.config.data.migrate;
    const head = facts.after.schemaHead!;
    if (
        migrate?.command !== undefined &&
        stepResources(facts.diff, stepResource("migrate").component, stepResource("migrate").child).length > 0
    ) {
        const digest = facts.digests[head]?.[migrate.component] ?? "(no image)";
        return { step: "migrate", runs: true, detail: `${migrate.command.join(" ")} as a one-off task of ${migrate.component}@${digest}` };
    }
    if (dataStepsRun(facts) && migrate?.command === undefined) return notRun("migrate", "no `release:migrate` command is configured");
    return notRun("migrate", noDataWork(facts));
}

function restoreStep(facts: StepFacts): RunbookStep {
    const id = facts.config.data.restoreFrom!;
    if (stepResources(facts.diff, stepResource("restore").component, stepResource("restore").child).length > 0) {
        return { step: "restore", runs: true, detail: `restore backup ${id} into a scratch copy, verify it, then swap it in` };
    }
    return notRun("restore", `backup ${id} was restored by an earlier update`);
}

function deployStep({ config, before, after }: StepFacts): RunbookStep {
    const entering = liveVersions(after).filter((v) => !(v in before.weights));
    const retiring = liveVersions(before).filter((v) => !(v in after.weights));
    const retired =
        retiring.length > 0 ? `${retiring.join(" and ")} ${retiring.length > 1 ? "are" : "is"} retired (its resources are deleted)` : "";
    if (entering.length > 0) {
        const services = config.components.map((c) => c.name).join(", ");
        const detail = entering.map((v) => `${v} services ${services}`).join("; ");
        return { step: "deploy", runs: true, detail: retired === "" ? detail : `${detail}; ${retired}` };
    }
    return notRun(
        "deploy",
        retired === "" ? `no version enters: ${liveVersions(after).join(" and ")} already run` : `no version enters; ${retired}`,
    );
}

function smokeStep(facts: StepFacts): RunbookStep {
    const count = facts.config.gates.smoke.length;
    const runs = stepResources(facts.diff, stepResource("smoke").component, stepResource("smoke").child);
    if (runs.length > 0) {
        const checks = `${count} check${count === 1 ? "" : "s"}`;
        return { step: "smoke", runs: true, detail: runs.map((run) => `${checks} against ${targetOf(run)}`).join("; ") };
    }
    if (count === 0) return notRun("smoke", "no `release:smoke` checks are configured");
    const entering = liveVersions(facts.after).filter((v) => !(v in facts.before.weights));
    if (entering.length === 0) return notRun("smoke", "no version enters, and the checks are unchanged");
    return notRun(
        "smoke",
        `${facts.config.platform} gives ${entering.join(" and ")} no endpoint of its own to test before it takes traffic`,
    );
}

function weightsStep({ before, after }: StepFacts): RunbookStep {
    if (canonical(before.weights) !== canonical(after.weights)) return { step: "weights", runs: true, detail: formatWeights(after) };
    return notRun("weights", `the weights stay ${formatWeights(after)}`);
}

/** `v1.5.0 10% / v1.4.2 90%`: the version first, then the previous. */
export function formatWeights(state: ReleaseState): string {
    const live = liveVersions(state);
    return live.length === 0 ? "none" : live.map((v) => `${v} ${state.weights[v]}%`).join(" / ");
}

export function liveVersions(state: ReleaseState): string[] {
    return [state.version, state.previous].filter((v): v is string => v !== undefined);
}

/** True when this update backs up or restores: the data steps around a migration run. */
function dataStepsRun(facts: StepFacts): boolean {
    return (
        stepResources(facts.diff, stepResource("backup").component, "").length > 0 ||
        stepResources(facts.diff, stepResource("restore").component, stepResource("restore").child).length > 0
    );
}

function noDataWork({ config, before, after }: StepFacts): string {
    if (config.data.restoreFrom !== undefined) return `this update restores backup ${config.data.restoreFrom} instead`;
    if (before.schemaHead !== undefined && before.schemaHead === after.schemaHead)
        return `the schema head stays ${after.schemaHead}, so nothing migrates`;
    return "no data is configured (`release:databaseUrl`, `release:backup`)";
}

/**
 * The resources of a step that run in this update: children of components of
 * `componentType` whose name is the component's plus `suffix`. Commands run when
 * created or replaced by a `triggers` change; anything else when created.
 */
function stepResources(diff: PlanDiff, componentType: string, suffix: string): RecordedResource[] {
    const components = [...diff.after.resources.values()].filter((r) => r.type === componentType);
    return components.flatMap((component) =>
        [...diff.after.resources.values()]
            .filter((r) => r.parent === component.urn && r.name.startsWith(component.name) && r.name.endsWith(suffix))
            .filter((r) => runsNow(diff, r))
            .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    );
}

function runsNow(diff: PlanDiff, resource: RecordedResource): boolean {
    const change = diff.changes.get(resource.urn);
    if (change === "created") return true;
    if (change !== "updated" || resource.type !== COMMAND) return false;
    return canonical(diff.before.resources.get(resource.urn)!.inputs.triggers) !== canonical(resource.inputs.triggers);
}

/** The header a smoke run pins its requests with (`--header X-Release-Target:v1.5.0`), as `X-Release-Target: v1.5.0`. */
function targetOf(run: RecordedResource): string {
    const headers = [...String(run.inputs.create ?? "").matchAll(/--header '?([^' ]+)'?/g)].map((m) => m[1].replace(":", ": "));
    return headers.length > 0 ? headers.join(", ") : "its own endpoint";
}

function notRun(step: StepName, why: string): RunbookStep {
    return { step, runs: false, detail: why };
}
