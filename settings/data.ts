import {
    ConfigError,
    fail,
    optionalBoolean,
    optionalInteger,
    optionalString,
    optionalStringList,
    rejectUnknownKeys,
    requireObject,
    requireString,
} from "./checks";
import { parseStore } from "./backupStore";
import { MigrateSettings, parseMigrate } from "./migrate";
import { ComponentSpec } from "./components";

/** The PostgreSQL database the release migrates; its URL is the secret `release:databaseUrl`. */
export interface DatabaseSettings {
    /** Which migration ledger preflight reads. @default "auto" */
    readonly ledger: "prisma" | "django" | "auto";
    /** Migration files in this checkout (Prisma `prisma/migrations`, or the Django project root), for preflight. */
    readonly migrationsDir?: string;
    /** Tables whose exact row counts are recorded at backup and checked after a restore. */
    readonly criticalTables: string[];
    /** RDS instance identifier: a DB snapshot is taken before migrating. */
    readonly rdsInstance?: string;
    /** Aurora cluster identifier: a cluster snapshot is taken before migrating. */
    readonly auroraCluster?: string;
}

/**
 * A local directory of the project: each artifact as a file and the backup log
 * (JSON lines) beside them, or elsewhere where `release:backup.log` says.
 */
export interface DirectoryBackupStore {
    readonly kind: "directory";
    /** The directory, relative to the project: what `--store` names. */
    readonly location: string;
    /** The backup log. @default "<location>/backups.log" */
    readonly log: string;
}

/**
 * An S3 prefix that outlives the machine running `pulumi up` (a CI runner): the
 * artifacts are objects under it, and the log is one object per record under
 * `<prefix>/records/`, so writers never contend for one object.
 */
export interface S3BackupStore {
    readonly kind: "s3";
    /** `s3://bucket/prefix`, without a trailing `/`: what `--store` names. */
    readonly location: string;
    readonly bucket: string;
    /** Without leading or trailing `/`; never empty: the store's objects have a prefix of their own. */
    readonly prefix: string;
    /** `release:backup.kmsKeyId`: the objects' server-side encryption key (`aws:kms`); absent: `AES256`. */
    readonly sseKmsKeyId?: string;
}

export type BackupStore = DirectoryBackupStore | S3BackupStore;

export interface BackupSettings {
    /** Where every backup and its record go (`release:backup.store`). @default a directory store at `release:backup.dir`, else "backups" */
    readonly store: BackupStore;
    /** Newest backups kept by pruning. @default 5 */
    readonly keep: number;
    /** Backups younger than this are kept by pruning. @default 7 */
    readonly retentionDays: number;
    /** Back up before stopping writers: a shorter pause, but writes in between are lost on restore. @default false */
    readonly beforeQuiesce: boolean;
    /** A data directory (the Pebble `--db` directory, a volume) to archive. */
    readonly directory?: string;
    /** An S3 bucket (optionally `bucket/prefix`) copied to `bucketTarget` before migrating. */
    readonly bucket?: string;
    readonly bucketTarget?: string;
    /** KMS key whose metadata and policy are recorded; a key pending deletion or disabled stops the release. */
    readonly kmsKeyId?: string;
}

export interface DataSettings {
    /** Set when `release:databaseUrl` is configured. */
    readonly database?: DatabaseSettings;
    readonly backup: BackupSettings;
    readonly migrate?: MigrateSettings;
    /** Backup id to restore, with the prior version as `release:version`. */
    readonly restoreFrom?: string;
}

export type { MigrateSettings } from "./migrate";

export const DATA_KEYS = ["database", "databaseUrl", "backup", "migrate", "restoreFrom"] as const;
const DATABASE_KEYS = ["ledger", "migrationsDir", "criticalTables", "rdsInstance", "auroraCluster"] as const;
const BACKUP_KEYS = [
    "store",
    "dir",
    "log",
    "keep",
    "retentionDays",
    "beforeQuiesce",
    "directory",
    "bucket",
    "bucketTarget",
    "kmsKeyId",
] as const;
const TABLE = /^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$/;
const RELATIVE_PATH = /^(?!\/)(?!.*(^|\/)\.\.(\/|$))[A-Za-z0-9._\/-]+$/;

export function parseDataSettings(raw: Record<string, unknown>, components: ComponentSpec[]): DataSettings {
    const hasDatabase = raw.databaseUrl !== undefined;
    if (raw.database !== undefined && !hasDatabase) {
        throw new ConfigError(
            "`release:database` needs `release:databaseUrl`: set it with `pulumi config set --secret release:databaseUrl`",
        );
    }
    const database = hasDatabase ? parseDatabase(raw.database) : undefined;
    const backup = parseBackup(raw.backup);
    const migrate = raw.migrate === undefined ? undefined : parseMigrate(raw.migrate, components);
    if (migrate?.command !== undefined && !hasDatabase) {
        throw new ConfigError(
            "`release:migrate` needs `release:databaseUrl` (a secret): migrations run under a PostgreSQL advisory lock " +
                "and are recorded in its ledger, so they run exactly once",
        );
    }
    const critical = database?.criticalTables ?? [];
    migrate?.expectChanged.forEach((table, i) => {
        if (!critical.includes(table)) {
            fail(
                `release:migrate.expectChanged[${i}]`,
                `a table of \`release:database.criticalTables\` (${critical.map((t) => `\`${t}\``).join(", ") || "none"})`,
                table,
            );
        }
    });
    const restoreFrom = optionalString("release:restoreFrom", raw.restoreFrom);
    if (restoreFrom !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(restoreFrom)) {
        fail(
            "release:restoreFrom",
            "a backup id from the `backups` stack output or the backup log, such as `shop-v1.4.2-20261122T041059.123Z`",
            restoreFrom,
        );
    }
    return {
        ...(database !== undefined ? { database } : {}),
        backup,
        ...(migrate !== undefined ? { migrate } : {}),
        ...(restoreFrom !== undefined ? { restoreFrom } : {}),
    };
}

function parseDatabase(value: unknown): DatabaseSettings {
    const key = "release:database";
    const raw = value === undefined ? {} : requireObject(key, value);
    rejectUnknownKeys(key, raw, DATABASE_KEYS);
    const ledger = raw.ledger ?? "auto";
    if (ledger !== "prisma" && ledger !== "django" && ledger !== "auto") fail(`${key}.ledger`, '"prisma", "django" or "auto"', ledger);
    const criticalTables = optionalStringList(`${key}.criticalTables`, raw.criticalTables) ?? [];
    criticalTables.forEach((table, i) => {
        if (!TABLE.test(table)) fail(`${key}.criticalTables[${i}]`, "a table name, optionally schema-qualified (`public.orders`)", table);
    });
    const rdsInstance = optionalString(`${key}.rdsInstance`, raw.rdsInstance);
    const auroraCluster = optionalString(`${key}.auroraCluster`, raw.auroraCluster);
    if (rdsInstance !== undefined && auroraCluster !== undefined) {
        throw new ConfigError(
            `\`${key}\` may name \`rdsInstance\` or \`auroraCluster\`, not both: an Aurora instance is snapshotted through its cluster`,
        );
    }
    for (const [field, id] of [
        ["rdsInstance", rdsInstance],
        ["auroraCluster", auroraCluster],
    ] as const) {
        if (id !== undefined && !/^[a-zA-Z][a-zA-Z0-9-]{0,62}$/.test(id))
            fail(`${key}.${field}`, "an RDS identifier (a letter, then letters, digits and `-`)", id);
    }
    const migrationsDir = optionalString(`${key}.migrationsDir`, raw.migrationsDir);
    if (migrationsDir !== undefined && !RELATIVE_PATH.test(migrationsDir))
        fail(`${key}.migrationsDir`, "a path relative to the project, without `..`", migrationsDir);
    return {
        ledger,
        ...(migrationsDir !== undefined ? { migrationsDir } : {}),
        criticalTables,
        ...(rdsInstance !== undefined ? { rdsInstance } : {}),
        ...(auroraCluster !== undefined ? { auroraCluster } : {}),
    };
}

function parseBackup(value: unknown): BackupSettings {
    const key = "release:backup";
    const raw = value === undefined ? {} : requireObject(key, value);
    rejectUnknownKeys(key, raw, BACKUP_KEYS);
    const kmsKeyId = raw.kmsKeyId !== undefined ? requireString(`${key}.kmsKeyId`, raw.kmsKeyId) : undefined;
    const store = parseStore(key, raw, kmsKeyId);
    const directory = optionalString(`${key}.directory`, raw.directory);
    if (directory !== undefined && !directory.startsWith("/"))
        fail(`${key}.directory`, "an absolute path to the data directory", directory);
    const bucket = optionalString(`${key}.bucket`, raw.bucket);
    const bucketTarget = optionalString(`${key}.bucketTarget`, raw.bucketTarget);
    if ((bucket === undefined) !== (bucketTarget === undefined)) {
        throw new ConfigError(
            `\`${key}.bucket\` and \`${key}.bucketTarget\` go together: the bucket to copy and where its copy goes (\`backup-bucket/prefix\`)`,
        );
    }
    for (const [field, name] of [
        ["bucket", bucket],
        ["bucketTarget", bucketTarget],
    ] as const) {
        if (name !== undefined && !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/[^\s]*)?$/.test(name))
            fail(`${key}.${field}`, "an S3 bucket name, optionally with `/prefix`", name);
    }
    return {
        store,
        keep: optionalInteger(`${key}.keep`, raw.keep, 1, 1000) ?? 5,
        retentionDays: optionalInteger(`${key}.retentionDays`, raw.retentionDays, 0, 3650) ?? 7,
        beforeQuiesce: optionalBoolean(`${key}.beforeQuiesce`, raw.beforeQuiesce) ?? false,
        ...(directory !== undefined ? { directory } : {}),
        ...(bucket !== undefined ? { bucket, bucketTarget } : {}),
        ...(kmsKeyId !== undefined ? { kmsKeyId } : {}),
    };
}
