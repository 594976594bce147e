import { createHash } from "crypto";
import { ClientBase } from "pg";

/** The two int4 halves of a PostgreSQL advisory lock key (`pg_advisory_lock(int, int)`). */
export type AdvisoryLockKey = readonly [number, number];

/**
 * Same app → same key on every machine and run, so two `pulumi up`s of one app
 * serialize while different apps never wait for each other (64 hash bits make a
 * collision, which would only serialize two apps, negligible).
 */
export function advisoryLockKey(scope: string, app: string): AdvisoryLockKey {
    const digest = createHash("sha256").update(`safe-release:${scope}:${app}`).digest();
    return [digest.readInt32BE(0), digest.readInt32BE(4)];
}

export class LockTimeoutError extends Error {}

export interface AcquireOptions {
    readonly timeoutMs: number;
    /** Called once, only when someone else holds the lock, with that session's pid when visible. */
    readonly onWait?: (holderPid: number | undefined) => void;
}

/**
 * Takes a session-level advisory lock: it lasts until released or until the session
 * ends, so a migrate process that dies can never leave the lock behind. Waits up to
 * `timeoutMs` (server-side `lock_timeout`), then throws `LockTimeoutError`.
 */
export async function acquireAdvisoryLock(client: ClientBase, key: AdvisoryLockKey, options: AcquireOptions): Promise<void> {
    const { rows } = await client.query("SELECT pg_try_advisory_lock($1, $2) AS locked", [...key]);
    if (rows[0].locked === true) return;
    options.onWait?.(await lockHolderPid(client, key));
    // statement_timeout is cleared because only lock_timeout should bound this wait.
    await client.query("SELECT set_config('lock_timeout', $1, false), set_config('statement_timeout', '0', false)", [
        `${Math.max(1, Math.round(options.timeoutMs))}ms`,
    ]);
    try {
        await client.query("SELECT pg_advisory_lock($1, $2)", [...key]);
    } catch (err) {
        if ((err as { code?: string }).code === "55P03") {
            throw new LockTimeoutError(`lock not granted within ${options.timeoutMs}ms`);
        }
        throw err;
    } finally {
        await client.query("SELECT set_config('lock_timeout', '0', false)").catch(() => undefined);
    }
}

export async function releaseAdvisoryLock(client: ClientBase, key: AdvisoryLockKey): Promise<boolean> {
    const { rows } = await client.query("SELECT pg_advisory_unlock($1, $2) AS released", [...key]);
    return rows[0].released === true;
}

/** pg_locks shows the two-int form as classid/objid (unsigned oids) with objsubid 2. */
export async function lockHolderPid(client: ClientBase, key: AdvisoryLockKey): Promise<number | undefined> {
    const { rows } = await client.query(
        `SELECT pid FROM pg_locks
          WHERE locktype = 'advisory' AND granted AND objsubid = 2
            AND classid = $1::bigint::oid AND objid = $2::bigint::oid
          LIMIT 1`,
        [key[0] >>> 0, key[1] >>> 0],
    );
    return rows.length > 0 ? Number(rows[0].pid) : undefined;
}
