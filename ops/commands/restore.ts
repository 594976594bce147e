import * as fs from "fs";
import * as path from "path";
import { countTree, extractArchive } from "../archive";
import { BackupRecord, backupStamp, DirectoryBackupRecord, findRecord, PostgresBackupRecord, readLog } from "../backupLog";
import { checksumMismatch } from "../checksum";
import { OpsCommand, OpsIO, UsageError } from "../command";
import { describeTarget, parseDatabaseUrl } from "../pg/connection";
import { parseFacts } from "../pg/facts";
import { restorePostgres } from "../pg/restore";
import { parseFlags, requireValue } from "../flags";
import { reported } from "../report";

const usage = `usage: safe-release-ops restore --id <backup id> --log <backup log> [--drill] [--path <dir>]

Restores a logged backup without ever overwriting the live data first:

postgres: DATABASE_URL (environment) names the live database. The dump is restored into a
  fresh database <db>_restore_<stamp> (pg_restore fed through stdin, progress on stderr),
  checked against the backup's facts (ledger rows and exact row counts of the critical
  tables must be equal; every difference is listed), and only then swapped in: new
  connections are refused, remaining sessions terminated, the live database renamed to
  <db>_pre_restore_<stamp> (kept) and the restored one renamed to <db>. On any failure the
  live database is untouched and the scratch database is kept for inspection.
  SAFE_RELEASE_PG_MAINTENANCE_DB: database used to create/rename/drop (default postgres).
directory: extracts into <path>.restore-<stamp> beside the target, checks the checksum and
  the file count and bytes of the record, then renames the target to <path>.pre-restore-<stamp>
  (kept) and the extracted copy to <path>. --path overrides the recorded directory.

--drill: restore and verify into the scratch copy, report, remove it; live data untouched
  (the runbook's "restore backups to staging and run smoke tests").
Prints the result (names, verified facts, timings) as JSON on stdout; exits 1 on failure.
`;

export const command: OpsCommand = {
    name: "restore",
    summary: "restore a logged backup beside the live data, verify it against its facts, then swap it in (or --drill)",
    usage,
    run: (args: string[], io: OpsIO): Promise<number> =>
        reported("restore", io, async () => {
            const flags = parseFlags(args, { id: "value", log: "value", drill: "switch", path: "value" });
            const id = requireValue(flags, "id", "the id of a backup in the log");
            const log = requireValue(flags, "log", "the backup log that records `--id`");
            const record = findRecord(readLog(log), id, log);
            if (record.kind === "bucket" || record.kind === "kms") throw new UsageError(notRestorable(record));
            const drill = flags.switches.has("drill");
            const started = Date.now();
            const result =
                record.kind === "directory"
                    ? await restoreDirectory(record, flags.values.get("path"), drill, io)
                    : await restoreDatabase(record, drill, io);
            for (const difference of result.differences) io.stderr.write(`restore: difference: ${difference}\n`);
            if (typeof result.error === "string") io.stderr.write(`restore: ${result.error}\n`);
            if (!result.ok) io.stderr.write("restore: failed; the live data was not touched\n");
            io.stdout.write(`${JSON.stringify({ id, kind: record.kind, drill, ...result, totalMs: Date.now() - started }, null, 2)}\n`);
            return result.ok ? 0 : 1;
        }),
};

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

async function restoreDatabase(record: PostgresBackupRecord, drill: boolean, io: OpsIO): Promise<RestoreResult> {
    const live = parseDatabaseUrl(io.env.DATABASE_URL);
    if (record.factsLocation === undefined) {
        throw new UsageError(`\`--id\` must name a backup with facts to verify against; \`${record.id}\` has no \`factsLocation\``);
    }
    if (!fs.existsSync(record.factsLocation)) {
        throw new Error(
            `facts of backup \`${record.id}\` must be at \`${record.factsLocation}\` (its \`factsLocation\`); the file is missing`,
        );
    }
    const facts = parseFacts(fs.readFileSync(record.factsLocation, "utf8"), record.factsLocation);
    io.stderr.write(`restoring ${record.id} beside ${describeTarget(live)}${drill ? " (drill)" : ""}\n`);
    try {
        return {
            ...(await restorePostgres({
                file: record.location,
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
    }
}

/** Where the extracted copy and the kept original go: siblings, so the final renames stay on one filesystem. */
export function directoryRestoreNames(target: string, stamp: string): { scratch: string; preRestore: string } {
    return { scratch: `${target}.restore-${stamp}`, preRestore: `${target}.pre-restore-${stamp}` };
}

async function restoreDirectory(
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
    const started = Date.now();
    try {
        const { sha256 } = await extractArchive(record.location, scratch, io.stderr);
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
        const hadTarget = fs.existsSync(target);
        if (hadTarget) fs.renameSync(target, preRestore);
        try {
            fs.renameSync(scratch, target);
        } catch (err) {
            if (hadTarget) fs.renameSync(preRestore, target);
            throw err;
        }
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
    }
}
