import { Client } from "pg";
import { Writable } from "stream";
import { formatDuration } from "../flags";
import { connect, describeTarget, PgTarget } from "../pg/connection";
import {
    ensureToolLedger,
    forgetRun,
    LEDGER_URL,
    MigrationKey,
    readToolLedger,
    recordRunEnd,
    recordRunStart,
    TOOL_LEDGER,
} from "../pg/ledgers";
import { acquireAdvisoryLock, advisoryLockKey, LockTimeoutError, releaseAdvisoryLock } from "../pg/lock";
import { dockerOfRunner, runningOneOffs } from "./oneOffContainers";
import { blockingRows, decideMigration, standingRows, waysForward } from "./plan";
import { LineTail, runProgram } from "./runner";
import { recordSchemaSnapshot } from "./schemaSnapshots";

/**
 * One migration run under the ledger rules (a key runs at most once, a failed run blocks
 * the app, a per-app advisory lock serializes runs), shared by `migrate`, which runs it
 * against the live database, and `rehearse`, which runs it against a restored copy.
 */

export interface MigrateRequest {
    readonly key: MigrationKey;
    readonly lockTimeoutMs: number;
    readonly fixForwardFrom?: string;
    /** The components the release stopped for this migration (`--stopped-writers`); unknown when not given. */
    readonly stoppedWriters?: readonly string[];
    /** The program that migrates, e.g. `docker run --rm … python manage.py migrate --noinput`. */
    readonly runner: readonly string[];
}

export type MigrateOutcome = "succeeded" | "already-applied" | "refused" | "failed" | "not-started" | "lock-timeout" | "error";

export interface RunOnceContext {
    readonly request: MigrateRequest;
    /** Where the ledger and the lock are (SAFE_RELEASE_LEDGER_URL, else DATABASE_URL). */
    readonly ledger: PgTarget;
    /** The runner's environment, DATABASE_URL included; SAFE_RELEASE_LEDGER_URL is removed before the runner sees it. */
    readonly env: NodeJS.ProcessEnv;
    readonly stderr: Writable;
    /** Masks every secret in a line before it is printed or kept. */
    readonly redact: (text: string) => string;
    /** One progress line on stderr, e.g. `migrate: …`; `line` is not yet masked. */
    readonly log: (line: string) => void;
}

export interface RunOnceResult {
    readonly outcome: MigrateOutcome;
    /** Fields the result document adds after the key (`exitCode`, `appliedAt`, `previouslyApplied`). */
    readonly details: Record<string, unknown>;
    /** The runner's last lines, secrets masked; empty when it did not run. */
    readonly logTail: readonly string[];
    readonly exitCode?: number | null;
    readonly signal?: NodeJS.Signals | null;
    /** Wall time of the runner, from start to exit; set when it ran. */
    readonly runnerMs?: number;
}

/** Exit status of a `migrate` with this outcome: only a run that leaves the key applied is a success. */
export function migrateExitStatus(outcome: MigrateOutcome): number {
    return outcome === "succeeded" || outcome === "already-applied" ? 0 : 1;
}

export async function runMigrationOnce(context: RunOnceContext): Promise<RunOnceResult> {
    let client: Client | undefined;
    try {
        client = await connect(context.ledger);
        // A dropped connection also drops the lock; the 'running' row then keeps other runs out.
        client.on("error", (err) => context.log(`lost the database connection: ${err.message}`));
        return await migrateLocked(client, context);
    } catch (err) {
        const where = client ? "" : ` while connecting to ${describeTarget(context.ledger)}`;
        context.log(`error${where}: ${err instanceof Error ? err.message : String(err)}`);
        return { outcome: "error", details: {}, logTail: [] };
    } finally {
        await client?.end().catch(() => undefined);
    }
}

async function migrateLocked(client: Client, context: RunOnceContext): Promise<RunOnceResult> {
    const { key, lockTimeoutMs } = context.request;
    const lockKey = advisoryLockKey("migrate", key.app);
    try {
        await acquireAdvisoryLock(client, lockKey, {
            timeoutMs: lockTimeoutMs,
            onWait: (pid) =>
                context.log(
                    `another migration of \`${key.app}\` holds its lock${pid === undefined ? "" : ` (PostgreSQL backend pid ${pid})`}; ` +
                        `waiting up to ${formatDuration(lockTimeoutMs)} (\`--lock-timeout\`)`,
                ),
        });
    } catch (err) {
        if (!(err instanceof LockTimeoutError)) throw err;
        context.log(
            `gave up after ${formatDuration(lockTimeoutMs)} waiting for the migration lock of \`${key.app}\`: another migration still runs; ` +
                "nothing ran. Wait for it to finish, then run again (it will find that migration's result in the ledger).",
        );
        return { outcome: "lock-timeout", details: {}, logTail: [] };
    }
    try {
        return await migrateOnce(client, context);
    } finally {
        await releaseAdvisoryLock(client, lockKey).catch(() => undefined);
    }
}

async function migrateOnce(client: Client, context: RunOnceContext): Promise<RunOnceResult> {
    const { key, runner, fixForwardFrom, stoppedWriters } = context.request;
    await ensureToolLedger(client);
    const rows = await readToolLedger(client, key.app);
    const decision = decideMigration(rows, key, fixForwardFrom, stoppedWriters);
    if (decision.action === "skip") {
        const at = (decision.applied.finishedAt ?? decision.applied.startedAt).toISOString();
        context.log(`\`${key.app}\` ${key.version} (${key.digest}) was already migrated at ${at}; nothing to run`);
        return { outcome: "already-applied", details: { appliedAt: at }, logTail: [] };
    }
    const { [LEDGER_URL]: _ledger, ...runnerEnv } = context.env;
    if (decision.action === "refuse") {
        context.stderr.write(`${context.redact(decision.message)}\n`);
        // A migrate process killed mid-run leaves its `docker run` container running under dockerd.
        const docker = dockerOfRunner(runner);
        const unfinished = [
            ...new Set(
                blockingRows(rows)
                    .filter((r) => r.status === "running")
                    .map((r) => r.version),
            ),
        ];
        if (docker !== undefined && unfinished.length > 0) {
            for (const line of await runningOneOffs(docker, key.app, unfinished, runnerEnv))
                context.stderr.write(`${context.redact(line)}\n`);
        }
        return { outcome: "refused", details: {}, logTail: [] };
    }
    // A rebuilt image of an applied version migrates again: said, and kept in its ledger row.
    const earlier = standingRows(rows).filter((r) => r.version === key.version && r.digest !== key.digest && r.status === "succeeded");
    const previouslyApplied = earlier.map((r) => ({ digest: r.digest, appliedAt: (r.finishedAt ?? r.startedAt).toISOString() }));
    await recordRunStart(client, key, decision.supersedes, previouslyApplied.at(-1)?.digest);
    for (const applied of previouslyApplied) {
        context.log(
            `\`${key.app}\` ${key.version} was already migrated at ${applied.appliedAt} from image ${applied.digest}; ` +
                `${key.digest} is another image of the same version, so its migration runs again (recorded as \`repeats_digest\` ` +
                `in \`${TOOL_LEDGER}\`). A migration that is not idempotent fails or applies twice: release a new version, do not rebuild one`,
        );
    }
    if (decision.supersedes !== undefined) {
        context.log(`fixing forward from ${decision.supersedes}: its unfinished rows are marked superseded by ${key.version}`);
    }
    for (const undone of rows.filter((r) => r.version === key.version && r.digest === key.digest && r.restoredBy)) {
        context.log(
            `${key.version} ran before (started ${undone.startedAt.toISOString()}), but restore ${undone.restoredBy} ` +
                "put the data back to before that run; migrating again",
        );
    }
    context.log(`migrating \`${key.app}\` ${key.version}: ${runner.join(" ")}`);
    const tail = new LineTail();
    const started = Date.now();
    const result = await runProgram(runner, runnerEnv, (line) => {
        const safe = context.redact(line);
        tail.push(safe);
        context.stderr.write(`${safe}\n`);
    });
    const runnerMs = Date.now() - started;
    if (!result.started) {
        await forgetRun(client, key);
        context.log(`could not start \`${runner[0]}\`: ${result.startError}; nothing ran and the ledger is unchanged`);
        return { outcome: "not-started", details: {}, logTail: [] };
    }
    const succeeded = result.exitCode === 0;
    const logTail = tail.lines();
    const ran = { logTail, exitCode: result.exitCode, signal: result.signal, runnerMs };
    try {
        await recordRunEnd(client, key, {
            status: succeeded ? "succeeded" : "failed",
            exitCode: result.exitCode,
            logTail: logTail.join("\n"),
        });
    } catch (err) {
        context.log(
            `the migration exited ${result.exitCode ?? result.signal} but \`${TOOL_LEDGER}\` could not record it ` +
                `(${err instanceof Error ? err.message : String(err)}); its row stays 'running' and blocks further runs.\n` +
                waysForward(key.app, key.version, stoppedWriters),
        );
        return { outcome: "error", details: { exitCode: result.exitCode }, ...ran };
    }
    const repeated = previouslyApplied.length > 0 ? { previouslyApplied } : {};
    if (!succeeded) return { outcome: "failed", details: { exitCode: result.exitCode, ...repeated }, ...ran };
    await snapshotSchema(client, context);
    context.log(`migration of \`${key.app}\` ${key.version} succeeded`);
    return { outcome: "succeeded", details: { exitCode: 0, ...repeated }, ...ran };
}

/**
 * The schema right after a successful migration is the reference `drift` compares the
 * live database with later. Its loss costs only that reference, never the migration.
 */
async function snapshotSchema(client: Client, context: RunOnceContext): Promise<void> {
    try {
        await recordSchemaSnapshot(client, context.request.key);
    } catch (err) {
        context.log(
            `the migration succeeded, but the schema it left could not be recorded for \`drift\` ` +
                `(${err instanceof Error ? err.message : String(err)}); \`drift\` needs \`--migrations-dir\` until the next migration`,
        );
    }
}
