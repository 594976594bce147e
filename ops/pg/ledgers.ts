import { ClientBase } from "pg";

/** safe-release's own record of every migration run, one row per (app, version, image digest). */
export const TOOL_LEDGER = "safe_release_migrations";

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
}

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
            PRIMARY KEY (app, version, image_digest)
        )`);
        // A ledger created before fix-forward existed gains the column in place.
        await client.query(`ALTER TABLE ${TOOL_LEDGER} ADD COLUMN IF NOT EXISTS superseded_by text`);
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
        // `*` so a read-only check also works on a ledger that predates `superseded_by`.
        `SELECT * FROM ${TOOL_LEDGER} WHERE app = $1 ORDER BY started_at, version, image_digest`,
        [app],
    );
    return rows.map((r) => ({
        app: r.app,
        version: r.version,
        digest: r.image_digest,
        status: r.status,
        startedAt: r.started_at,
        finishedAt: r.finished_at,
        exitCode: r.exit_code,
        logTail: r.log_tail,
        supersededBy: r.superseded_by ?? null,
    }));
}

/**
 * Records the start of a run; in the same transaction marks the blocking rows of
 * `supersedes` (a version this run fixes forward from) as superseded by it.
 */
export async function recordRunStart(client: ClientBase, key: MigrationKey, supersedes?: string): Promise<void> {
    await client.query("BEGIN");
    try {
        if (supersedes !== undefined) {
            await client.query(
                `UPDATE ${TOOL_LEDGER} SET superseded_by = $3
                  WHERE app = $1 AND version = $2 AND status IN ('running', 'failed') AND superseded_by IS NULL`,
                [key.app, supersedes, key.version],
            );
        }
        await client.query(`INSERT INTO ${TOOL_LEDGER} (app, version, image_digest, status) VALUES ($1, $2, $3, 'running')`, [
            key.app,
            key.version,
            key.digest,
        ]);
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
          WHERE app = $1 AND version = $2 AND image_digest = $3 AND status = 'running'`,
        [key.app, key.version, key.digest, outcome.status, outcome.exitCode, outcome.logTail],
    );
}

/** Only for a runner that never started: nothing touched the database, so no trace is kept. */
export async function forgetRun(client: ClientBase, key: MigrationKey): Promise<void> {
    await client.query(`DELETE FROM ${TOOL_LEDGER} WHERE app = $1 AND version = $2 AND image_digest = $3 AND status = 'running'`, [
        key.app,
        key.version,
        key.digest,
    ]);
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
