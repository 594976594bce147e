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
import { ComponentSpec } from "./components";
import { isReleaseTag } from "../core/releaseTags";

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

export interface BackupSettings {
    /** Where pg_dump and directory archives are written, relative to the project. @default "backups" */
    readonly dir: string;
    /** The backup log (JSON lines). @default "<dir>/backups.log" */
    readonly log: string;
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

export interface MigrateSettings {
    /**
     * The migration command, run once per schema head as a one-off task of the new
     * image. Absent for a service without migrations that still stops its writers
     * for a consistent backup (a Pebble store).
     */
    readonly command?: string[];
    /** Component whose image and environment run the migration. @default the default web component */
    readonly component: string;
    /** Components stopped while the migration runs (workers, frontends): the writers. */
    readonly quiesce: string[];
    /** Versions whose destructive pending SQL is accepted. */
    readonly allowDestructive: string[];
    /** How long a second `pulumi up` waits for the migration lock. @default "10m" */
    readonly lockTimeout: string;
    /**
     * The version whose migration failed and that this release fixes forward:
     * the ledger's failed row of that version no longer blocks the new migration.
     */
    readonly fixForwardFrom?: string;
}

export interface DataSettings {
    /** Set when `release:databaseUrl` is configured. */
    readonly database?: DatabaseSettings;
    readonly backup: BackupSettings;
    readonly migrate?: MigrateSettings;
    /** Backup id to restore, with the prior version as `release:version`. */
    readonly restoreFrom?: string;
}

export const DATA_KEYS = ["database", "databaseUrl", "backup", "migrate", "restoreFrom"] as const;
const DATABASE_KEYS = ["ledger", "migrationsDir", "criticalTables", "rdsInstance", "auroraCluster"] as const;
const BACKUP_KEYS = ["dir", "log", "keep", "retentionDays", "beforeQuiesce", "directory", "bucket", "bucketTarget", "kmsKeyId"] as const;
const MIGRATE_KEYS = ["command", "component", "quiesce", "allowDestructive", "lockTimeout", "fixForwardFrom"] as const;
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
    const dir = optionalString(`${key}.dir`, raw.dir) ?? "backups";
    if (!RELATIVE_PATH.test(dir)) fail(`${key}.dir`, "a path relative to the project, without `..`", dir);
    const log = optionalString(`${key}.log`, raw.log) ?? `${dir}/backups.log`;
    if (!RELATIVE_PATH.test(log)) fail(`${key}.log`, "a path relative to the project, without `..`", log);
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
        dir,
        log,
        keep: optionalInteger(`${key}.keep`, raw.keep, 1, 1000) ?? 5,
        retentionDays: optionalInteger(`${key}.retentionDays`, raw.retentionDays, 0, 3650) ?? 7,
        beforeQuiesce: optionalBoolean(`${key}.beforeQuiesce`, raw.beforeQuiesce) ?? false,
        ...(directory !== undefined ? { directory } : {}),
        ...(bucket !== undefined ? { bucket, bucketTarget } : {}),
        ...(raw.kmsKeyId !== undefined ? { kmsKeyId: requireString(`${key}.kmsKeyId`, raw.kmsKeyId) } : {}),
    };
}

function parseMigrate(value: unknown, components: ComponentSpec[]): MigrateSettings {
    const key = "release:migrate";
    const raw = requireObject(key, value);
    rejectUnknownKeys(key, raw, MIGRATE_KEYS);
    const command =
        typeof raw.command === "string"
            ? raw.command
                  .trim()
                  .split(/\s+/)
                  .filter((w) => w !== "")
            : optionalStringList(`${key}.command`, raw.command);
    if (command !== undefined && command.length === 0) {
        fail(
            `${key}.command`,
            'the migration command, e.g. `npx prisma migrate deploy` or ["python", "manage.py", "migrate", "--noinput"]',
            raw.command,
        );
    }
    if (command === undefined && raw.quiesce === undefined) {
        fail(key, "an object with `command` (the migration), `quiesce` (writers to stop for the backup), or both", raw);
    }
    const names = components.map((c) => c.name);
    const known = (field: string, name: string) => {
        if (!names.includes(name)) fail(field, `a component of \`release:components\` (${names.map((n) => `\`${n}\``).join(", ")})`, name);
    };
    const defaultWeb = components.find((c) => c.role === "web" && c.pathPrefix === undefined) ?? components[0];
    const component = optionalString(`${key}.component`, raw.component) ?? defaultWeb.name;
    known(`${key}.component`, component);
    const quiesce = optionalStringList(`${key}.quiesce`, raw.quiesce) ?? [];
    quiesce.forEach((name, i) => known(`${key}.quiesce[${i}]`, name));
    const allowDestructive = optionalStringList(`${key}.allowDestructive`, raw.allowDestructive) ?? [];
    allowDestructive.forEach((version, i) => {
        if (!isReleaseTag(version))
            fail(`${key}.allowDestructive[${i}]`, "a release tag whose destructive migration you accept, such as `v1.5.0`", version);
    });
    const lockTimeout = optionalString(`${key}.lockTimeout`, raw.lockTimeout) ?? "10m";
    if (!/^\d+(ms|s|m|h)$/.test(lockTimeout)) fail(`${key}.lockTimeout`, "a duration such as `30s`, `10m` or `1h`", lockTimeout);
    const fixForwardFrom = optionalString(`${key}.fixForwardFrom`, raw.fixForwardFrom);
    if (fixForwardFrom !== undefined && !isReleaseTag(fixForwardFrom)) {
        fail(`${key}.fixForwardFrom`, "the release tag whose migration failed, such as `v1.5.0`", fixForwardFrom);
    }
    return {
        ...(command !== undefined ? { command } : {}),
        component,
        quiesce,
        allowDestructive,
        lockTimeout,
        ...(fixForwardFrom !== undefined ? { fixForwardFrom } : {}),
    };
}
