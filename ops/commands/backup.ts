import * as fs from "fs";
import * as path from "path";
import { ARCHIVE_EXTENSIONS, archiveDirectory, Compression, inspectArchive } from "../archive";
import { DirectoryBackupRecord, PostgresBackupRecord, RecordHead, recordHead } from "../../core/backupLog";
import { assertAppendable, directoryRecord, recorded } from "../backupRecording";
import { fsyncPath } from "../checksum";
import { OpsCommand, OpsIO, UsageError } from "../command";
import { FlagSpec, ParsedFlags, parseFlags, requireValue } from "../flags";
import { describeTarget, parseDatabaseUrl, redactor } from "../pg/connection";
import { DEFAULT_COMPRESS_LEVEL, dumpFileName, dumpWithFacts, listArchive, parseDumpCompression } from "../pg/dump";
import { parseCriticalTables } from "../pg/facts";
import { removeStalePartials } from "../partialFiles";
import { reported } from "../report";
import { localFileSink } from "../store/artifact";
import { validateApp, validateVersion } from "../validate";

const usage = `usage: safe-release-ops backup --kind postgres --app <app> --version <vX.Y.Z> --dir <backup dir>
                        [--critical-tables a,b,c] [--before-first-migration] [--compress 0-9] [--log <path>]
       safe-release-ops backup --kind directory --path <data dir> --app <app> --version <vX.Y.Z> --dir <backup dir>
                        [--compression none|gzip] [--quiesced] [--log <path>]

Takes a backup, verifies it, appends its record to the backup log (default <dir>/backups.log)
and prints the record as JSON on stdout. Progress goes to stderr.
A backup writes <file>.<pid>.partial and names it <file> once whole and on disk; the next backup
into <dir> removes the partial files of processes that are gone (a killed backup's). A log that
is a directory or not writable fails before the dump; a record that cannot be appended (a full
disk) removes the dump and its facts, which no record would name, and exits 1.

postgres: DATABASE_URL (environment) names the database. pg_dump -Fc streams to
  <dir>/<app>-<version>-<UTC stamp>.dump, hashed (SHA-256) in the same pass; verified means the
  file holds every streamed byte and pg_restore --list reads its table of contents. Facts — the
  migration ledgers and exact row counts of --critical-tables — are read in the same
  snapshot as the dump and written to <file>.facts.json; restore checks against them.
  A critical table that does not exist fails the backup (a misspelt name), except with
  --before-first-migration (a first release: its migration creates them), where it is not counted.
  --compress: zlib level, default ${DEFAULT_COMPRESS_LEVEL} (fast: the backup runs while writes are paused).
  SAFE_RELEASE_PG_BIN: directory of pg_dump/pg_restore matching the server (else PATH).
  With coreutils' stdbuf on PATH, pg_dump writes in 1 MiB pieces (less overhead, same bytes).

directory: archives --path (e.g. a Pebble --db directory) to <dir>/<app>-<version>-<stamp>.tar[.gz].
  A copy of a directory that is being written is crash-consistent at best (files are copied
  at different instants; a file rewritten mid-copy is torn). Stop the writers first and pass
  --quiesced for a consistent copy: the record then says "quiesced", and a file that changes
  during the copy fails the backup. --compression defaults to none (stores are usually
  compressed already; gzip costs time inside the write pause).
`;

const FLAGS: FlagSpec = {
    kind: "value",
    app: "value",
    version: "value",
    dir: "value",
    log: "value",
    "critical-tables": "value",
    "before-first-migration": "switch",
    compress: "value",
    path: "value",
    compression: "value",
    quiesced: "switch",
};

export const command: OpsCommand = {
    name: "backup",
    summary: "back up a PostgreSQL database (pg_dump + facts) or a data directory, verify it, log its checksum",
    usage,
    run: (args: string[], io: OpsIO): Promise<number> =>
        reported("backup", io, async () => {
            const flags = parseFlags(args, FLAGS);
            const kind = flags.values.get("kind");
            if (kind !== "postgres" && kind !== "directory") {
                throw new UsageError(`\`--kind\` must be postgres or directory; got ${kind === undefined ? "nothing" : `\`${kind}\``}`);
            }
            const app = validateApp(requireValue(flags, "app", "the application being backed up"));
            const version = validateVersion(requireValue(flags, "version", "the release version being backed up for, e.g. v1.5.0"));
            const dir = path.resolve(requireValue(flags, "dir", "the directory that receives backups"));
            const log = path.resolve(flags.values.get("log") ?? path.join(dir, "backups.log"));
            // Before the dump, which runs inside the write pause: a log that cannot take the record wastes it.
            assertAppendable(log);
            const now = new Date();
            const record =
                kind === "postgres"
                    ? await backupPostgres(flags, dir, recordHead(kind, app, version, now), io)
                    : await backupDirectory(flags, dir, recordHead(kind, app, version, now), io);
            if (!record) return 1;
            if (!recorded("backup", log, record, io)) return 1;
            io.stdout.write(`${JSON.stringify(record, null, 2)}\n`);
            return record.verified ? 0 : 1;
        }),
};

async function backupPostgres(
    flags: ParsedFlags,
    dir: string,
    head: RecordHead<"postgres">,
    io: OpsIO,
): Promise<PostgresBackupRecord | undefined> {
    const criticalTables = parseCriticalTables(flags.values.get("critical-tables"));
    const compression = parseDumpCompression(flags.values.get("compress"));
    const target = parseDatabaseUrl(io.env.DATABASE_URL);
    fs.mkdirSync(dir, { recursive: true });
    removeStalePartials(dir, io.stderr);
    const file = path.join(dir, dumpFileName(head.id, compression));
    io.stderr.write(`backing up ${describeTarget(target)} to ${file}\n`);
    let dump;
    try {
        dump = await dumpWithFacts({
            target,
            env: io.env,
            sink: localFileSink(file),
            criticalTables,
            beforeFirstMigration: flags.switches.has("before-first-migration"),
            compression,
            stderr: io.stderr,
        });
    } catch (err) {
        if (err instanceof UsageError) throw err;
        io.stderr.write(`backup: ${redactor(target)((err as Error).message)}\n`);
        return undefined;
    }
    const factsLocation = `${file}.facts.json`;
    fs.writeFileSync(factsLocation, `${JSON.stringify(dump.facts, null, 2)}\n`);
    fsyncPath(factsLocation);
    fsyncPath(dir);
    const verified = await verifiedDump(file, dump.size, io);
    return { ...head, size: dump.size, sha256: dump.sha256, location: file, factsLocation, verified, database: target.database };
}

async function backupDirectory(
    flags: ParsedFlags,
    dir: string,
    head: RecordHead<"directory">,
    io: OpsIO,
): Promise<DirectoryBackupRecord | undefined> {
    const source = path.resolve(requireValue(flags, "path", "the data directory to archive"));
    const inside = path.relative(source, dir);
    if (inside === "" || (!inside.startsWith("..") && !path.isAbsolute(inside))) {
        // tar would archive the archive it is writing.
        throw new UsageError(`\`--dir\` must be outside \`--path\` (${source}); got \`${dir}\``);
    }
    const compression = (flags.values.get("compression") ?? "none") as Compression;
    if (!(compression in ARCHIVE_EXTENSIONS)) {
        throw new UsageError(`\`--compression\` must be none or gzip; got \`${compression}\``);
    }
    const quiesced = flags.switches.has("quiesced");
    fs.mkdirSync(dir, { recursive: true });
    removeStalePartials(dir, io.stderr);
    const file = path.join(dir, `${head.id}${ARCHIVE_EXTENSIONS[compression]}`);
    io.stderr.write(`archiving ${source} to ${file}${quiesced ? " (writers stopped)" : " (live: crash-consistent at best)"}\n`);
    let archive;
    try {
        archive = await archiveDirectory(source, file, { compression, quiesced, stderr: io.stderr });
    } catch (err) {
        io.stderr.write(`backup: ${(err as Error).message}\n`);
        return undefined;
    }
    fsyncPath(dir);
    const verified = await verifiedAgainst(
        archive.sha256,
        async () => {
            const check = await inspectArchive(file);
            if (check.files !== archive.files || check.contentBytes !== archive.contentBytes) {
                throw new Error(
                    `archive lists ${check.files} files (${check.contentBytes} bytes); ${archive.files} (${archive.contentBytes}) were written`,
                );
            }
            return check;
        },
        io,
    );
    return directoryRecord(head, archive, { file, source, verified, quiesced });
}

/**
 * The dump's checksum was taken from the very bytes that were written and fsynced;
 * reading them back would only re-read the page cache. So the check is that the file
 * holds every byte that was streamed and that pg_restore reads its table of contents.
 */
async function verifiedDump(file: string, streamedBytes: number, io: OpsIO): Promise<boolean> {
    const started = Date.now();
    try {
        const onDisk = fs.statSync(file).size;
        if (onDisk !== streamedBytes) throw new Error(`\`${file}\` holds ${onDisk} bytes; ${streamedBytes} were streamed`);
        const entries = await listArchive(file, io.env).catch((err: Error) => {
            throw new Error(`\`${file}\` must be a pg_dump custom-format archive that pg_restore can read: ${err.message}`);
        });
        io.stderr.write(
            `verified (archive readable: ${entries} entries; checksum taken as written) in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
        );
        return true;
    } catch (err) {
        io.stderr.write(`backup: verification failed: ${(err as Error).message}\n`);
        return false;
    }
}

/** Reads the written archive back: the record says `verified` only if its bytes hash to what was streamed. */
async function verifiedAgainst(
    expected: string,
    check: () => Promise<{ sha256: string; readError?: string }>,
    io: OpsIO,
): Promise<boolean> {
    const started = Date.now();
    try {
        const { sha256, readError } = await check();
        if (readError !== undefined) throw new Error(readError);
        if (sha256 === expected) {
            io.stderr.write(`verified (checksum read back, archive readable) in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
            return true;
        }
        io.stderr.write(`backup: verification failed: checksum of the written file is ${sha256}, ${expected} was streamed\n`);
    } catch (err) {
        io.stderr.write(`backup: verification failed: ${(err as Error).message}\n`);
    }
    return false;
}
