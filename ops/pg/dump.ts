import { Client } from "pg";
import { Writable } from "stream";
import { UsageError } from "../command";
import { findOnPath, ProgressMeter, runChild, sha256OfFile } from "../checksum";
import { FifoCopy } from "../fifoCopy";
import { ArtifactSink } from "../store/artifact";
import { connect, pgBinary, pgEnv, PgTarget, quoteIdent, redactor } from "./connection";
import { assertTablesExist, Facts, readFacts } from "./facts";

/**
 * No compression by default. The backup runs inside the write pause, so its speed
 * is downtime, and with -Fc the zlib work runs on one core inside pg_dump.
 * Measured on a 1.03 GiB generated database (bench/backup.bench.ts, 2 cores, median
 * of plain `pg_dump -Fc -Z<n>`): level 0 5.2 s for 962 MiB, level 1 10.3 s for
 * 395 MiB, level 3 13.5 s for 379 MiB, pg_dump's default (6) 26 s for 367 MiB.
 * Level 0 stays faster as long as the backup disk takes ~95 MiB/s or more (962 MiB
 * in under 10.3 s: local SSDs, gp3's 125 MiB/s baseline); it costs 2.5× the space
 * for the retention period. `--compress 1` is the choice for a slower disk.
 */
export const DEFAULT_COMPRESS_LEVEL = 0;

/** How the archive's bytes are compressed, as `backup --compress` chose. */
export interface DumpCompression {
    /** pg_dump's own zlib level. */
    readonly level: number;
}

/** `--compress`: absent for the default. Throws a UsageError naming what is accepted. */
export function parseDumpCompression(flag: string | undefined): DumpCompression {
    const level = flag === undefined ? DEFAULT_COMPRESS_LEVEL : Number(flag);
    if (!Number.isInteger(level) || level < 0 || level > 9) {
        throw new UsageError(`\`--compress\` must be an integer from 0 to 9; got ${flag}`);
    }
    return { level };
}

/** The archive's file name for a backup id: what restore and verify recognise it by. */
export function dumpFileName(id: string, _compression: DumpCompression): string {
    return `${id}.dump`;
}

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
 * pg_dump writes to a named pipe; a worker thread copies it to the file in large
 * blocks and hashes the same bytes, so the dump is read once and the checksum
 * comes from the bytes that were written.
 */
export async function dumpWithFacts(request: DumpRequest): Promise<DumpResult> {
    const started = Date.now();
    const sink = request.sink;
    const client = await connect(request.target).catch(async (err) => {
        await sink.abort();
        throw err;
    });
    const redact = redactor(request.target);
    let copy: FifoCopy | undefined;
    try {
        await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
        const { rows } = await client.query("SELECT pg_export_snapshot() AS snapshot");
        const snapshot: string = rows[0].snapshot;
        // Before the dump starts: a misspelt table must not cost a whole dump.
        const criticalTables = request.beforeFirstMigration
            ? await existingTables(client, request.criticalTables, request.stderr)
            : request.criticalTables;
        await assertTablesExist(client, request.target.database, criticalTables);

        const meter = new ProgressMeter("dumped", request.stderr);
        const output = (copy = new FifoCopy(sink.fd, (bytes) => meter.update(bytes)));
        const dumping = runChild({
            ...largeStdoutBuffer(
                pgBinary("pg_dump", request.env),
                ["--format=custom", `--compress=${request.compression.level}`, `--snapshot=${snapshot}`],
                request.env,
            ),
            label: "pg_dump",
            env: pgEnv(request.target, request.env),
            stdoutFd: output.writerFd,
            redact,
        });
        // pg_dump holds the write end now: when it exits, the copy sees end-of-file.
        output.closeWriter();
        const reading = readFacts(client, request.target.database, criticalTables, snapshot);
        const [dumped, copied, read] = await Promise.allSettled([dumping, output.done, reading]);
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
        copy?.remove();
        await client.end().catch(() => undefined);
    }
}

/** `pg_restore --list`: proves the archive's header and table of contents read back; returns the entry count. */
export async function listArchive(file: string, env: NodeJS.ProcessEnv): Promise<number> {
    const { stdout } = await runChild({ command: pgBinary("pg_restore", env), args: ["--list", file], env });
    return stdout.split("\n").filter((line) => line.trim() !== "" && !line.startsWith(";")).length;
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
 * contents: together far cheaper than the dump (no decompression, no server).
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
