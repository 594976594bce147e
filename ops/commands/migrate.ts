import { OpsCommand, OpsIO, UsageError } from "../command";
import { parseDuration, parseFlags, requireValue } from "../flags";
import { validateApp, validateDigest, validateVersion } from "../validate";
import { failureMessage } from "../migrate/plan";
import { MigrateRequest, migrateExitStatus, runMigrationOnce } from "../migrate/runOnce";
import { parseDatabaseUrl, redactor } from "../pg/connection";
import { ledgerTarget, TOOL_LEDGER } from "../pg/ledgers";

export type { MigrateRequest } from "../migrate/runOnce";

export const DEFAULT_LOCK_TIMEOUT = "10m";

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

async function runMigrate(args: string[], io: OpsIO): Promise<number> {
    const request = parseMigrateArgs(args);
    // Neither variable set: parseDatabaseUrl names DATABASE_URL as the missing one.
    const ledger = ledgerTarget(io.env) ?? parseDatabaseUrl(io.env.DATABASE_URL);
    const redact = redactor(ledger);
    const result = await runMigrationOnce({
        request,
        ledger,
        env: io.env,
        stderr: io.stderr,
        redact,
        log: (line) => io.stderr.write(`${redact(`migrate: ${line}`)}\n`),
    });
    if (result.outcome === "failed") {
        const { key, stoppedWriters } = request;
        io.stderr.write(`${failureMessage(key, result.exitCode ?? null, result.signal ?? null, result.logTail, stoppedWriters)}\n`);
    }
    const ran = result.outcome === "succeeded" || result.outcome === "failed";
    const { app, version, digest } = request.key;
    io.stdout.write(`${JSON.stringify({ ran, outcome: result.outcome, app, version, digest, ...result.details })}\n`);
    return migrateExitStatus(result.outcome);
}

export const command: OpsCommand = {
    name: "migrate",
    summary: "run a release's migration exactly once, under a per-app lock, ledger checked first",
    usage: USAGE,
    run: runMigrate,
};
