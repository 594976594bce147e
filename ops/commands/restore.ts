import * as fs from "fs";
import * as path from "path";
import { countTree, extractArchive, swapIn } from "../archive";
import { BackupRecord, backupStamp, DirectoryBackupRecord, findRecord, PostgresBackupRecord } from "../../core/backupLog";
import { checksumMismatch } from "../checksum";
import { OpsCommand, OpsIO, UsageError } from "../command";
import { describeTarget, parseDatabaseUrl, PgTarget, redactor } from "../pg/connection";
import { checkLedgerReachable, LedgerOutcome, markLedgerAfterRestore } from "../pg/ledgerAfterRestore";
import { ledgerTarget, TOOL_LEDGER } from "../pg/ledgers";
import { parseFacts } from "../pg/facts";
import { restorePostgres } from "../pg/restore";
import { ParsedFlags, parseFlags, requireValue } from "../flags";
import { reported } from "../report";
import { BackupStore, FetchedArtifact, storeFromFlags } from "../store/backupStore";

const usage = `usage: safe-release-ops restore --id <backup id> --store <dir | s3://bucket/prefix> [--drill] [--path <dir>] [--into <database>]
       (--log <backup log> in place of --store: a directory store's log)

Restores a logged backup without ever overwriting the live data first. The artifact is brought
from the store (an S3 object is downloaded to a temporary file) and its SHA-256 compared with
the record's BEFORE the database or directory is touched: a mismatch fails naming both.

postgres: DATABASE_URL (environment) names the live database. The dump is restored into a
  fresh database <db>_restore_<stamp> (pg_restore fed through stdin, progress on stderr),
  checked against the backup's facts (ledger rows and exact row counts of the critical
  tables must be equal; every difference is listed), and only then swapped in: new
  connections are refused, remaining sessions terminated, the live database renamed to
  <db>_pre_restore_<stamp> (kept) and the restored one renamed to <db>. On any failure the
  live database is untouched and the scratch database is kept for inspection.
  SAFE_RELEASE_PG_MAINTENANCE_DB: database used to create/rename/drop (default postgres).
  The live database must be the one the backup recorded (its \`database\`): a restore into a
  database of another name is refused unless --into <that name> says it is meant (a drill,
  which replaces nothing, needs no --into).
directory: extracts into <path>.restore-<stamp> beside the target, checks the checksum and
  the file count and bytes of the record, then renames the target to <path>.pre-restore-<stamp>
  (kept) and the extracted copy to <path>. --path overrides the recorded directory.

The migration ledger (\`${TOOL_LEDGER}\` in SAFE_RELEASE_LEDGER_URL's database, else
DATABASE_URL's) must agree with the restored data, or the next release of a version whose
migration the restore undid would skip it. It must be reachable before anything is touched;
after the swap, every run of the backup's app that started after the backup's \`time\` is
marked \`restored_by\` <backup id> (kept, readable, no longer applied nor blocking), so that
version migrates again. A pg restore of the ledger's own database brought the old ledger
back: nothing is left to mark, and the result says so. No ledger URL: nothing is marked.

--drill: restore and verify into the scratch copy, report, remove it; live data and the
  ledger untouched (the runbook's "restore backups to staging and run smoke tests").
Prints the result (names, verified facts, timings) as JSON on stdout; exits 1 on failure.
`;

export const command: OpsCommand = {
    name: "restore",
    summary: "restore a logged backup beside the live data, verify it against its facts, then swap it in (or --drill)",
    usage,
    run: (args: string[], io: OpsIO): Promise<number> =>
        reported("restore", io, async () => {
            const flags = parseFlags(args, { id: "value", store: "value", log: "value", drill: "switch", path: "value", into: "value" });
            const id = requireValue(flags, "id", "the id of a backup in the log");
            const opened = storeFromFlags(flags, io.env);
            if (opened === undefined) throw new UsageError(NO_STORE);
            const store = opened.store;
            try {
                return await restoreFrom(store, id, flags, io);
            } finally {
                store.close();
            }
        }),
};

/** The one message for a restore given neither store nor log. */
export const NO_STORE = "`--store` is required: the backup store (or `--log`, the backup log) that records `--id`";

async function restoreFrom(store: BackupStore, id: string, flags: ParsedFlags, io: OpsIO): Promise<number> {
    const record = findRecord(await store.records(), id, store.log);
    if (record.kind === "bucket" || record.kind === "kms") throw new UsageError(notRestorable(record));
    const drill = flags.switches.has("drill");
    const into = flags.values.get("into");
    const host = (record as { host?: unknown }).host;
    if (record.kind === "directory" && typeof host === "string") {
        throw new UsageError(
            `\`${record.id}\` is an archive of ${record.source} on ${host}: restore it there with \`safe-release-ops host-restore\`, ` +
                "which unpacks it on that host; `restore` would unpack it onto this machine's copy of that path",
        );
    }
    if (record.kind === "directory" && into !== undefined) {
        throw new UsageError(
            `\`--into\` names the database a postgres backup replaces; \`${record.id}\` is a directory backup (\`--path\` names its target)`,
        );
    }
    if (record.kind === "postgres") checkTargetDatabase(record, parseDatabaseUrl(io.env.DATABASE_URL).database, into, drill);
    const ledger = ledgerTarget(io.env);
    if (ledger !== undefined && !drill) await checkLedgerReachable(ledger);
    const started = Date.now();
    const restored =
        record.kind === "directory"
            ? await restoreDirectory(store, record, flags.values.get("path"), drill, io)
            : await restoreDatabase(store, record, drill, io);
    for (const difference of restored.differences) io.stderr.write(`restore: difference: ${difference}\n`);
    if (typeof restored.error === "string") io.stderr.write(`restore: ${restored.error}\n`);
    if (!restored.ok) io.stderr.write("restore: failed; the live data was not touched\n");
    const result = restored.ok ? await withLedger(restored, record, ledger, drill, io) : restored;
    io.stdout.write(`${JSON.stringify({ id, kind: record.kind, drill, ...result, totalMs: Date.now() - started }, null, 2)}\n`);
    return result.ok ? 0 : 1;
}

/**
 * A restore replaces the database `DATABASE_URL` names. One of another name than the backup's
 * is most likely a wrong URL (another app's database, production instead of staging), so it
 * is replaced only when `--into` names it. A drill replaces nothing and is not checked.
 */
export function checkTargetDatabase(record: PostgresBackupRecord, live: string, into: string | undefined, drill: boolean): void {
    if (into !== undefined && into !== live) {
        throw new UsageError(
            `\`--into\` must name the database \`DATABASE_URL\` names, the one the restore replaces (\`${live}\`); got \`${into}\``,
        );
    }
    if (into !== undefined || drill || record.database === live) return;
    const recorded = record.database === undefined ? "a database it does not name" : `database \`${record.database}\``;
    throw new UsageError(
        `refusing to restore backup \`${record.id}\` of ${recorded} into \`${live}\` (the database \`DATABASE_URL\` names): ` +
            `it would replace \`${live}\`. Point \`DATABASE_URL\` at the backup's database, or pass \`--into ${live}\` to replace \`${live}\` on purpose`,
    );
}

/** Bucket copies and key records are put back with the aws CLI, not by this program. */
export function notRestorable(record: BackupRecord & { kind: "bucket" | "kms" }): string {
    const must = `\`--id\` must name a postgres or directory backup; \`${record.id}\``;
    if (record.kind === "bucket") return `${must} is a bucket copy: restore it with \`aws s3 sync ${record.location} ${record.source}\``;
    return `${must} is a KMS key record (metadata only): compare it with \`aws kms describe-key --key-id ${record.location}\``;
}

interface RestoreResult {
    readonly ok: boolean;
    readonly differences: string[];
    readonly error?: string;
    readonly [detail: string]: unknown;
}

/** The artifact, here and hashed, or why it is not the recorded one; nothing is touched before this returns. */
async function fetchChecked(
    store: BackupStore,
    record: PostgresBackupRecord | DirectoryBackupRecord,
    io: OpsIO,
): Promise<{ fetched: FetchedArtifact } | { error: string }> {
    const fetched = await store.fetch(record.location, io.stderr);
    if (fetched.sha256 === record.sha256) return { fetched };
    fetched.cleanup();
    return { error: checksumMismatch(record.location, record.sha256, fetched.sha256) };
}

async function readFactsOf(store: BackupStore, record: PostgresBackupRecord): Promise<string> {
    if (record.factsLocation === undefined) {
        throw new UsageError(`\`--id\` must name a backup with facts to verify against; \`${record.id}\` has no \`factsLocation\``);
    }
    const missing = () =>
        new Error(`facts of backup \`${record.id}\` must be at \`${record.factsLocation}\` (its \`factsLocation\`); the file is missing`);
    if (store.location.kind === "directory" && !fs.existsSync(record.factsLocation)) throw missing();
    return store.readText(record.factsLocation).catch((err: Error) => {
        if (/NoSuchKey|ENOENT/.test(err.message)) throw missing();
        throw err;
    });
}

async function restoreDatabase(store: BackupStore, record: PostgresBackupRecord, drill: boolean, io: OpsIO): Promise<RestoreResult> {
    const live = parseDatabaseUrl(io.env.DATABASE_URL);
    const facts = parseFacts(await readFactsOf(store, record), record.factsLocation);
    const checked = await fetchChecked(store, record, io);
    if ("error" in checked) return { ok: false, differences: [], error: checked.error, liveDatabase: live.database, scratchKept: false };
    io.stderr.write(`restoring ${record.id} beside ${describeTarget(live)}${drill ? " (drill)" : ""}\n`);
    try {
        return {
            ...(await restorePostgres({
                file: checked.fetched.file,
                expectedSha256: record.sha256,
                facts,
                live,
                env: io.env,
                drill,
                stderr: io.stderr,
                now: new Date(),
            })),
        };
    } catch (err) {
        return { ok: false, differences: [], error: (err as Error).message, liveDatabase: live.database };
    } finally {
        checked.fetched.cleanup();
    }
}

/**
 * The ledger step after a successful restore. A failure here comes after the data was
 * swapped in: the result says so, and a rerun of the update restores again and marks.
 */
async function withLedger(
    restored: RestoreResult,
    record: PostgresBackupRecord | DirectoryBackupRecord,
    ledger: PgTarget | undefined,
    drill: boolean,
    io: OpsIO,
): Promise<RestoreResult> {
    const skipped = (note: string): RestoreResult => {
        io.stderr.write(`restore: ledger: ${note}\n`);
        return { ...restored, ledger: { database: ledger ? describeTarget(ledger) : null, marked: [], note } satisfies LedgerOutcome };
    };
    if (drill) return skipped("a drill leaves the migration ledger as it is");
    if (ledger === undefined) {
        return skipped("no SAFE_RELEASE_LEDGER_URL or DATABASE_URL: no migration ledger to bring in line with the restored data");
    }
    const restoredDatabase = record.kind === "postgres" ? parseDatabaseUrl(io.env.DATABASE_URL) : undefined;
    try {
        const outcome = await markLedgerAfterRestore(
            ledger,
            { id: record.id, app: record.app, time: record.time },
            restoredDatabase,
            io.stderr,
        );
        return { ...restored, ledger: outcome };
    } catch (err) {
        const error =
            `the data was restored, but the migration ledger at ${describeTarget(ledger)} could not be marked: ` +
            `${redactor(ledger)((err as Error).message)}. Until it is, a release of a version that ran after the backup skips its ` +
            "migration: run the update again (the restore runs again from the same backup, then marks the ledger)";
        io.stderr.write(`restore: ${error}\n`);
        return { ...restored, ok: false, error };
    }
}

/** Where the extracted copy and the kept original go: siblings, so the final renames stay on one filesystem. */
export function directoryRestoreNames(target: string, stamp: string): { scratch: string; preRestore: string } {
    return { scratch: `${target}.restore-${stamp}`, preRestore: `${target}.pre-restore-${stamp}` };
}

async function restoreDirectory(
    store: BackupStore,
    record: DirectoryBackupRecord,
    override: string | undefined,
    drill: boolean,
    io: OpsIO,
): Promise<RestoreResult> {
    const recorded = override ?? record.source;
    if (recorded === undefined)
        throw new UsageError(`\`--path\` must name the directory to restore; record \`${record.id}\` has no \`source\``);
    const target = path.resolve(recorded);
    const { scratch, preRestore } = directoryRestoreNames(target, backupStamp(new Date()));
    const base = { target, scratch };
    const checked = await fetchChecked(store, record, io);
    if ("error" in checked) return { ...base, ok: false, differences: [], error: checked.error, scratchKept: false };
    const started = Date.now();
    try {
        const { sha256 } = await extractArchive(checked.fetched.file, scratch, io.stderr);
        const extractMs = Date.now() - started;
        if (sha256 !== record.sha256) {
            return {
                ...base,
                ok: false,
                differences: [],
                error: checksumMismatch(record.location, record.sha256, sha256),
                scratchKept: true,
            };
        }
        const found = countTree(scratch);
        const differences: string[] = [];
        if (found.files !== record.files) differences.push(`file count: expected ${record.files}, got ${found.files}`);
        if (found.contentBytes !== record.contentBytes)
            differences.push(`bytes: expected ${record.contentBytes}, got ${found.contentBytes}`);
        if (differences.length > 0) return { ...base, ok: false, differences, scratchKept: true };
        const verified = { files: found.files, contentBytes: found.contentBytes };
        if (drill) {
            fs.rmSync(scratch, { recursive: true, force: true });
            return { ...base, ok: true, differences, verified, scratchKept: false, timingsMs: { extract: extractMs } };
        }
        const hadTarget = swapIn(scratch, target, preRestore);
        return {
            ...base,
            ok: true,
            differences,
            verified,
            scratchKept: false,
            preRestore: hadTarget ? preRestore : null,
            timingsMs: { extract: extractMs },
        };
    } catch (err) {
        return { ...base, ok: false, differences: [], error: (err as Error).message, scratchKept: fs.existsSync(scratch) };
    } finally {
        checked.fetched.cleanup();
    }
}
