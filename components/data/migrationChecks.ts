import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { stepResource } from "../../core/runbook";
import { migrationKeyFlags } from "./migration";
import { NO_RERUN, OPS } from "./opsCommand";
import { StepRunner, stepCommand, stepDependsOn } from "./stepRunner";

/**
 * Two checks of a forward migration that run while the writers still run, so that a
 * failure stops the update with nothing stopped and the live data untouched.
 */

export interface DriftCheckArgs {
    readonly app: string;
    readonly onDrift: "stop" | "warn";
    readonly migrationsDir?: string;
    readonly databaseUrl: pulumi.Output<string>;
    /** Where `drift` runs. @default the machine running Pulumi */
    readonly runIn?: StepRunner;
}

/**
 * `drift`: the live schema against the one the schema head's migration recorded (or the
 * Prisma migrations replayed). A head migrated before schemas were recorded has no
 * reference: it is said, not failed (the migration this update runs records one).
 */
export class DriftCheck extends pulumi.ComponentResource {
    public readonly run: command.local.Command;

    constructor(name: string, args: DriftCheckArgs, opts: pulumi.ComponentResourceOptions = {}) {
        super(stepResource("check drift").component, name, {}, opts);
        const argv = [
            ...OPS,
            "drift",
            "--app",
            args.app,
            "--on-drift",
            args.onDrift,
            ...(args.migrationsDir !== undefined ? ["--migrations-dir", args.migrationsDir] : []),
            "--without-reference",
            "skip",
        ];
        const environment = { DATABASE_URL: args.databaseUrl };
        this.run = new command.local.Command(
            `${name}${stepResource("check drift").child}`,
            { create: stepCommand(args.runIn, argv, environment), update: NO_RERUN, environment },
            { parent: this, dependsOn: stepDependsOn(opts.dependsOn, args.runIn), additionalSecretOutputs: ["environment"] },
        );
        this.registerOutputs({});
    }
}

export interface RehearsalArgs {
    readonly app: string;
    readonly version: string;
    readonly digest: pulumi.Output<string>;
    /** The migration's own runner (the one-off task): the rehearsal runs exactly what the migration will. */
    readonly runner: pulumi.Output<string[]>;
    readonly databaseUrl: pulumi.Output<string>;
    /** The runner's secret environment (the task's DATABASE_URL among it), as the Migration passes it. */
    readonly environment?: Record<string, pulumi.Output<string>>;
    readonly criticalTables: readonly string[];
    readonly expectChanged: readonly string[];
    readonly migrationsDir?: string;
    readonly lockTimeout: string;
    readonly fixForwardFrom?: string;
    /** The scratch database the runner's task was told in advance (`OneOffTask.scratchDatabase`). */
    readonly scratchDatabase?: string;
    /** Where `rehearse` runs. @default the machine running Pulumi */
    readonly runIn?: StepRunner;
}

/**
 * `rehearse --from-live`: a dump of the live database taken now, while the writers run,
 * restored into a scratch database where the migration runs by the same rules, its
 * ledger rows and the critical tables' row counts checked, then dropped. Its own dump,
 * not the pre-upgrade backup: that one is taken inside the write pause, and a rehearsal
 * there would lengthen the pause by a restore and a migration. Its JSON result carries
 * `migrationSeconds`, the expected length of the write pause.
 */
export class Rehearsal extends pulumi.ComponentResource {
    public readonly run: command.local.Command;
    /** The migration's wall time on the copy, in seconds: what the write pause will about be. */
    public readonly migrationSeconds: pulumi.Output<number | undefined>;

    constructor(name: string, args: RehearsalArgs, opts: pulumi.ComponentResourceOptions = {}) {
        super(stepResource("rehearse").component, name, { version: args.version }, opts);
        const argv = pulumi
            .all([args.digest, args.runner])
            .apply(([digest, runner]) => [
                ...OPS,
                "rehearse",
                "--from-live",
                ...(args.scratchDatabase !== undefined ? ["--scratch-database", args.scratchDatabase] : []),
                ...migrationKeyFlags(args, digest),
                ...(args.criticalTables.length > 0 ? ["--critical-tables", args.criticalTables.join(",")] : []),
                ...(args.expectChanged.length > 0 ? ["--expect-changed", args.expectChanged.join(",")] : []),
                ...(args.migrationsDir !== undefined ? ["--migrations-dir", args.migrationsDir] : []),
                "--",
                ...runner,
            ]);
        const environment = { DATABASE_URL: args.databaseUrl, ...args.environment, SAFE_RELEASE_LEDGER_URL: args.databaseUrl };
        this.run = new command.local.Command(
            `${name}${stepResource("rehearse").child}`,
            {
                create: stepCommand(args.runIn, argv, environment),
                update: NO_RERUN,
                environment,
                triggers: [args.version, args.digest],
            },
            { parent: this, dependsOn: stepDependsOn(opts.dependsOn, args.runIn), additionalSecretOutputs: ["environment"] },
        );
        this.migrationSeconds = this.run.stdout.apply((stdout) => {
            try {
                const seconds = JSON.parse(stdout).migrationSeconds;
                return typeof seconds === "number" ? seconds : undefined;
            } catch {
                return undefined;
            }
        });
        this.registerOutputs({ version: args.version, migrationSeconds: this.migrationSeconds });
    }
}
