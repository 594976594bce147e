import { awsSdk } from "../awsSdk";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { BackupSettings, BackupStore, DatabaseSettings } from "../../settings/data";
import { tagSlug } from "../../core/releaseTags";
import { NO_RERUN, OPS, parseOpsResult } from "./opsCommand";
import { BACKUP_PARTS, stepResource } from "../../core/runbook";
import { RemoteDataAccess } from "../platform";
import { StepRunner, stepCommand, stepDependsOn } from "./stepRunner";

export interface PreUpgradeBackupArgs {
    readonly app: string;
    /** The version about to migrate: the backup holds the data just before its migration. */
    readonly version: string;
    /** The schema head the backup holds (absent on a first deploy). */
    readonly schemaHead?: string;
    readonly backup: BackupSettings;
    readonly database?: DatabaseSettings;
    readonly databaseUrl?: pulumi.Output<string>;
    /** Writers are stopped when the backup runs, so a directory copy is consistent. */
    readonly quiesced: boolean;
    /** The data directory is on a remote host: archived from there over SSH (`host-archive`), into the store from here. */
    readonly remoteData?: RemoteDataAccess;
    /** Where the pg_dump runs (the others call AWS APIs or read this machine's directory, here). @default the machine running Pulumi */
    readonly runIn?: StepRunner;
}

/**
 * How an ops step names the backup store: `--store <dir | s3://bucket/prefix>`, with the
 * SSE key for a step that writes to S3. A directory store whose log sits elsewhere
 * (`release:backup.log`) keeps the older `--dir`/`--log` (a reader needs only the log),
 * since `--store` names a directory with its log inside.
 */
export function storeFlags(store: BackupStore, use: "write" | "read"): string[] {
    if (store.kind === "s3") {
        const sse = use === "write" && store.sseKmsKeyId !== undefined ? ["--sse-kms-key", store.sseKmsKeyId] : [];
        return ["--store", store.location, ...sse];
    }
    if (store.log === `${store.location}/backups.log`) return ["--store", store.location];
    return use === "write" ? ["--dir", store.location, "--log", store.log] : ["--log", store.log];
}

/** What the `backups` stack output lists: a backup's log record (core/backupLog.ts, as the step printed it), plus the schema head it restores. */
export type ListedBackup = Record<string, unknown> & { readonly id: string; readonly kind: string; readonly schemaHead?: string };

/**
 * Every backup the seeds ask for before a migration, taken side by side (they
 * all sit inside the write pause): pg_dump with its checksum and facts, an RDS
 * or Aurora snapshot kept when it leaves the program, the data directory, the S3
 * bucket, and the KMS key's record. Each ops step verifies its own backup and
 * appends it to the backup log.
 */
export class PreUpgradeBackup extends pulumi.ComponentResource {
    public readonly steps: pulumi.Resource[] = [];
    /** Records of this backup, for the `backups` stack output. */
    public readonly records: pulumi.Output<ListedBackup[]>;

    constructor(name: string, args: PreUpgradeBackupArgs, opts: pulumi.ComponentResourceOptions = {}) {
        // The version is a registered property too, so the policy pack sees it at preview (`migration-after-backup`).
        super(stepResource("backup").component, name, { version: args.version }, opts);
        const { app, version, backup } = args;
        const store = storeFlags(backup.store, "write");
        const common = ["--app", app, "--version", version];
        const records: pulumi.Output<ListedBackup>[] = [];
        const opsStep = (
            part: keyof typeof BACKUP_PARTS,
            argv: string[],
            environment?: Record<string, pulumi.Output<string>>,
            runIn?: StepRunner,
        ) => {
            const run = new command.local.Command(
                `${name}${BACKUP_PARTS[part]}`,
                {
                    create: stepCommand(runIn, [...OPS, ...argv], environment),
                    update: NO_RERUN,
                    ...(environment !== undefined ? { environment } : {}),
                },
                {
                    parent: this,
                    dependsOn: stepDependsOn(opts.dependsOn, runIn),
                    ...(environment !== undefined ? { additionalSecretOutputs: ["environment"] } : {}),
                },
            );
            this.steps.push(run);
            records.push(run.stdout.apply((stdout) => ({ ...parseOpsResult(stdout), schemaHead: args.schemaHead }) as ListedBackup));
        };

        if (args.databaseUrl !== undefined) {
            const tables = args.database?.criticalTables ?? [];
            opsStep(
                "postgres",
                [
                    "backup",
                    "--kind",
                    "postgres",
                    ...store,
                    ...common,
                    ...(tables.length > 0 ? ["--critical-tables", tables.join(",")] : []),
                    // No schema head yet: the first migration has still to create the critical tables.
                    ...(tables.length > 0 && args.schemaHead === undefined ? ["--before-first-migration"] : []),
                ],
                {
                    DATABASE_URL: args.databaseUrl,
                },
                args.runIn,
            );
        }
        if (backup.directory !== undefined) {
            const where = ["--path", backup.directory, ...store, ...common, ...(args.quiesced ? ["--quiesced"] : [])];
            const remote = args.remoteData;
            if (remote === undefined) opsStep("directory", ["backup", "--kind", "directory", ...where]);
            else opsStep("directory", ["host-archive", ...remote.hostFlags, ...where], remote.environment);
        }
        if (backup.bucket !== undefined) {
            opsStep("bucket", [
                "bucket-backup",
                "--source",
                backup.bucket,
                "--target",
                `${backup.bucketTarget}/${app}-${version}`,
                ...store,
                ...common,
            ]);
        }
        if (backup.kmsKeyId !== undefined) {
            opsStep("kms", ["kms-record", "--key", backup.kmsKeyId, ...store, ...common]);
        }
        this.snapshot(name, args, records, opts.dependsOn);
        this.records = pulumi.all(records) as unknown as pulumi.Output<ListedBackup[]>;
        this.registerOutputs({ version, records: this.records });
    }

    /** RDS and Aurora snapshots: named per app and version, and kept when they leave the program. */
    private snapshot(
        name: string,
        args: PreUpgradeBackupArgs,
        records: pulumi.Output<ListedBackup>[],
        dependsOn: pulumi.ResourceOptions["dependsOn"],
    ): void {
        const identifier = `${args.app}-${tagSlug(args.version)}-pre-upgrade`;
        const tags = { "safe-release:app": args.app, "safe-release:version": args.version, "safe-release:purpose": "pre-upgrade" };
        const options = { parent: this, dependsOn, retainOnDelete: true };
        const record = (kind: string, snapshot: pulumi.Resource, location: pulumi.Output<string>) => {
            this.steps.push(snapshot);
            const fields = { id: identifier, kind, app: args.app, version: args.version, location };
            records.push(
                pulumi.output({
                    ...fields,
                    ...(args.schemaHead !== undefined ? { schemaHead: args.schemaHead } : {}),
                }) as pulumi.Output<ListedBackup>,
            );
        };
        const { rdsInstance, auroraCluster } = args.database ?? {};
        if (rdsInstance !== undefined) {
            const snapshot = new (awsSdk().rds.Snapshot)(
                `${name}${BACKUP_PARTS.rds}`,
                { dbInstanceIdentifier: rdsInstance, dbSnapshotIdentifier: identifier, tags },
                options,
            );
            record("rds-snapshot", snapshot, snapshot.dbSnapshotArn);
        }
        if (auroraCluster !== undefined) {
            const snapshot = new (awsSdk().rds.ClusterSnapshot)(
                `${name}${BACKUP_PARTS.aurora}`,
                { dbClusterIdentifier: auroraCluster, dbClusterSnapshotIdentifier: identifier, tags },
                options,
            );
            record("aurora-snapshot", snapshot, snapshot.dbClusterSnapshotArn);
        }
    }
}
