import { PostgresBackupRecord } from "../../core/backupLog";
import { checksumMismatch } from "../checksum";
import { OpsCommand, OpsIO, UsageError } from "../command";
import { addedNames, appliedFrameworkMigrations, reproduceCommands, rowCountChanges, unexpectedCountChanges } from "../migrate/rehearsal";
import { RunOnceResult, runMigrationOnce } from "../migrate/runOnce";
import { parseRehearseArgs, RehearseRequest } from "../migrate/rehearseArgs";
import { liveSource, RehearsalSource, storedSource } from "../migrate/rehearsalSource";
import { scratchDatabaseName, ScratchDatabase, urlNamingDatabase, withScratchDatabase } from "../migrate/scratchDatabase";
import { parseDatabaseUrl, PgTarget, redactor } from "../pg/connection";
import { compareFacts, Facts, readFacts } from "../pg/facts";
import { LEDGER_URL } from "../pg/ledgers";
import { restoreArchive, withClient } from "../pg/restore";
import { readDjangoMigrations, readPrismaMigrations } from "../preflight/sources";
import { secretScrubber } from "../report";
import { storeFromFlags } from "../store/backupStore";
import { DEFAULT_LOCK_TIMEOUT } from "./migrate";

const USAGE = `usage: safe-release-ops rehearse (--id <backup id> --store <dir | s3://bucket/prefix> | --from-live)
                                 --app <app> --version <vX.Y.Z> --digest <sha256:…>
                                 [--critical-tables a,b] [--expect-changed a,b] [--migrations-dir <dir>]
                                 [--lock-timeout ${DEFAULT_LOCK_TIMEOUT}] [--fix-forward-from <vX.Y.Z>]
                                 [--scratch-database sr_rehearse_<app>] -- <runner> [args…]
       (--log <backup log> in place of --store: a directory store's log)

Runs a release's migration on a copy of the data first. Restores the logged postgres backup
(--id, brought from --store and checked against its SHA-256), or with --from-live a dump of the
live database taken now for the rehearsal alone (in its own snapshot, while writers run; removed
after), into a scratch database <db>_rehearse_<stamp> beside the live one (which
is never written; DATABASE_URL names it) — or into --scratch-database sr_rehearse_<app>, a
fixed name a runner told in advance can point at (a leftover of it is dropped first) —
checks the copy against the dump's facts, then
runs the migration there exactly as \`migrate\` would (the same ledger rules on the copy's
own ledger, the same lock, the same <runner>) with DATABASE_URL naming the copy, and checks:
  - the migration succeeded (or the copy records it as applied already);
  - the framework migrations it applied (\`_prisma_migrations\`, \`django_migrations\`), listed;
    with --migrations-dir, every migration there that the copy lacked must be among them;
  - the exact row counts of the critical tables (--critical-tables, default the backup's)
    are unchanged, except for the tables --expect-changed names;
  - its wall time: the expected length of the write pause of the real migration.
The scratch database is dropped at the end, also after a failure (said on stderr).
A failure prints the migration's last lines (secrets masked) and the commands that do it
again by hand; they read $DATABASE_URL, never a password.
stdout: {"outcome":"passed"|"failed","migrationSeconds":…,"addedMigrations":[…],"rowCounts":{…},"scratchDatabase":…,…}
exit status: 0 passed, 1 failed, 2 usage error.
`;

/** Everything a rehearsal found; `problems` empty means it passed. */
interface Findings {
    problems: string[];
    migration?: RunOnceResult;
    addedMigrations: string[];
    pendingMigrations?: string[];
    rowCounts: ReturnType<typeof rowCountChanges>;
    restoreMs?: number;
}

async function runRehearse(args: string[], io: OpsIO): Promise<number> {
    const request = parseRehearseArgs(args);
    const runnerUrl = io.env.DATABASE_URL;
    const runnerTarget = parseDatabaseUrl(runnerUrl);
    const ledgerUrl = io.env[LEDGER_URL] ?? runnerUrl!;
    const live = io.env[LEDGER_URL] !== undefined ? parseDatabaseUrl(ledgerUrl, LEDGER_URL) : runnerTarget;
    if (request.source.kind === "live") {
        const critical = request.criticalTables ?? [];
        checkExpectChanged(request, critical);
        const { app, version } = request.migrate.key;
        const source = await liveSource(live, app, version, critical, io.env, io.stderr);
        try {
            return await rehearseFrom(request, source, { args, io, runnerUrl: runnerUrl!, runnerTarget, live });
        } finally {
            source.cleanup();
        }
    }
    const opened = storeFromFlags(request.source.flags, io.env);
    let source: RehearsalSource;
    try {
        source = await storedSource(opened!.store, request.source.id, io.stderr);
    } finally {
        opened!.store.close();
    }
    try {
        if (source.record.app !== request.migrate.key.app) {
            throw new UsageError(
                `\`--id\` must name a backup of \`${request.migrate.key.app}\` (\`--app\`); \`${source.record.id}\` is a backup of \`${source.record.app}\``,
            );
        }
        checkExpectChanged(request, request.criticalTables ?? Object.keys(source.facts?.rowCounts ?? {}));
        return await rehearseFrom(request, source, { args, io, runnerUrl: runnerUrl!, runnerTarget, live });
    } finally {
        source.cleanup();
    }
}

function checkExpectChanged(request: RehearseRequest, critical: readonly string[]): void {
    const strays = request.expectChanged.filter((t) => !critical.includes(t));
    if (strays.length > 0) {
        throw new UsageError(
            `\`--expect-changed\` must name critical tables (${critical.length > 0 ? critical.join(", ") : "none"}); got ${strays.map((t) => `\`${t}\``).join(", ")}`,
        );
    }
}

interface RehearsalContext {
    readonly args: string[];
    readonly io: OpsIO;
    readonly runnerUrl: string;
    readonly runnerTarget: PgTarget;
    readonly live: PgTarget;
}

async function rehearseFrom(request: RehearseRequest, source: RehearsalSource, context: RehearsalContext): Promise<number> {
    const { args, io, runnerUrl, runnerTarget, live } = context;
    const { record, facts } = source;
    const critical = request.criticalTables ?? Object.keys(facts?.rowCounts ?? {});
    const scrub = secretScrubber(io.env);
    const redact = (text: string): string => scrub(redactor(live)(redactor(runnerTarget)(text)));
    const log = (line: string): void => void io.stderr.write(`${redact(`rehearse: ${line}`)}\n`);
    const scratchName = request.scratchDatabase ?? scratchDatabaseName(live.database, "rehearse", new Date());
    if (scratchName === live.database) {
        throw new UsageError(`\`--scratch-database\` names the live database \`${live.database}\` itself: a rehearsal never writes there`);
    }
    const started = Date.now();
    let dropped = false;
    let findings: Findings;
    // What the live database records as applied, to prove after that the rehearsal left it alone.
    const liveApplied = await withClient(live, appliedFrameworkMigrations);
    try {
        findings = await withScratchDatabase(
            live,
            scratchName,
            io.env,
            // A fixed name is the rehearsal's own: what an interrupted earlier run left under it goes first.
            request.scratchDatabase !== undefined
                ? (existed) => existed && log(`dropped ${scratchName}, left by an earlier rehearsal`)
                : undefined,
            (error) => {
                dropped = error === undefined;
                log(
                    error === undefined
                        ? `dropped the scratch database ${scratchName}`
                        : `could not drop the scratch database ${scratchName} (${error.message}); drop it by hand: dropdb --maintenance-db="$DATABASE_URL" ${scratchName}`,
                );
            },
            (scratch) =>
                rehearseOn(scratch, { request, record, facts, critical, runnerUrl, io, log, redact, description: source.description }),
        );
    } catch (err) {
        findings = { problems: [redact(err instanceof Error ? err.message : String(err))], addedMigrations: [], rowCounts: {} };
    }
    const reachedLive = addedNames(liveApplied, await withClient(live, appliedFrameworkMigrations));
    if (reachedLive.length > 0) {
        // The runner reads its database from somewhere else than DATABASE_URL (an env file, a setting
        // of its own): the migration ran on the live database. Said first and loudly; nothing later runs.
        findings.problems.unshift(
            `the migration reached the LIVE database ${live.database}, not the copy: it applied ${reachedLive.join(", ")} there. ` +
                "Its runner takes its database from elsewhere than DATABASE_URL; the live schema is now the new version's, " +
                "while the writers still run the old one: stop them, then finish the release or restore the pre-upgrade backup",
        );
    }
    const passed = findings.problems.length === 0;
    const migrationSeconds = findings.migration?.runnerMs === undefined ? null : findings.migration.runnerMs / 1000;
    const reproduce = reproduceCommands({
        liveDatabase: live.database,
        scratchDatabase: scratchName,
        dumpFile: source.kept ?? "rehearsal.dump",
        dumpedNow: source.kept === undefined,
        runner: request.migrate.runner,
        rehearseArgs: ["rehearse", ...args],
    });
    const outputTail = findings.migration?.logTail ?? [];
    if (passed) {
        log(
            `passed: the migration took ${migrationSeconds === null ? "no time (nothing ran)" : `${migrationSeconds.toFixed(3)} s`} on a copy of ` +
                `${source.description}; expect the real one to pause writers about as long`,
        );
    } else {
        for (const problem of findings.problems) log(`failed: ${problem}`);
        if (outputTail.length > 0) {
            io.stderr.write(`rehearse: last ${outputTail.length} line(s) of the migration's output:\n`);
            for (const line of outputTail) io.stderr.write(`  | ${line}\n`);
        }
        io.stderr.write(`rehearse: to reproduce by hand, with DATABASE_URL set as for this run:\n`);
        for (const line of reproduce) io.stderr.write(`  ${redact(line)}\n`);
    }
    const { app, version, digest } = request.migrate.key;
    const result = {
        outcome: passed ? "passed" : "failed",
        app,
        version,
        digest,
        backupId: record.id,
        scratchDatabase: scratchName,
        scratchDropped: dropped,
        migration: findings.migration?.outcome ?? "not-started",
        migrationSeconds,
        addedMigrations: findings.addedMigrations,
        ...(findings.pendingMigrations !== undefined ? { pendingMigrations: findings.pendingMigrations } : {}),
        rowCounts: findings.rowCounts,
        problems: findings.problems,
        ...(passed ? {} : { outputTail, reproduce: reproduce.map(redact) }),
        restoreSeconds: findings.restoreMs === undefined ? null : findings.restoreMs / 1000,
        totalSeconds: (Date.now() - started) / 1000,
    };
    io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return passed ? 0 : 1;
}

interface Rehearsal {
    readonly request: RehearseRequest;
    readonly description: string;
    readonly record: PostgresBackupRecord;
    readonly facts: Facts | undefined;
    readonly critical: readonly string[];
    readonly runnerUrl: string;
    readonly io: OpsIO;
    readonly log: (line: string) => void;
    readonly redact: (text: string) => string;
}

async function rehearseOn(scratch: ScratchDatabase, r: Rehearsal): Promise<Findings> {
    const findings: Findings = { problems: [], addedMigrations: [], rowCounts: {} };
    r.log(`restoring ${r.description} into the scratch database ${scratch.name}`);
    const streamed = await restoreArchive(r.record.location, scratch.target, r.io.env, r.io.stderr);
    findings.restoreMs = streamed.durationMs;
    if (streamed.sha256 !== r.record.sha256) {
        findings.problems.push(checksumMismatch(r.record.location, r.record.sha256, streamed.sha256));
        return findings;
    }
    const factTables = Object.keys(r.facts?.rowCounts ?? {});
    const counted = [...new Set([...r.critical, ...factTables])];
    const before = await withClient(scratch.target, async (client) => ({
        facts: await readFacts(client, scratch.name, counted, undefined, "omit"),
        applied: await appliedFrameworkMigrations(client),
    }));
    if (r.facts !== undefined) {
        const restored = { ...before.facts, rowCounts: pick(before.facts.rowCounts, factTables) };
        const differences = compareFacts(r.facts, restored);
        if (differences.length > 0) {
            findings.problems.push(`the restored copy does not match the facts of ${r.description}: ${differences.join("; ")}`);
            return findings;
        }
    }
    const missing = r.critical.filter((t) => before.facts.rowCounts[t] === undefined);
    if (missing.length > 0) {
        findings.problems.push(`\`--critical-tables\` names ${missing.map((t) => `\`${t}\``).join(", ")}, missing from the backup's data`);
        return findings;
    }
    const available = r.request.migrationsDir === undefined ? undefined : migrationNames(r.request.migrationsDir);
    if (available !== undefined) findings.pendingMigrations = addedNames(before.applied, available);

    const env: NodeJS.ProcessEnv = { ...r.io.env, DATABASE_URL: urlNamingDatabase(r.runnerUrl, scratch.name) };
    delete env[LEDGER_URL];
    const migration = await runMigrationOnce({
        request: r.request.migrate,
        ledger: scratch.target,
        env,
        stderr: r.io.stderr,
        redact: r.redact,
        log: r.log,
    });
    findings.migration = migration;
    const after = await withClient(scratch.target, async (client) => ({
        facts: await readFacts(client, scratch.name, [...r.critical], undefined, "omit"),
        applied: await appliedFrameworkMigrations(client),
    }));
    findings.addedMigrations = addedNames(before.applied, after.applied);
    findings.rowCounts = rowCountChanges(pick(before.facts.rowCounts, [...r.critical]), after.facts.rowCounts, r.request.expectChanged);
    if (migration.outcome !== "succeeded" && migration.outcome !== "already-applied") {
        findings.problems.push(describeMigrationFailure(migration));
        return findings;
    }
    const notApplied = addedNames(findings.addedMigrations, findings.pendingMigrations ?? []);
    if (notApplied.length > 0) {
        findings.problems.push(
            `the migration succeeded but did not apply ${notApplied.join(", ")}: pending in \`--migrations-dir\`, ` +
                "not recorded in the framework's ledger of the copy",
        );
    }
    findings.problems.push(...unexpectedCountChanges(findings.rowCounts));
    return findings;
}

function describeMigrationFailure(migration: RunOnceResult): string {
    if (migration.outcome === "failed") {
        const how =
            migration.exitCode !== null && migration.exitCode !== undefined
                ? `exit code ${migration.exitCode}`
                : `signal ${migration.signal ?? "unknown"}`;
        return `the migration failed with ${how} on the copy; the live database was not touched`;
    }
    return `the migration did not run on the copy (\`migrate\` outcome: ${migration.outcome}, said above); the live database was not touched`;
}

/** Migration names as the frameworks record them: Prisma folders, Django `app.name`. */
function migrationNames(dir: string): string[] {
    const prisma = [...readPrismaMigrations(dir).keys()];
    const django = [...readDjangoMigrations(dir).files].map((file) => file.replace("/", "."));
    return [...prisma, ...django].sort();
}

function pick(counts: Record<string, number>, tables: readonly string[]): Record<string, number> {
    return Object.fromEntries(tables.filter((t) => counts[t] !== undefined).map((t) => [t, counts[t]]));
}

export const command: OpsCommand = {
    name: "rehearse",
    summary: "run a release's migration on a restored copy of a backup first: ledger rows, row counts, wall time",
    usage: USAGE,
    run: runRehearse,
};
