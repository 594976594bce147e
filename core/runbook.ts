/**
 * The runbooks' steps of an update, in their mandatory order, declared once:
 * the data components register their resources under these types and child
 * names, the offline plan prints the steps in this order and finds what each
 * one runs by the same names. A renamed child changes this list, and both
 * follow; a component that stops using it fails `test/plan/runbook.test.ts`.
 */
export const RUNBOOK = [
    { step: "record version" },
    { step: "check rollback", component: "safe-release:data:RollbackCheck", child: "-run" },
    { step: "check drift", component: "safe-release:data:DriftCheck", child: "-run" },
    { step: "rehearse", component: "safe-release:data:Rehearsal", child: "-run" },
    { step: "quiesce", component: "safe-release:data:Quiesce", child: "-stop" },
    { step: "backup", component: "safe-release:data:PreUpgradeBackup" },
    { step: "migrate", component: "safe-release:data:Migration", child: "-run" },
    { step: "restore", component: "safe-release:data:Restore", child: "-run" },
    { step: "resume", component: "safe-release:data:Quiesce", child: "-resume" },
    { step: "deploy" },
    { step: "smoke", component: "safe-release:gates:SmokeTest", child: "-run" },
    { step: "weights" },
] as const;

export type StepName = (typeof RUNBOOK)[number]["step"];

type Declared = Extract<(typeof RUNBOOK)[number], { component: string }>;

/** The component type and child suffix of a step that runs resources of its own. */
export function stepResource<S extends Declared["step"]>(step: S): Extract<Declared, { step: S }> {
    return RUNBOOK.find((s) => s.step === step) as Extract<Declared, { step: S }>;
}

/** The parts of a pre-upgrade backup, by the suffix of their resource's name after the backup's. */
export const BACKUP_PARTS = {
    postgres: "-pg-dump",
    directory: "-directory",
    bucket: "-bucket",
    kms: "-kms",
    rds: "-rds",
    aurora: "-aurora",
} as const;

/** The component type of a release's preflight checks, which run before any step above and belong to none. */
export const PREFLIGHT_COMPONENT = "safe-release:data:Preflight";
