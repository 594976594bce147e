import { Client } from "pg";
import { OpsCommand, OpsIO, UsageError } from "../command";
import { formatDuration, parseDuration, parseFlags, requireValue } from "../flags";
import { validateApp, validateDigest, validateVersion } from "../validate";
import { dockerOfRunner, runningOneOffs } from "../migrate/oneOffContainers";
import { blockingRows, decideMigration, failureMessage, standingRows, waysForward } from "../migrate/plan";
import { LineTail, runProgram } from "../migrate/runner";
import { connect, describeTarget, parseDatabaseUrl, redactor } from "../pg/connection";
import {
    ensureToolLedger,
    forgetRun,
    LEDGER_URL,
    ledgerTarget,
    MigrationKey,
    readToolLedger,
    recordRunEnd,
    recordRunStart,
    TOOL_LEDGER,
} from "../pg/ledgers";
import { acquireAdvisoryLock, advisoryLockKey, LockTimeoutError, releaseAdvisoryLock } from "../pg/lock";

export const DEFAULT_LOCK_TIMEOUT = "10m";

export interface MigrateRequest {
    readonly key: MigrationKey;
    readonly lockTimeoutMs: number;
    readonly fixForwardFrom?: string;
    /** The components the release stopped for this migration (`--stopped-writers`); unknown when not given. */
    readonly stoppedWriters?: readonly string[];
    /** The program that migrates, e.g. `docker run --rm … python manage.py migrate --noinput`. */
    readonly runner: readonly string[];
}

const USAGE = `usage: safe-release-ops migrate --app <app> --version <vX.Y.Z> --digest <sha256:…> [--lock-timeout ${DEFAULT_LOCK_TIMEOUT}]
                                [--fix-forward-from <vX.Y.Z>] [--stopped-writers <a,b>|''] -- <runner> [args…]

Runs a release's migration exactly once. Under a PostgreSQL advisory lock keyed by the
app (a second concurrent run waits, then finds the first one's result), it reads the
ledger table \`${TOOL_LEDGER}\` (created if missing):
  - a succeeded row for (app, version, digest): nothing runs; {"ran":false};
  - a failed or unfinished row of the app: refuses; writers stay stopped until you fix
    forward (a new version with --fix-forward-from <failed version>) or restore the
    pre-upgrade backup (\`release:restoreFrom\`); a migration is never retried blindly;
  - otherwise: records 'running', runs <runner> with this environment (DATABASE_URL
    included), streams its output to stderr and records 'succeeded' or 'failed' with
    the exit code and the last 50 lines.
    A refusal over an unfinished ('running') row whose runner is \`docker … run\` also lists the
    one-off containers of that version still running (\`docker ps\` by the labels
    safe-release.app/version/role=one-off), with the command that stops each.
Rows a restore marked \`restored_by\` (the data was put back to before their run) count
neither as applied nor as blocking: that version migrates again, in a row of its own.
The same version with another --digest (a rebuilt image) is another key: it migrates again, and
says so on stderr, in the result ("previouslyApplied":[{"digest","appliedAt"}]) and in its row's
\`repeats_digest\` (the earlier image's digest).

The ledger and the lock are in the database SAFE_RELEASE_LEDGER_URL names, else DATABASE_URL
(the same database: set the first where the migration reaches it under another address, such
as a container on a Docker network; the runner never sees it). The password is never printed.
stdout: {"ran":…,"outcome":"succeeded"|"already-applied"|"refused"|"failed"|"not-started"|"lock-timeout"|"error",…}
exit status: 0 succeeded or already applied, 1 anything else, 2 usage error.
`;

export function parseMigrateArgs(args: readonly string[]): MigrateRequest {
    const flags = parseFlags(args, {
        app: "value",
        version: "value",
        digest: "value",
        "lock-timeout": "value",
        "fix-forward-from": "value",
        "stopped-writers": "value",
    });
    const key = {
        app: validateApp(requireValue(flags, "app", "the application whose database is migrated")),
        version: validateVersion(requireValue(flags, "version", "the release version being migrated, e.g. v1.5.0")),
        digest: validateDigest(requireValue(flags, "digest", "the image digest of that version")),
    };
    const fixForward = flags.values.get("fix-forward-from");
    const stopped = flags.values.get("stopped-writers");
    if (flags.rest.length === 0) {
        throw new UsageError("a runner is required after `--`, e.g. `-- docker run --rm <image> python manage.py migrate --noinput`");
    }
    return {
        key,
        lockTimeoutMs: parseDuration(flags.values.get("lock-timeout") ?? DEFAULT_LOCK_TIMEOUT, "--lock-timeout"),
        ...(fixForward !== undefined ? { fixForwardFrom: validateVersion(fixForward, "fix-forward-from") } : {}),
        ...(stopped !== undefined ? { stoppedWriters: stopped.split(",").filter((name) => name !== "") } : {}),
        runner: flags.rest,
    };
}

type Outcome = "succeeded" | "already-applied" | "refused" | "failed" | "not-started" | "lock-timeout" | "error";

interface Session {
    readonly request: MigrateRequest;
    readonly io: OpsIO;
    readonly redact: (text: string) => string;
    log(line: string): void;
    /** Writes the one JSON result document and returns the exit status that goes with it. */
    finish(outcome: Outcome, extra?: Record<string, unknown>): number;
}

async function runMigrate(args: string[], io: OpsIO): Promise<number> {
    const request = parseMigrateArgs(args);
    // Neither variable set: parseDatabaseUrl names DATABASE_URL as the missing one.
    const target = ledgerTarget(io.env) ?? parseDatabaseUrl(io.env.DATABASE_URL);
    const redact = redactor(target);
    const session: Session = {
        request,
        io,
        redact,
        log: (line) => io.stderr.write(`${redact(`migrate: ${line}`)}\n`),
        finish: (outcome, extra = {}) => {
            const ran = outcome === "succeeded" || outcome === "failed";
            const { app, version, digest } = request.key;
            io.stdout.write(`${JSON.stringify({ ran, outcome, app, version, digest, ...extra })}\n`);
            return outcome === "succeeded" || outcome === "already-applied" ? 0 : 1;
        },
    };
    let client: Client | undefined;
    try {
        client = await connect(target);
        // A dropped connection also drops the lock; the 'running' row then keeps other runs out.
        client.on("error", (err) => session.log(`lost the database connection: ${err.message}`));
        return await migrateLocked(client, session);
    } catch (err) {
        const where = client ? "" : ` while connecting to ${describeTarget(target)}`;
        session.log(`error${where}: ${err instanceof Error ? err.message : String(err)}`);
        return session.finish("error");
    } finally {
        await client?.end().catch(() => undefined);
    }
}

async function migrateLocked(client: Client, session: Session): Promise<number> {
    const { key, lockTimeoutMs } = session.request;
    const lockKey = advisoryLockKey("migrate", key.app);
    try {
        await acquireAdvisoryLock(client, lockKey, {
            timeoutMs: lockTimeoutMs,
            onWait: (pid) =>
                session.log(
                    `another migration of \`${key.app}\` holds its lock${pid === undefined ? "" : ` (PostgreSQL backend pid ${pid})`}; ` +
                        `waiting up to ${formatDuration(lockTimeoutMs)} (\`--lock-timeout\`)`,
                ),
        });
    } catch (err) {
        if (!(err instanceof LockTimeoutError)) throw err;
        session.log(
            `gave up after ${formatDuration(lockTimeoutMs)} waiting for the migration lock of \`${key.app}\`: another migration still runs; ` +
                "nothing ran. Wait for it to finish, then run again (it will find that migration's result in the ledger).",
        );
        return session.finish("lock-timeout");
    }
    try {
        return await migrateOnce(client, session);
    } finally {
        await releaseAdvisoryLock(client, lockKey).catch(() => undefined);
    }
}

async function migrateOnce(client: Client, session: Session): Promise<number> {
    const { key, runner, fixForwardFrom, stoppedWriters } = session.request;
    await ensureToolLedger(client);
    const rows = await readToolLedger(client, key.app);
    const decision = decideMigration(rows, key, fixForwardFrom, stoppedWriters);
    if (decision.action === "skip") {
        const at = (decision.applied.finishedAt ?? decision.applied.startedAt).toISOString();
        session.log(`\`${key.app}\` ${key.version} (${key.digest}) was already migrated at ${at}; nothing to run`);
        return session.finish("already-applied", { appliedAt: at });
    }
    const { [LEDGER_URL]: _ledger, ...runnerEnv } = session.io.env;
    if (decision.action === "refuse") {
        session.io.stderr.write(`${session.redact(decision.message)}\n`);
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
                session.io.stderr.write(`${session.redact(line)}\n`);
        }
        return session.finish("refused");
    }
    // A rebuilt image of an applied version migrates again: said, and kept in its ledger row.
    const earlier = standingRows(rows).filter((r) => r.version === key.version && r.digest !== key.digest && r.status === "succeeded");
    const previouslyApplied = earlier.map((r) => ({ digest: r.digest, appliedAt: (r.finishedAt ?? r.startedAt).toISOString() }));
    await recordRunStart(client, key, decision.supersedes, previouslyApplied.at(-1)?.digest);
    for (const applied of previouslyApplied) {
        session.log(
            `\`${key.app}\` ${key.version} was already migrated at ${applied.appliedAt} from image ${applied.digest}; ` +
                `${key.digest} is another image of the same version, so its migration runs again (recorded as \`repeats_digest\` ` +
                `in \`${TOOL_LEDGER}\`). A migration that is not idempotent fails or applies twice: release a new version, do not rebuild one`,
        );
    }
    if (decision.supersedes !== undefined) {
        session.log(`fixing forward from ${decision.supersedes}: its unfinished rows are marked superseded by ${key.version}`);
    }
    for (const undone of rows.filter((r) => r.version === key.version && r.digest === key.digest && r.restoredBy)) {
        session.log(
            `${key.version} ran before (started ${undone.startedAt.toISOString()}), but restore ${undone.restoredBy} ` +
                "put the data back to before that run; migrating again",
        );
    }
    session.log(`migrating \`${key.app}\` ${key.version}: ${runner.join(" ")}`);
    const tail = new LineTail();
    const result = await runProgram(runner, runnerEnv, (line) => {
        const safe = session.redact(line);
        tail.push(safe);
        session.io.stderr.write(`${safe}\n`);
    });
    if (!result.started) {
        await forgetRun(client, key);
        session.log(`could not start \`${runner[0]}\`: ${result.startError}; nothing ran and the ledger is unchanged`);
        return session.finish("not-started");
    }
    const succeeded = result.exitCode === 0;
    const logTail = tail.lines();
    try {
        await recordRunEnd(client, key, {
            status: succeeded ? "succeeded" : "failed",
            exitCode: result.exitCode,
            logTail: logTail.join("\n"),
        });
    } catch (err) {
        session.log(
            `the migration exited ${result.exitCode ?? result.signal} but \`${TOOL_LEDGER}\` could not record it ` +
                `(${err instanceof Error ? err.message : String(err)}); its row stays 'running' and blocks further runs.\n` +
                waysForward(key.app, key.version, stoppedWriters),
        );
        return session.finish("error", { exitCode: result.exitCode });
    }
    if (!succeeded) {
        session.io.stderr.write(`${failureMessage(key, result.exitCode, result.signal, logTail, stoppedWriters)}\n`);
        return session.finish("failed", { exitCode: result.exitCode, ...repeated(previouslyApplied) });
    }
    session.log(`migration of \`${key.app}\` ${key.version} succeeded`);
    return session.finish("succeeded", { exitCode: 0, ...repeated(previouslyApplied) });
}

/** `previouslyApplied` in the result only when the version had been migrated from another image. */
function repeated(previouslyApplied: ReadonlyArray<{ digest: string; appliedAt: string }>): Record<string, unknown> {
    return previouslyApplied.length > 0 ? { previouslyApplied } : {};
}

export const command: OpsCommand = {
    name: "migrate",
    summary: "run a release's migration exactly once, under a per-app lock, ledger checked first",
    usage: USAGE,
    run: runMigrate,
};
