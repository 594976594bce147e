import { ClientBase } from "pg";
import { parseDatabaseUrl, PgTarget } from "./connection";

/** safe-release's own record of every migration run, one row per (app, version, image digest). */
export const TOOL_LEDGER = "safe_release_migrations";

/**
 * The ledger's own connection, for where the migration reaches the database under another
 * address (a container on a Docker network) or the ledger lives in another database.
 */
export const LEDGER_URL = "SAFE_RELEASE_LEDGER_URL";

/** Where the ledger is: `SAFE_RELEASE_LEDGER_URL`, else `DATABASE_URL`; undefined when neither is set. */
export function ledgerTarget(env: NodeJS.ProcessEnv): PgTarget | undefined {
    if (env[LEDGER_URL] !== undefined) return parseDatabaseUrl(env[LEDGER_URL], LEDGER_URL);
    return env.DATABASE_URL !== undefined ? parseDatabaseUrl(env.DATABASE_URL) : undefined;
}

export type RunStatus = "running" | "succeeded" | "failed";

export interface MigrationKey {
    readonly app: string;
    readonly version: string;
    readonly digest: string;
}

export interface ToolLedgerRow extends MigrationKey {
    readonly status: RunStatus;
    readonly startedAt: Date;
    readonly finishedAt: Date | null;
    readonly exitCode: number | null;
    readonly logTail: string | null;
    /** Set when a later version fixed forward from this failed or interrupted run, so it blocks no longer. */
    readonly supersededBy: string | null;
    /**
     * The backup id of a restore that put the data back to before this run: the run's effect is
     * gone, so the row no longer counts as applied nor as blocking (its history stays readable).
     * Null (or absent, in rows built by hand) while the run stands.
     */
    readonly restoredBy?: string | null;
    readonly restoredAt?: Date | null;
    /**
     * The image digest of an earlier succeeded run of the same version that this run repeated:
     * the version was built again, and its migration ran a second time. Null (or absent) otherwise.
     */
    readonly repeatsDigest?: string | null;
}

/** At most one row per key still counts; rows a restore undid keep theirs beside a new run of the same key. */
const LIVE_KEY_INDEX = `${TOOL_LEDGER}_live_key`;

/** Any fixed number: it only serializes concurrent CREATE TABLE IF NOT EXISTS across apps. */
const CREATE_LEDGER_LOCK = 0x5afe_4e1;

export async function ensureToolLedger(client: ClientBase): Promise<void> {
    await client.query("BEGIN");
    try {
        await client.query("SELECT pg_advisory_xact_lock($1)", [CREATE_LEDGER_LOCK]);
        await client.query(`CREATE TABLE IF NOT EXISTS ${TOOL_LEDGER} (
            app text NOT NULL,
            version text NOT NULL,
            image_digest text NOT NULL,
            status text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
            started_at timestamptz NOT NULL DEFAULT now(),
            finished_at timestamptz,
            exit_code integer,
            log_tail text,
            superseded_by text,
            restored_by text,
            restored_at timestamptz,
            repeats_digest text
        )`);
        // A ledger created before fix-forward or restore marks existed gains the columns in place.
        await client.query(`ALTER TABLE ${TOOL_LEDGER} ADD COLUMN IF NOT EXISTS superseded_by text`);
        await client.query(
            `ALTER TABLE ${TOOL_LEDGER} ADD COLUMN IF NOT EXISTS restored_by text, ADD COLUMN IF NOT EXISTS restored_at timestamptz`,
        );
        await client.query(`ALTER TABLE ${TOOL_LEDGER} ADD COLUMN IF NOT EXISTS repeats_digest text`);
        // The key was the primary key before a restore could undo a run; a new run of an undone key needs its own row.
        await client.query(`ALTER TABLE ${TOOL_LEDGER} DROP CONSTRAINT IF EXISTS ${TOOL_LEDGER}_pkey`);
        await client.query(
            `CREATE UNIQUE INDEX IF NOT EXISTS ${LIVE_KEY_INDEX} ON ${TOOL_LEDGER} (app, version, image_digest) WHERE restored_by IS NULL`,
        );
        await client.query("COMMIT");
    } catch (err) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw err;
    }
}

export async function tableExists(client: ClientBase, table: string): Promise<boolean> {
    const { rows } = await client.query("SELECT to_regclass($1) IS NOT NULL AS present", [table]);
    return rows[0].present === true;
}

/** The app's rows, oldest first; empty when the ledger table does not exist yet. */
export async function readToolLedger(client: ClientBase, app: string): Promise<ToolLedgerRow[]> {
    if (!(await tableExists(client, TOOL_LEDGER))) return [];
    const { rows } = await client.query(
        // `*` so a read-only check also works on a ledger that predates `superseded_by` or `restored_by`.
        `SELECT * FROM ${TOOL_LEDGER} WHERE app = $1 ORDER BY started_at, version, image_digest`,
        [app],
    );
    return rows.map(toLedgerRow);
}

function toLedgerRow(r: Record<string, any>): ToolLedgerRow {
    return {
        app: r.app,
        version: r.version,
        digest: r.image_digest,
        status: r.status,
        startedAt: r.started_at,
        finishedAt: r.finished_at,
        exitCode: r.exit_code,
        logTail: r.log_tail,
        supersededBy: r.superseded_by ?? null,
        restoredBy: r.restored_by ?? null,
        restoredAt: r.restored_at ?? null,
        repeatsDigest: r.repeats_digest ?? null,
    };
}

/**
 * Records the start of a run; in the same transaction marks the blocking rows of
 * `supersedes` (a version this run fixes forward from) as superseded by it.
 */
/** `repeatsDigest`: the digest of an earlier succeeded run of the same version, which this run repeats. */
export async function recordRunStart(client: ClientBase, key: MigrationKey, supersedes?: string, repeatsDigest?: string): Promise<void> {
    await client.query("BEGIN");
    try {
        if (supersedes !== undefined) {
            await client.query(
                `UPDATE ${TOOL_LEDGER} SET superseded_by = $3
                  WHERE app = $1 AND version = $2 AND status IN ('running', 'failed') AND superseded_by IS NULL
                    AND restored_by IS NULL`,
                [key.app, supersedes, key.version],
            );
        }
        await client.query(
            `INSERT INTO ${TOOL_LEDGER} (app, version, image_digest, status, repeats_digest) VALUES ($1, $2, $3, 'running', $4)`,
            [key.app, key.version, key.digest, repeatsDigest ?? null],
        );
        await client.query("COMMIT");
    } catch (err) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw err;
    }
}

export async function recordRunEnd(
    client: ClientBase,
    key: MigrationKey,
    outcome: { status: "succeeded" | "failed"; exitCode: number | null; logTail: string },
): Promise<void> {
    await client.query(
        `UPDATE ${TOOL_LEDGER} SET status = $4, finished_at = now(), exit_code = $5, log_tail = $6
          WHERE app = $1 AND version = $2 AND image_digest = $3 AND status = 'running' AND restored_by IS NULL`,
        [key.app, key.version, key.digest, outcome.status, outcome.exitCode, outcome.logTail],
    );
}

/** Only for a runner that never started: nothing touched the database, so no trace is kept. */
export async function forgetRun(client: ClientBase, key: MigrationKey): Promise<void> {
    await client.query(
        `DELETE FROM ${TOOL_LEDGER} WHERE app = $1 AND version = $2 AND image_digest = $3 AND status = 'running' AND restored_by IS NULL`,
        [key.app, key.version, key.digest],
    );
}

/** The backup a restore put back: its id and when it was taken (ISO-8601, the backup log's `time`). */
export interface RestoredBackup {
    readonly id: string;
    readonly app: string;
    readonly time: string;
}

/**
 * Marks every run of the app that started after the backup was taken as undone by the
 * restore of `backup`, and returns those rows as marked. The start time decides, not the
 * version: a run that started after the backup is exactly one whose effect the restored
 * data lacks, whatever its version (a fix-forward, a backup labelled after its migration).
 * Rows an earlier restore already marked keep that mark.
 */
export async function markRestoredAway(client: ClientBase, backup: RestoredBackup): Promise<ToolLedgerRow[]> {
    const { rows } = await client.query(
        `UPDATE ${TOOL_LEDGER} SET restored_by = $2, restored_at = now()
          WHERE app = $1 AND restored_by IS NULL AND started_at > $3::timestamptz
          RETURNING *`,
        [backup.app, backup.id, backup.time],
    );
    return rows.map(toLedgerRow).sort((x, y) => x.startedAt.getTime() - y.startedAt.getTime() || x.version.localeCompare(y.version));
}

/** One row of Prisma's `_prisma_migrations`. */
export interface PrismaLedgerRow {
    readonly migrationName: string;
    readonly checksum: string;
    readonly startedAt: Date;
    readonly finishedAt: Date | null;
    readonly rolledBackAt: Date | null;
    readonly logs: string | null;
}

export async function readPrismaLedger(client: ClientBase): Promise<PrismaLedgerRow[]> {
    const { rows } = await client.query(
        `SELECT migration_name, checksum, started_at, finished_at, rolled_back_at, logs
           FROM _prisma_migrations ORDER BY started_at, migration_name`,
    );
    return rows.map((r) => ({
        migrationName: r.migration_name,
        checksum: r.checksum,
        startedAt: r.started_at,
        finishedAt: r.finished_at,
        rolledBackAt: r.rolled_back_at,
        logs: r.logs,
    }));
}

/** One row of Django's `django_migrations`: Django records a migration only after it applied. */
export interface DjangoLedgerRow {
    readonly app: string;
    readonly name: string;
}

export async function readDjangoLedger(client: ClientBase): Promise<DjangoLedgerRow[]> {
    const { rows } = await client.query("SELECT app, name FROM django_migrations ORDER BY app, name");
    return rows.map((r) => ({ app: r.app, name: r.name }));
}
