import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { NO_RERUN, OPS } from "./opsCommand";
import { stepResource } from "../../core/runbook";
import { parseDuration } from "../../core/duration";
import { StepRunner, stepCommand, stepDependsOn } from "./stepRunner";

export interface MigrationArgs {
    readonly app: string;
    /** The new schema head. */
    readonly version: string;
    /** Digest of the image that migrates; a different digest for the same version is a different migration. */
    readonly digest: pulumi.Output<string>;
    /** Runs the migration command once as a one-off task and exits with its exit code. */
    readonly runner: pulumi.Output<string[]>;
    readonly databaseUrl: pulumi.Output<string>;
    readonly lockTimeout: string;
    /** The failed version this migration fixes forward (`release:migrate.fixForwardFrom`). */
    readonly fixForwardFrom?: string;
    /** The components the release stopped for the migration: a failure leaves them stopped, and says so. */
    readonly stoppedWriters: readonly string[];
    /** Secret variables the runner passes to the task by name (`OneOffTask.environment`). */
    readonly environment?: Record<string, pulumi.Output<string>>;
    /** Where `migrate` (the lock and the ledger) runs; the one-off task it starts is `runner`. @default the machine running Pulumi */
    readonly runIn?: StepRunner;
}

/** What names a migration and how it waits, as `migrate` and `rehearse` both take it. */
export function migrationKeyFlags(
    args: Pick<MigrationArgs, "app" | "version" | "lockTimeout" | "fixForwardFrom">,
    digest: string,
): string[] {
    return [
        "--app",
        args.app,
        "--version",
        args.version,
        "--digest",
        digest,
        "--lock-timeout",
        args.lockTimeout,
        ...(args.fixForwardFrom !== undefined ? ["--fix-forward-from", args.fixForwardFrom] : []),
    ];
}

/** How much longer than one step `migrate` may take where it is bounded: its lock wait, then its one-off task (bounded as a step). */
function migrationWaitMs(lockTimeout: string, runIn: StepRunner | undefined): number | undefined {
    if (runIn?.stepTimeoutMs === undefined) return undefined;
    return parseDuration(lockTimeout, "release:migrate.lockTimeout") + runIn.stepTimeoutMs;
}

/**
 * The migration of one schema head, run exactly once: `safe-release-ops migrate`
 * takes a PostgreSQL advisory lock (two concurrent `pulumi up`s cannot both
 * migrate), checks the ledger (a migration that succeeded runs nothing; a failed
 * one is never retried blindly), then runs the one-off task and records the
 * outcome. Re-running `pulumi up` after success changes nothing here.
 */
export class Migration extends pulumi.ComponentResource {
    public readonly run: command.local.Command;

    constructor(name: string, args: MigrationArgs, opts: pulumi.ComponentResourceOptions = {}) {
        // The version is a registered property too, so the policy pack sees it at preview (`migration-after-backup`).
        super(stepResource("migrate").component, name, { version: args.version }, opts);
        const argv = pulumi
            .all([args.digest, args.runner])
            .apply(([digest, runner]) => [
                ...OPS,
                "migrate",
                ...migrationKeyFlags(args, digest),
                "--stopped-writers",
                args.stoppedWriters.join(","),
                "--",
                ...runner,
            ]);
        // The ledger's connection is the operator's; the task's own DATABASE_URL (a container's
        // view of the same database, say) reaches the migration untouched.
        const environment = { DATABASE_URL: args.databaseUrl, ...args.environment, SAFE_RELEASE_LEDGER_URL: args.databaseUrl };
        this.run = new command.local.Command(
            `${name}${stepResource("migrate").child}`,
            {
                // Run elsewhere, `migrate` waits for the lock and then for the one-off task, each bounded: its own bound adds both.
                create: stepCommand(args.runIn, argv, environment, migrationWaitMs(args.lockTimeout, args.runIn)),
                update: NO_RERUN,
                environment,
                triggers: [args.version, args.digest],
            },
            { parent: this, dependsOn: stepDependsOn(opts.dependsOn, args.runIn), additionalSecretOutputs: ["environment"] },
        );
        this.registerOutputs({ version: args.version, digest: args.digest });
    }
}
