import { Writable } from "stream";
import { describeTarget, PgTarget, redactor } from "./connection";
import { ensureToolLedger, markRestoredAway, RestoredBackup, tableExists, TOOL_LEDGER, ToolLedgerRow } from "./ledgers";
import { acquireAdvisoryLock, advisoryLockKey, releaseAdvisoryLock } from "./lock";
import { withClient } from "./restore";

/** How long marking waits for a migration of the same app that holds its lock. */
const LOCK_TIMEOUT_MS = 60_000;

/** One row a restore marked, as the restore's JSON result lists it. */
export interface MarkedRun {
    readonly version: string;
    readonly digest: string;
    readonly status: string;
    readonly startedAt: string;
}

/** The `ledger` part of the restore's result. */
export interface LedgerOutcome {
    /** The ledger's database, without its password; null when no ledger URL was given. */
    readonly database: string | null;
    readonly marked: MarkedRun[];
    readonly note: string;
}

/** Whether two targets name the same database on the same server (a pg restore that also brought the ledger back). */
export function sameDatabase(a: PgTarget, b: PgTarget): boolean {
    return a.host === b.host && (a.port ?? 5432) === (b.port ?? 5432) && a.database === b.database;
}

/**
 * Before any data is touched: the ledger must be reachable, or the restore would put old
 * data back under a ledger that still says the newer migrations are applied.
 */
export async function checkLedgerReachable(ledger: PgTarget): Promise<void> {
    try {
        await withClient(ledger, async (client) => {
            await client.query("SELECT 1");
        });
    } catch (err) {
        const message = redactor(ledger)((err as Error).message);
        throw new Error(
            `the migration ledger at ${describeTarget(ledger)} (SAFE_RELEASE_LEDGER_URL, else DATABASE_URL) must be reachable ` +
                `before a restore touches the data, so that it can be marked afterwards: ${message}; nothing was restored`,
        );
    }
}

/**
 * After a restore swapped the data in: every run of the app that started after the backup
 * was taken is marked undone by it (`restored_by`), so the next release of that version
 * migrates again. Under the app's migration lock, so no migration reads the ledger half-marked.
 * `restoredDatabase` is the live database a pg restore replaced, if any: when it holds the
 * ledger, the ledger came back with the data and nothing is left to mark.
 */
export async function markLedgerAfterRestore(
    ledger: PgTarget,
    backup: RestoredBackup,
    restoredDatabase: PgTarget | undefined,
    stderr: Writable,
): Promise<LedgerOutcome> {
    const database = describeTarget(ledger);
    const marked = await withClient(ledger, async (client): Promise<ToolLedgerRow[]> => {
        if (!(await tableExists(client, TOOL_LEDGER))) return [];
        const lockKey = advisoryLockKey("migrate", backup.app);
        await acquireAdvisoryLock(client, lockKey, {
            timeoutMs: LOCK_TIMEOUT_MS,
            onWait: (pid) =>
                stderr.write(
                    `restore: ledger: a migration of \`${backup.app}\` holds its lock${pid === undefined ? "" : ` (backend pid ${pid})`}; ` +
                        `waiting up to ${LOCK_TIMEOUT_MS / 1000}s\n`,
                ),
        });
        try {
            // An older ledger gains the `restored_by` column first.
            await ensureToolLedger(client);
            return await markRestoredAway(client, backup);
        } finally {
            await releaseAdvisoryLock(client, lockKey).catch(() => undefined);
        }
    });
    const runs = marked.map((row) => ({
        version: row.version,
        digest: row.digest,
        status: row.status,
        startedAt: row.startedAt.toISOString(),
    }));
    for (const run of runs) {
        stderr.write(
            `restore: ledger: ${run.version} (${run.digest}, ${run.status}, started ${run.startedAt}) ran after the backup; ` +
                `marked restored by ${backup.id}, so its next release migrates again\n`,
        );
    }
    const note =
        runs.length > 0
            ? `marked ${runs.length} run(s) of \`${backup.app}\` that started after the backup (${backup.time}) as restored by ${backup.id}`
            : restoredDatabase !== undefined && sameDatabase(ledger, restoredDatabase)
              ? `nothing to mark: the ledger is in the restored database \`${ledger.database}\` and came back with it as of the backup (${backup.time})`
              : `nothing to mark: no run of \`${backup.app}\` in \`${TOOL_LEDGER}\` started after the backup (${backup.time})`;
    if (runs.length === 0) stderr.write(`restore: ledger: ${note}\n`);
    return { database, marked: runs, note };
}
