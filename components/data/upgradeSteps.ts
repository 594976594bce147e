import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { BackupSettings } from "../../settings/data";
import { ConfigError } from "../../settings/checks";
import { ReleaseConfig } from "../../settings/release";
import { PinnedImage } from "../pinnedImage";
import { ReleasePlan } from "../plan";
import { PlatformAdapter } from "../platform";
import { Migration } from "./migration";
import { DriftCheck, Rehearsal } from "./migrationChecks";
import { NO_RERUN, OPS } from "./opsCommand";
import { Preflight } from "./preflight";
import { ListedBackup, PreUpgradeBackup, storeFlags } from "./preUpgradeBackup";
import { Quiesce } from "./quiesce";
import { Restore, RestoreArgs } from "./restore";
import { StepRunner, runsIn, stepCommand, stepDependsOn } from "./stepRunner";

export interface DataStepsArgs {
    readonly config: ReleaseConfig;
    readonly plan: ReleasePlan;
    readonly platform: PlatformAdapter;
    /** Version → component → pinned image. */
    readonly images: Record<string, Record<string, PinnedImage>>;
    readonly databaseUrl?: pulumi.Output<string>;
    /** Versions running before this update: their writers are the ones to stop. */
    readonly running: string[];
    /** What must pass before any data step runs (the rollback target's check). */
    readonly after?: pulumi.Resource[];
}

export interface DataSteps {
    /** The services of this update start after these. */
    readonly ready: pulumi.Resource[];
    /** Records of the backup this update keeps (the schema head's). */
    readonly backups: pulumi.Output<ListedBackup[]>;
    /** The rehearsed migration's wall time on the copy, in seconds: the expected length of the write pause. */
    readonly rehearsedMigrationSeconds?: pulumi.Output<number | undefined>;
}

/**
 * The data side of an update, in the runbooks' mandatory order. A forward
 * upgrade: preflight → quiesce writers → back up → migrate once → resume
 * writers. A restore: stop every component → restore and verify → start. Everything
 * here is keyed by the schema head (or the backup id), so later updates —
 * traffic shifts, rollbacks, retirements — leave it untouched.
 */
/**
 * The components an update's data steps stop: the writers (`release:migrate.quiesce`)
 * around a backup and migration; every component around a restore, which puts the data
 * back under all that read it (a program holding it open or in memory would serve, or
 * write back, what was replaced).
 */
export function componentsStopped(config: ReleaseConfig): string[] {
    return config.data.restoreFrom !== undefined ? config.components.map((c) => c.name) : (config.data.migrate?.quiesce ?? []);
}

/** Where a snapshot restore goes: the instance or cluster the stack names, which a restore must not guess. */
function snapshotTarget(config: ReleaseConfig, plan: ReleasePlan): { snapshot?: NonNullable<RestoreArgs["snapshot"]> } {
    const kind = plan.restoreKind;
    if (kind !== "rds-snapshot" && kind !== "aurora-snapshot") return {};
    const field = kind === "rds-snapshot" ? "rdsInstance" : "auroraCluster";
    const target = config.data.database?.[field];
    if (target === undefined) {
        throw new ConfigError(
            `\`release:restoreFrom\` names ${config.data.restoreFrom}, an ${kind} backup, but \`release:database.${field}\` is not set: ` +
                `set it to the ${kind === "rds-snapshot" ? "instance" : "cluster"} the snapshot replaces`,
        );
    }
    return { snapshot: { kind, target } };
}

export function dataSteps(name: string, args: DataStepsArgs, parent: pulumi.Resource): DataSteps {
    const { config, plan } = args;
    const { data } = config;
    const writers = componentsStopped(config);
    // Every running version's writers stop, even one this update retires (its services go only at the end of
    // the update); only the versions that stay live start again, so none writes to a schema it does not know.
    const staying = args.running.filter((v) => plan.live.some((l) => l.version === v));
    const start = staying.length > 0 ? args.platform.writerControl(staying, writers).start : undefined;
    const quiesce = (key: string, dependsOn: pulumi.Resource[]) => {
        if (writers.length === 0 || args.running.length === 0) return undefined;
        const control = args.platform.writerControl(args.running, writers);
        return new Quiesce(
            `${name}-quiesce-${key}`,
            {
                components: writers,
                stop: control.stop,
                ...(start !== undefined ? { start } : {}),
                ...(control.environment !== undefined ? { environment: control.environment } : {}),
            },
            { parent, dependsOn },
        );
    };

    if (data.restoreFrom !== undefined) {
        const stop = quiesce(data.restoreFrom, []);
        const restore = new Restore(
            `${name}-restore-${data.restoreFrom}`,
            {
                backupId: data.restoreFrom,
                store: data.backup.store,
                ...(args.databaseUrl !== undefined ? { databaseUrl: args.databaseUrl } : {}),
                ...(args.platform.remoteData !== undefined ? { remoteData: args.platform.remoteData } : {}),
                ...snapshotTarget(config, plan),
                ...runsIn(args.platform),
            },
            { parent, dependsOn: stop !== undefined ? [stop.stopped] : [] },
        );
        return { ready: [stop?.resumeAfter([restore]) ?? restore], backups: pulumi.output([]) };
    }
    if (!plan.migrates || !hasDataWork(config, args.databaseUrl)) return { ready: [], backups: pulumi.output([]) };

    const head = plan.schemaHead.after;
    const preflight = new Preflight(
        `${name}-preflight-${head}`,
        {
            app: config.app,
            version: head,
            ...(data.database !== undefined ? { database: data.database } : {}),
            ...(args.databaseUrl !== undefined ? { databaseUrl: args.databaseUrl } : {}),
            allowDestructive: data.migrate?.allowDestructive.includes(head) ?? false,
            ...(data.backup.kmsKeyId !== undefined ? { kmsKeyId: data.backup.kmsKeyId } : {}),
            ...(writesToStore(config, args.databaseUrl) ? { store: data.backup.store } : {}),
            ...runsIn(args.platform),
        },
        { parent, dependsOn: args.after ?? [] },
    );
    const checks = migrationChecks(name, args, head, [preflight], parent);
    const checked = [preflight, ...checks.runs];

    // Backing up after the writers stop is what makes a restore lose nothing; `beforeQuiesce` trades that for a shorter pause.
    const beforeQuiesce = data.backup.beforeQuiesce && writers.length > 0;
    if (beforeQuiesce) {
        void pulumi.log.warn(
            `\`release:backup.beforeQuiesce\` is true: the backup of ${head} is taken before ${writers.join(", ")} stop, ` +
                "so writes between the backup and the migration would be lost on a restore",
            parent,
        );
    }
    const early = beforeQuiesce ? undefined : quiesce(head, checked);
    const backup = new PreUpgradeBackup(
        `${name}-backup-${head}`,
        {
            app: config.app,
            version: head,
            ...(plan.schemaHead.before !== undefined ? { schemaHead: plan.schemaHead.before } : {}),
            backup: data.backup,
            ...(data.database !== undefined ? { database: data.database } : {}),
            ...(args.databaseUrl !== undefined ? { databaseUrl: args.databaseUrl } : {}),
            quiesced: early !== undefined,
            ...(args.platform.remoteData !== undefined ? { remoteData: args.platform.remoteData } : {}),
            ...runsIn(args.platform),
        },
        { parent, dependsOn: early !== undefined ? [early.stopped] : checked },
    );
    const stop = early ?? (beforeQuiesce ? quiesce(head, [backup]) : undefined);

    let last: pulumi.Resource = backup;
    if (data.migrate?.command !== undefined && args.databaseUrl !== undefined) {
        const image = args.images[head][data.migrate.component];
        const task = args.platform.oneOffTask(head, data.migrate.component, image.ref, data.migrate.command);
        last = new Migration(
            `${name}-migrate-${head}`,
            {
                app: config.app,
                version: head,
                digest: image.digest,
                runner: task.argv,
                databaseUrl: args.databaseUrl,
                lockTimeout: data.migrate.lockTimeout,
                ...(data.migrate.fixForwardFrom !== undefined ? { fixForwardFrom: data.migrate.fixForwardFrom } : {}),
                stoppedWriters: stop !== undefined ? writers : [],
                ...(task.environment !== undefined ? { environment: task.environment } : {}),
                ...runsIn(args.platform),
            },
            { parent, dependsOn: [backup, ...(stop !== undefined ? [stop.stopped] : []), ...task.needs] },
        );
    }
    const ready = stop?.resumeAfter([last]) ?? last;
    pruneBackups(`${name}-prune-${head}`, data.backup, backup.records, ready, parent, args.platform.stepRunner);
    return {
        ready: [ready],
        backups: backup.records,
        ...(checks.rehearsal !== undefined ? { rehearsedMigrationSeconds: checks.rehearsal.migrationSeconds } : {}),
    };
}

/**
 * The checks of a migration that run before any writer stops: the live schema against the
 * head's (not on a first deploy: no migration has run), and the rehearsal on a copy.
 */
function migrationChecks(
    name: string,
    args: DataStepsArgs,
    head: string,
    after: pulumi.Resource[],
    parent: pulumi.Resource,
): { runs: pulumi.Resource[]; rehearsal?: Rehearsal } {
    const { config, plan, databaseUrl } = args;
    const { migrate, database } = config.data;
    if (migrate?.command === undefined || databaseUrl === undefined) return { runs: [] };
    const checks: pulumi.Resource[] = [];
    if (plan.schemaHead.before !== undefined) {
        const drift = new DriftCheck(
            `${name}-drift-${head}`,
            {
                app: config.app,
                onDrift: migrate.onDrift,
                ...(database?.ledger === "prisma" && database.migrationsDir !== undefined ? { migrationsDir: database.migrationsDir } : {}),
                databaseUrl,
                ...runsIn(args.platform),
            },
            { parent, dependsOn: after },
        );
        checks.push(drift.run);
    }
    if (migrate.rehearse) {
        const image = args.images[head][migrate.component];
        const task = args.platform.oneOffTask(head, migrate.component, image.ref, migrate.command, "rehearsal");
        const rehearsal = new Rehearsal(
            `${name}-rehearse-${head}`,
            {
                app: config.app,
                version: head,
                digest: image.digest,
                runner: task.argv,
                databaseUrl,
                ...(task.environment !== undefined ? { environment: task.environment } : {}),
                criticalTables: database?.criticalTables ?? [],
                expectChanged: migrate.expectChanged,
                ...(database?.migrationsDir !== undefined ? { migrationsDir: database.migrationsDir } : {}),
                lockTimeout: migrate.lockTimeout,
                ...(migrate.fixForwardFrom !== undefined ? { fixForwardFrom: migrate.fixForwardFrom } : {}),
                ...(task.scratchDatabase !== undefined ? { scratchDatabase: task.scratchDatabase } : {}),
                ...runsIn(args.platform),
            },
            // After the drift check: a rehearsal on a drifted schema would only rehearse on the drift.
            { parent, dependsOn: [...after, ...checks, ...task.needs] },
        );
        return { runs: [...checks, rehearsal.run], rehearsal };
    }
    return { runs: checks };
}

/** Snapshots live in RDS, not in the backup log; everything else the log records. */
const LOGGED_KINDS = ["postgres", "directory", "bucket", "kms"];

/**
 * Retention, once the upgrade has succeeded: the newest `keep` backups and all
 * younger than `retentionDays` stay, and so does this update's backup, which is
 * the schema head's and what a restore needs.
 */
function pruneBackups(
    name: string,
    settings: BackupSettings,
    records: pulumi.Output<ListedBackup[]>,
    after: pulumi.Resource,
    parent: pulumi.Resource,
    runIn: StepRunner | undefined,
): void {
    const argv = records.apply((fresh) => {
        const logged = fresh.filter((r) => LOGGED_KINDS.includes(r.kind));
        return [
            ...OPS,
            "prune",
            ...storeFlags(settings.store, "read"),
            "--keep",
            String(settings.keep),
            "--retention-days",
            String(settings.retentionDays),
            ...asOfArgs(logged),
            ...protectArgs(logged.map((r) => r.id)),
        ];
    });
    new command.local.Command(
        name,
        { create: stepCommand(runIn, argv), update: NO_RERUN },
        { parent, dependsOn: stepDependsOn([after], runIn) },
    );
}

/**
 * Ages are measured from this update's newest backup, the clock the `backups`
 * output is cut with (components/backupListing.ts): a record that ages past the
 * retention while the update runs is then neither deleted nor listed differently.
 */
function asOfArgs(logged: ListedBackup[]): string[] {
    const times = logged.map((r) => Date.parse(String(r.time))).filter(Number.isFinite);
    return times.length > 0 ? ["--as-of", new Date(Math.max(...times)).toISOString()] : [];
}

function protectArgs(ids: string[]): string[] {
    return ids.length > 0 ? ["--protect", ids.join(",")] : [];
}

/** A pg_dump, a directory archive, a bucket copy or a key record: each writes its artifact or record to the store. */
function writesToStore(config: ReleaseConfig, databaseUrl: pulumi.Output<string> | undefined): boolean {
    const { backup } = config.data;
    return databaseUrl !== undefined || backup.directory !== undefined || backup.bucket !== undefined || backup.kmsKeyId !== undefined;
}

function hasDataWork(config: ReleaseConfig, databaseUrl: pulumi.Output<string> | undefined): boolean {
    const { backup, database, migrate } = config.data;
    return (
        databaseUrl !== undefined ||
        migrate !== undefined ||
        database?.rdsInstance !== undefined ||
        database?.auroraCluster !== undefined ||
        backup.directory !== undefined ||
        backup.bucket !== undefined ||
        backup.kmsKeyId !== undefined
    );
}
