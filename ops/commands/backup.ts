import * as path from "path";
import { ARCHIVE_EXTENSIONS, Compression } from "../archive";
import { DirectoryBackupRecord, PostgresBackupRecord, RecordHead, recordHead } from "../../core/backupLog";
import { directoryRecord, recorded } from "../backupRecording";
import { OpsCommand, OpsIO, UsageError } from "../command";
import { FlagSpec, ParsedFlags, parseFlags } from "../flags";
import { describeTarget, parseDatabaseUrl, redactor } from "../pg/connection";
import {
    COMPRESS_VALUES,
    DEFAULT_DUMP_COMPRESSION,
    dumpFileName,
    dumpWithFacts,
    listArchive,
    listArchiveStream,
    parseDumpCompression,
} from "../pg/dump";
import { parseCriticalTables } from "../pg/facts";
import { reported } from "../report";
import { archiveToSink, inspectArchiveStream } from "../store/archiveSink";
import { ArtifactSink } from "../store/artifact";
import { BackupStore, storeFromFlags } from "../store/backupStore";
import { validateApp, validateVersion } from "../validate";

const usage = `usage: safe-release-ops backup --kind postgres --app <app> --version <vX.Y.Z> --store <dir | s3://bucket/prefix>
                        [--critical-tables a,b,c] [--before-first-migration] [--compress zstd:N|gzip:N|none] [--sse-kms-key <key>]
       safe-release-ops backup --kind directory --path <data dir> --app <app> --version <vX.Y.Z> --store <dir | s3://bucket/prefix>
                        [--compression none|gzip] [--quiesced] [--sse-kms-key <key>]
       (--dir <backup dir> [--log <path>] in place of --store: a directory store whose log may sit elsewhere)

Takes a backup, verifies it, records it in the store's backup log and prints the record as
JSON on stdout. Progress goes to stderr.

The store (--store) outlives the machine that runs the backup when it is s3://bucket/prefix:
  every artifact goes to <prefix>/<name> (a dump streams into a multipart upload while pg_dump
  runs, hashed in the same pass; the object exists only once whole and checked), and each
  record is one object, <prefix>/records/<id>.json, put with If-None-Match: * (S3 has no
  append: one object per record means two backups never contend and none can drop the other's
  record). Objects are encrypted server-side: aws:kms with --sse-kms-key, else AES256. Records
  name artifacts as s3://bucket/prefix/<name>. AWS settings: the SDK's credential chain and
  region; AWS_ENDPOINT_URL for an S3-compatible endpoint.
A directory store keeps artifacts in <dir> and the log in <dir>/backups.log (--log moves it),
  one JSON line per record, each added with one O_APPEND write (concurrent backups each add
  their whole line).
Before anything is dumped, the store must take a probe object (written, read back, deleted)
and a directory store's log must be appendable: a store that refuses fails here, exit 1.
A killed backup leaves nothing a record names: a local artifact is written as
<file>.<pid>.partial and named <file> once whole and on disk; an S3 one is an unfinished
multipart upload. The next backup into the store removes partial files of processes that are
gone and aborts unfinished uploads whose writer is gone: a marker <prefix>/uploads/<name>.json
names the writer's host and pid (gone: that host, pid not running), and an upload of another
host, or without a marker, counts as gone after 24 h. A record that cannot be added removes
the dump and its facts, which no record would name, and exits 1.

postgres: DATABASE_URL (environment) names the database. pg_dump -Fc streams to
  <store>/<app>-<version>-<UTC stamp>.dump.zst (.dump with --compress gzip:N|none), hashed
  (SHA-256, of the stored bytes) in the same pass; verified means the
  store holds every streamed byte and pg_restore --list reads its table of contents. Facts — the
  migration ledgers and exact row counts of --critical-tables — are read in the same
  snapshot as the dump and written to <file>.facts.json; restore checks against them.
  A critical table that does not exist fails the backup (a misspelt name), except with
  --before-first-migration (a first release: its migration creates them), where it is not counted.
  --compress: ${COMPRESS_VALUES}, default ${DEFAULT_DUMP_COMPRESSION}: pg_dump writes its archive uncompressed
  and zstd (Debian package zstd) compresses it on a core of its own as it streams, about the time
  of pg_dump -Z0 for a third of the bytes (the backup runs while writes are paused); gzip:N is
  pg_dump's own zlib (about twice the time), none the plain archive.
  SAFE_RELEASE_PG_BIN: directory of pg_dump/pg_restore matching the server (else PATH).
  With coreutils' stdbuf on PATH, pg_dump writes in 1 MiB pieces (less overhead, same bytes).

directory: archives --path (e.g. a Pebble --db directory) to <store>/<app>-<version>-<stamp>.tar[.gz].
  A copy of a directory that is being written is crash-consistent at best (files are copied
  at different instants; a file rewritten mid-copy is torn). Stop the writers first and pass
  --quiesced for a consistent copy: the record then says "quiesced", and a file that changes
  during the copy fails the backup. --compression defaults to none (stores are usually
  compressed already; gzip costs time inside the write pause). The stored archive is read
  back (checksum, tar headers) before the record says verified.
`;

const FLAGS: FlagSpec = {
    kind: "value",
    app: "value",
    version: "value",
    store: "value",
    "sse-kms-key": "value",
    dir: "value",
    log: "value",
    "critical-tables": "value",
    "before-first-migration": "switch",
    compress: "value",
    path: "value",
    compression: "value",
    quiesced: "switch",
};

/** The one message for a backup given no store. */
export const NO_STORE =
    "`--store` is required: the backup store that receives backups, a directory or s3://<bucket>/<prefix> (or `--dir <directory>`)";

export const command: OpsCommand = {
    name: "backup",
    summary: "back up a PostgreSQL database (pg_dump + facts) or a data directory to a backup store, verify it, log its checksum",
    usage,
    run: (args: string[], io: OpsIO): Promise<number> =>
        reported("backup", io, async () => {
            const flags = parseFlags(args, FLAGS);
            const kind = flags.values.get("kind");
            if (kind !== "postgres" && kind !== "directory") {
                throw new UsageError(`\`--kind\` must be postgres or directory; got ${kind === undefined ? "nothing" : `\`${kind}\``}`);
            }
            const app = validateApp(requireFlag(flags, "app", "the application being backed up"));
            const version = validateVersion(requireFlag(flags, "version", "the release version being backed up for, e.g. v1.5.0"));
            const opened = storeFromFlags(flags, io.env);
            // A bare `--log` names where records go, not where the dump would: a backup needs the store.
            if (opened === undefined || opened.given === "log") throw new UsageError(NO_STORE);
            const store = opened.store;
            try {
                const now = new Date();
                const record =
                    kind === "postgres"
                        ? await backupPostgres(flags, store, recordHead(kind, app, version, now), io)
                        : await backupDirectory(flags, store, recordHead(kind, app, version, now), io);
                if (!record) return 1;
                if (!(await recorded("backup", store, record, io))) return 1;
                io.stdout.write(`${JSON.stringify(record, null, 2)}\n`);
                return record.verified ? 0 : 1;
            } finally {
                store.close();
            }
        }),
};

function requireFlag(flags: ParsedFlags, name: string, what: string): string {
    const value = flags.values.get(name);
    if (value === undefined) throw new UsageError(`\`--${name}\` is required: ${what}`);
    return value;
}

async function backupPostgres(
    flags: ParsedFlags,
    store: BackupStore,
    head: RecordHead<"postgres">,
    io: OpsIO,
): Promise<PostgresBackupRecord | undefined> {
    const criticalTables = parseCriticalTables(flags.values.get("critical-tables"));
    const compression = parseDumpCompression(flags.values.get("compress"));
    const target = parseDatabaseUrl(io.env.DATABASE_URL);
    // Before the dump, which runs inside the write pause: a store that cannot take the backup wastes it.
    await store.prepare("backup", io.stderr);
    const name = dumpFileName(head.id, compression);
    const location = store.artifactLocation(name);
    io.stderr.write(`backing up ${describeTarget(target)} to ${location}\n`);
    let dump;
    let sink: ArtifactSink | undefined;
    try {
        sink = await store.artifactSink(name, io.stderr);
        dump = await dumpWithFacts({
            target,
            env: io.env,
            sink,
            criticalTables,
            beforeFirstMigration: flags.switches.has("before-first-migration"),
            compression,
            stderr: io.stderr,
        });
    } catch (err) {
        if (err instanceof UsageError) throw err;
        io.stderr.write(`backup: ${redactor(target)(withCause((err as Error).message, sink))}\n`);
        return undefined;
    }
    let factsLocation: string;
    try {
        factsLocation = await store.putSmall(`${name}.facts.json`, `${JSON.stringify(dump.facts, null, 2)}\n`);
    } catch (err) {
        // A dump without its facts cannot be restored (restore checks against them): it goes.
        await store.removeArtifact(location).catch(() => undefined);
        io.stderr.write(
            `backup: could not store the facts of \`${location}\`: ${(err as Error).message}; removed the dump, nothing was backed up\n`,
        );
        return undefined;
    }
    const verified = await verifiedDump(store, location, io);
    return { ...head, size: dump.size, sha256: dump.sha256, location, factsLocation, verified, database: target.database };
}

/** The producer's error, led by the store's own reason where the store stopped taking bytes (the producer saw a broken pipe). */
function withCause(message: string, sink: ArtifactSink | undefined): string {
    const cause = sink?.failure?.();
    return cause === undefined || message.includes(cause.message) ? message : `${cause.message} (so the dump stopped: ${message})`;
}

async function backupDirectory(
    flags: ParsedFlags,
    store: BackupStore,
    head: RecordHead<"directory">,
    io: OpsIO,
): Promise<DirectoryBackupRecord | undefined> {
    const source = path.resolve(requireFlag(flags, "path", "the data directory to archive"));
    if (store.location.kind === "directory") {
        const inside = path.relative(source, store.location.dir);
        if (inside === "" || (!inside.startsWith("..") && !path.isAbsolute(inside))) {
            // tar would archive the archive it is writing.
            throw new UsageError(`\`--dir\` must be outside \`--path\` (${source}); got \`${store.location.dir}\``);
        }
    }
    const compression = (flags.values.get("compression") ?? "none") as Compression;
    if (!(compression in ARCHIVE_EXTENSIONS)) {
        throw new UsageError(`\`--compression\` must be none or gzip; got \`${compression}\``);
    }
    const quiesced = flags.switches.has("quiesced");
    await store.prepare("backup", io.stderr);
    const name = `${head.id}${ARCHIVE_EXTENSIONS[compression]}`;
    const location = store.artifactLocation(name);
    io.stderr.write(`archiving ${source} to ${location}${quiesced ? " (writers stopped)" : " (live: crash-consistent at best)"}\n`);
    let archive;
    let sink: ArtifactSink | undefined;
    try {
        sink = await store.artifactSink(name, io.stderr);
        archive = await archiveToSink(source, sink, { compression, quiesced, stderr: io.stderr });
    } catch (err) {
        io.stderr.write(`backup: ${withCause((err as Error).message, sink)}\n`);
        return undefined;
    }
    const verified = await verifiedAgainst(
        archive.sha256,
        async () => {
            const check = await inspectArchiveStream(await store.read(location), compression);
            if (check.files !== archive.files || check.contentBytes !== archive.contentBytes) {
                throw new Error(
                    `archive lists ${check.files} files (${check.contentBytes} bytes); ${archive.files} (${archive.contentBytes}) were written`,
                );
            }
            return check;
        },
        io,
    );
    return directoryRecord(head, archive, { file: location, source, verified, quiesced });
}

/**
 * The dump's checksum was taken from the very bytes that were written (and, for S3, hashed
 * again as they were sent); reading them back would only re-read the page cache or download
 * the whole dump. So the check is that the store holds every byte that was streamed (the
 * sink's commit checks it) and that pg_restore reads its table of contents from the store.
 */
async function verifiedDump(store: BackupStore, location: string, io: OpsIO): Promise<boolean> {
    const started = Date.now();
    try {
        const entries = await (
            store.location.kind === "directory" ? listArchive(location, io.env) : listArchiveStream(await store.read(location), io.env)
        ).catch((err: Error) => {
            throw new Error(`\`${location}\` must be a pg_dump custom-format archive that pg_restore can read: ${err.message}`);
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
