import * as fs from "fs";
import { Client } from "pg";
import { Readable, Writable } from "stream";
import { UsageError } from "../command";
import { findOnPath, ProgressMeter, runChild, sha256OfFile } from "../checksum";
import { FifoCopy } from "../fifoCopy";
import { ArtifactSink } from "../store/artifact";
import { connect, pgBinary, pgEnv, PgTarget, quoteIdent, redactor } from "./connection";
import { describeCompression, DumpCompression } from "./dumpCompression";
import { assertTablesExist, Facts, readFacts } from "./facts";
import { isZstdFile, isZstdHead, peek, runPipe, ZSTD_MAGIC, zstdBinary } from "./zstd";

/**
 * zstd level 1 in a process of its own by default: `pg_dump -Fc -Z0 | zstd -1`. The backup
 * runs inside the write pause, so its speed is downtime, and once backups travel (a store,
 * an upload) every byte costs too. PostgreSQL 15's pg_dump compresses only with zlib, inside
 * its own process, on one core, so `-Z1` halves the size and doubles the time; zstd beside
 * it compresses while the dump streams, at `-Z0` speed where a core is free, to a third.
 * bench/backup.bench.ts on a 0.54 GiB generated database, 2 cores, machine otherwise quiet
 * (medians of 3 alternating runs, ratios to `-Fc -Z0`, 2.2–2.3 s for 502 MiB):
 *   `-Fc -Z1`                  1.93–1.96× the time, 0.41× the size (206 MiB)
 *   `-Fd -j2 -Z1`              1.82–1.84×, 0.41× (two jobs share the cores with the server)
 *   `-Fc -Z0 | lz4 -1`         0.88–0.99×, 0.64× (fast, but too big)
 *   the backup, `zstd:1`       1.21–1.37× (two zstd threads; 1.53× with one), 0.33× (164 MiB;
 *                              facts, SHA-256 and commit included)
 * The backup needs twice the CPU of `-Z0` (2.0 s of its programs against 1.0 s, the server's
 * beside both), and on two cores that is the time it loses: a plain `pg_dump -Z0 | zstd -1 -T2`
 * to a file, with no hash, takes 0.9× of `-Z0`. What the backup adds to that pipe is kept off
 * the dump's path: the copy thread starts (without the parent's execArgv: under ts-node a worker
 * would load TypeScript first, for up to a second while the pipe stood full) before the snapshot
 * is taken; the file is fdatasync'ed in the background as it grows (artifact.ts), where one fsync
 * at the end took 0.3 s for 164 MiB here; and the counts of critical tables, which share the
 * cores with the dump, run without parallel workers (here a parallel count took 2–3 times the CPU
 * of a plain one for the same wall time). zstd's frame carries its own content checksum,
 * and the archive stays one file with one SHA-256 taken in one pass. `gzip:N` is pg_dump's
 * own zlib (no zstd needed), `none` the archive as pg_dump writes it (what older backups are).
 */
export { COMPRESS_VALUES, DEFAULT_DUMP_COMPRESSION, describeCompression, dumpFileName, parseDumpCompression } from "./dumpCompression";
export type { DumpCompression } from "./dumpCompression";

export interface DumpRequest {
    readonly target: PgTarget;
    readonly env: NodeJS.ProcessEnv;
    /** Where the archive's bytes go; committed once the dump and its facts are complete. */
    readonly sink: ArtifactSink;
    readonly criticalTables: string[];
    /**
     * Before the first migration the critical tables may not exist yet: those are
     * left out of the facts (and said on stderr) instead of failing the backup.
     */
    readonly beforeFirstMigration?: boolean;
    readonly compression: DumpCompression;
    readonly stderr: Writable;
}

export interface DumpResult {
    readonly sha256: string;
    readonly size: number;
    readonly facts: Facts;
    readonly durationMs: number;
}

/**
 * pg_dump writes its archive to stdout through stdio's 4 KiB buffer: a quarter of a
 * million writes and as many wake-ups of the copy per GiB. `stdbuf -o 1M` (coreutils)
 * gives it a 1 MiB buffer, so each write fills the pipe. Where stdbuf is missing,
 * pg_dump runs as it is (slower, same bytes).
 */
export function largeStdoutBuffer(program: string, args: string[], env: NodeJS.ProcessEnv): { command: string; args: string[] } {
    const stdbuf = findOnPath("stdbuf", env);
    return stdbuf === undefined ? { command: program, args } : { command: stdbuf, args: ["-o", "1M", program, ...args] };
}

/**
 * Dumps the database and reads its facts at the same instant: a REPEATABLE READ
 * transaction exports its snapshot and stays open while `pg_dump --snapshot`
 * dumps exactly what it saw. The facts are read in that transaction while the
 * dump runs (exact counts of big tables would otherwise add to the write pause).
 * pg_dump (through zstd, by default) writes to a named pipe; a worker thread copies it
 * to the sink in large blocks and hashes the same bytes, so the dump is read once and
 * the checksum comes from the bytes that were stored (compressed, for zstd).
 */
export async function dumpWithFacts(request: DumpRequest): Promise<DumpResult> {
    const started = Date.now();
    const sink = request.sink;
    let zstd: string | undefined;
    try {
        // Before the snapshot and the dump: a missing compressor must not cost a whole dump.
        if (request.compression.method === "zstd") {
            zstd = zstdBinary(
                request.env,
                `\`--compress ${describeCompression(request.compression)}\` compresses the archive with it`,
                "pass `--compress gzip:1` (pg_dump's own zlib: about twice the time) or `--compress none`",
            );
        }
    } catch (err) {
        await sink.abort();
        throw err;
    }
    // The copy's thread starts while the snapshot is taken, so it is reading before the first byte comes.
    let meter: ProgressMeter | undefined;
    let copy: FifoCopy;
    try {
        copy = new FifoCopy(sink.fd, (bytes) => {
            meter?.update(bytes);
            sink.written?.(bytes);
        });
    } catch (err) {
        await sink.abort();
        throw err;
    }
    const client = await connect(request.target).catch(async (err) => {
        copy.remove();
        await sink.abort();
        throw err;
    });
    const redact = redactor(request.target);
    try {
        await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
        const { rows } = await client.query("SELECT pg_export_snapshot() AS snapshot");
        const snapshot: string = rows[0].snapshot;
        // Before the dump starts: a misspelt table must not cost a whole dump.
        const criticalTables = request.beforeFirstMigration
            ? await existingTables(client, request.criticalTables, request.stderr)
            : request.criticalTables;
        await assertTablesExist(client, request.target.database, criticalTables);

        // The counts run beside the dump, on the cores it uses: parallel workers would take CPU
        // from pg_dump and zstd (three processes scanning where one does), and a count of a table
        // ends well before the dump of it anyway.
        await client.query("SET LOCAL max_parallel_workers_per_gather = 0");

        meter = new ProgressMeter("dumped", request.stderr);
        const dumping = startDump(request, snapshot, copy.writerFd, redact, zstd);
        // pg_dump (or zstd) holds the write end now: when it exits, the copy sees end-of-file.
        copy.closeWriter();
        const reading = readFacts(client, request.target.database, criticalTables, snapshot);
        const [dumped, copied, read] = await Promise.allSettled([dumping, copy.done, reading]);
        if (dumped.status === "rejected") throw dumped.reason;
        if (copied.status === "rejected") throw copied.reason;
        if (read.status === "rejected") throw read.reason;
        meter.finish(copied.value.bytes);
        await client.query("COMMIT");
        await sink.commit(copied.value);
        return { sha256: copied.value.sha256, size: copied.value.bytes, facts: read.value, durationMs: Date.now() - started };
    } catch (err) {
        await sink.abort();
        if (err instanceof UsageError || !(err instanceof Error)) throw err;
        throw new Error(redact(err.message));
    } finally {
        copy.remove();
        await client.end().catch(() => undefined);
    }
}

/**
 * pg_dump into the pipe that `outputFd` writes to, through zstd when so compressed. zstd
 * and pg_dump share a pipe this process holds no end of: if zstd dies, pg_dump's next
 * write fails (a pg_dump not writing, waiting for a lock, is killed), and if this process
 * dies, zstd's next write to the copy's pipe fails and pg_dump's after it, so neither
 * outlives the backup.
 */
function startDump(
    request: DumpRequest,
    snapshot: string,
    outputFd: number,
    redact: (text: string) => string,
    zstd: string | undefined,
): Promise<unknown> {
    const compression = request.compression;
    const pgDump = largeStdoutBuffer(
        pgBinary("pg_dump", request.env),
        ["--format=custom", `--compress=${compression.method === "gzip" ? compression.level : 0}`, `--snapshot=${snapshot}`],
        request.env,
    );
    const env = pgEnv(request.target, request.env);
    if (compression.method !== "zstd" || zstd === undefined)
        return runChild({ ...pgDump, label: "pg_dump", env, stdoutFd: outputFd, redact });
    return runPipe({
        producer: { ...pgDump, label: "pg_dump", env },
        // Two threads: on a machine with a core to spare (a release runner is otherwise idle) they keep up
        // with pg_dump; on a busy one they lose a little to it (see the figures above).
        // Only PATH: zstd needs nothing of the backup's environment (which holds DATABASE_URL).
        consumer: {
            command: zstd,
            args: ["-q", `-${compression.level}`, "-T2", "-c"],
            env: { PATH: request.env.PATH },
            label: "zstd",
        },
        consumerStdoutFd: outputFd,
        redact,
    });
}

/**
 * `pg_restore --list`: proves the archive's header and table of contents read back; returns
 * the entry count. A zstd-compressed archive is decompressed into pg_restore's stdin, and
 * only as far as pg_restore reads (the table of contents comes first): the stored bytes'
 * checksum, not this listing, is what speaks for the rest.
 */
export async function listArchive(file: string, env: NodeJS.ProcessEnv): Promise<number> {
    if (isZstdFile(file)) return listArchiveStream(fs.createReadStream(file, { highWaterMark: 1024 * 1024 }), env);
    const { stdout } = await runChild({ command: pgBinary("pg_restore", env), args: ["--list", file], env });
    return countEntries(stdout);
}

/** `listArchive` of a stored archive read as a stream (a download): either kind, told by its first bytes. */
export async function listArchiveStream(body: Readable, env: NodeJS.ProcessEnv): Promise<number> {
    const { head, stream } = await peek(body, ZSTD_MAGIC.length);
    const pgRestore = { command: pgBinary("pg_restore", env), args: ["--list"], env, label: "pg_restore" };
    if (!isZstdHead(head)) return countEntries((await runChild({ ...pgRestore, input: [stream] })).stdout);
    const zstd = zstdBinary(env, "the archive is compressed with zstd (a `.dump.zst`), which reads it");
    const { stdout } = await runPipe({
        // From stdin: zstd's messages then say `stdin` rather than a clipped file name.
        producer: { command: zstd, args: ["-q", "-d", "-c"], env: { PATH: env.PATH }, label: "zstd" },
        consumer: pgRestore,
        input: [stream],
        consumerReadsHead: true,
        redact: (text) => text,
    });
    return countEntries(stdout);
}

function countEntries(listing: string): number {
    return listing.split("\n").filter((line) => line.trim() !== "" && !line.startsWith(";")).length;
}

export interface DumpCheck {
    readonly sha256: string;
    readonly size: number;
    /** Entries in the archive's table of contents, when pg_restore could read it. */
    readonly entries?: number;
    /** Why pg_restore could not read the archive. */
    readonly readError?: string;
}

/**
 * Re-reads the file's bytes for the checksum while pg_restore reads its table of
 * contents: together far cheaper than the dump (no server, and of a `.dump.zst` only
 * the head is decompressed).
 * An unreadable archive is reported, not thrown, so its checksum is reported too.
 */
export async function checkDumpFile(file: string, env: NodeJS.ProcessEnv): Promise<DumpCheck> {
    const [{ sha256, bytes }, listing] = await Promise.all([
        sha256OfFile(file),
        listArchive(file, env).then(
            (entries) => ({ entries, readError: undefined }),
            (err: Error) => ({
                entries: undefined,
                readError: `\`${file}\` must be a pg_dump custom-format archive that pg_restore can read: ${err.message}`,
            }),
        ),
    ]);
    return { sha256, size: bytes, ...listing };
}

async function existingTables(client: Client, tables: string[], stderr: Writable): Promise<string[]> {
    const present: string[] = [];
    for (const table of tables) {
        const { rows } = await client.query("SELECT to_regclass($1) IS NOT NULL AS present", [quoteIdent(table)]);
        if (rows[0].present) present.push(table);
        else stderr.write(`critical table \`${table}\` does not exist yet (no migration has run): not counted\n`);
    }
    return present;
}
