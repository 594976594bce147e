import * as fs from "fs";
import { Client } from "pg";
import { Readable, Transform, Writable } from "stream";
import { checksumMismatch, HashingCounter, ProgressMeter, runChild } from "../checksum";
import { connect, pgBinary, pgEnv, PgTarget, quoteIdent, redactor, withDatabase } from "./connection";
import { compareFacts, Facts, readFacts, summarizeFacts } from "./facts";
import { isZstdFile, runPipe, zstdBinary } from "./zstd";

const MAX_IDENTIFIER = 63;

/** `app_restore_20261122041059`, truncating the live name so the whole fits PostgreSQL's 63-byte identifiers. */
export function derivedDatabaseName(live: string, role: "restore" | "pre_restore" | "rehearse" | "drift", stamp: string): string {
    const suffix = `_${role}_${stamp}`;
    return `${Buffer.from(live)
        .subarray(0, MAX_IDENTIFIER - suffix.length)
        .toString()
        .replace(/\uFFFD+$/, "")}${suffix}`;
}

/**
 * The database through which databases are created, renamed and dropped: a
 * session cannot rename the database it is connected to.
 * `SAFE_RELEASE_PG_MAINTENANCE_DB` overrides the default `postgres`.
 */
export function maintenanceTarget(live: PgTarget, env: NodeJS.ProcessEnv): PgTarget {
    return withDatabase(live, env.SAFE_RELEASE_PG_MAINTENANCE_DB ?? "postgres");
}

/** Creates an empty database with the live one's owner, encoding and collation, from template0 as pg_restore expects. */
export async function createDatabaseLike(admin: Client, live: string, name: string): Promise<void> {
    const { rows } = await admin.query(
        `SELECT pg_get_userbyid(datdba) AS owner, pg_encoding_to_char(encoding) AS encoding, datcollate, datctype
           FROM pg_database WHERE datname = $1`,
        [live],
    );
    if (rows.length === 0) throw new Error(`\`DATABASE_URL\` names database \`${live}\`, which does not exist`);
    const { owner, encoding, datcollate, datctype } = rows[0];
    try {
        await admin.query(
            `CREATE DATABASE ${quoteIdent(name)} TEMPLATE template0 OWNER ${quoteIdent(owner)}
           ENCODING '${encoding}' LC_COLLATE '${sqlText(datcollate)}' LC_CTYPE '${sqlText(datctype)}'`,
        );
    } catch (err) {
        // 42501 insufficient_privilege: say which right is missing, not only that one is.
        if ((err as { code?: string }).code !== "42501") throw err;
        throw new Error(
            `${(err as Error).message}: a restore creates a scratch database beside \`${live}\` and swaps it in by renaming, ` +
                `so the role in \`DATABASE_URL\` needs CREATEDB (\`ALTER ROLE … CREATEDB\`) and must own \`${live}\``,
        );
    }
}

function sqlText(value: string): string {
    return value.replace(/'/g, "''");
}

export interface RestoreStream {
    readonly sha256: string;
    readonly bytes: number;
    readonly durationMs: number;
}

/**
 * Feeds the archive to pg_restore through stdin, counting bytes for progress and
 * hashing them, so the checksum check costs no extra read. A zstd-compressed archive
 * (`.dump.zst`, told by its first bytes) goes through `zstd -d` on its way: the bytes
 * hashed and counted are the stored, compressed ones, which the record's checksum is of.
 */
export async function restoreArchive(file: string, target: PgTarget, env: NodeJS.ProcessEnv, stderr: Writable): Promise<RestoreStream> {
    const started = Date.now();
    const meter = new ProgressMeter("restored", stderr);
    const counter = new HashingCounter((bytes) => meter.update(bytes));
    const input: [Readable, Transform] = [fs.createReadStream(file, { highWaterMark: 4 * 1024 * 1024 }), counter];
    const pgRestore = {
        command: pgBinary("pg_restore", env),
        // A plain name (never a connection string) for --dbname: the rest comes from the PG* environment.
        args: ["--exit-on-error", "--no-password", `--dbname=${target.database}`],
        env: pgEnv(target, env),
        label: "pg_restore",
    };
    const redact = redactor(target);
    if (isZstdFile(file)) {
        const zstd = zstdBinary(env, `\`${file}\` is compressed with zstd (a \`.dump.zst\`), which restoring it needs`);
        await runPipe({
            producer: { command: zstd, args: ["-q", "-d", "-c"], env: { PATH: env.PATH }, label: "zstd" },
            consumer: pgRestore,
            input,
            redact,
        });
    } else {
        await runChild({ ...pgRestore, input, redact });
    }
    meter.finish(counter.bytes);
    return { sha256: counter.digest(), bytes: counter.bytes, durationMs: Date.now() - started };
}

/**
 * Puts `restored` in place of `live` and keeps the old one as `preRestore`.
 * New connections to the live database are refused first so none can slip in
 * between terminating sessions and the rename; if the second rename fails the
 * first is undone, so the live name always names a whole database.
 */
export async function swapDatabases(admin: Client, live: string, restored: string, preRestore: string): Promise<void> {
    await admin.query(`ALTER DATABASE ${quoteIdent(live)} WITH ALLOW_CONNECTIONS false`);
    try {
        await terminateSessions(admin, live);
        await admin.query(`ALTER DATABASE ${quoteIdent(live)} RENAME TO ${quoteIdent(preRestore)}`);
    } catch (err) {
        await admin.query(`ALTER DATABASE ${quoteIdent(live)} WITH ALLOW_CONNECTIONS true`).catch(() => undefined);
        throw err;
    }
    try {
        await terminateSessions(admin, restored);
        await admin.query(`ALTER DATABASE ${quoteIdent(restored)} RENAME TO ${quoteIdent(live)}`);
    } catch (err) {
        await admin.query(`ALTER DATABASE ${quoteIdent(preRestore)} RENAME TO ${quoteIdent(live)}`);
        await admin.query(`ALTER DATABASE ${quoteIdent(live)} WITH ALLOW_CONNECTIONS true`);
        throw err;
    }
    // The pre-restore copy stays reachable for forensics.
    await admin.query(`ALTER DATABASE ${quoteIdent(preRestore)} WITH ALLOW_CONNECTIONS true`);
}

async function terminateSessions(admin: Client, database: string): Promise<void> {
    await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [database]);
    // pg_terminate_backend only signals; wait until the sessions are gone so the rename is not refused.
    for (let attempt = 0; attempt < 100; attempt++) {
        const { rows } = await admin.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1", [database]);
        if (rows[0].n === 0) return;
        await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`sessions on database \`${database}\` did not end within 5 s of being terminated`);
}

export async function dropDatabase(admin: Client, name: string): Promise<void> {
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
}

export async function withClient<T>(target: PgTarget, work: (client: Client) => Promise<T>): Promise<T> {
    const client = await connect(target);
    try {
        return await work(client);
    } finally {
        await client.end().catch(() => undefined);
    }
}

/** `20261122041059`: database names stay lowercase-safe without quoting surprises. */
export function databaseStamp(date: Date): string {
    return date
        .toISOString()
        .replace(/\.\d{3}Z$/, "")
        .replace(/[-:T]/g, "");
}

export interface PostgresRestoreRequest {
    readonly file: string;
    readonly expectedSha256: string;
    readonly facts: Facts;
    readonly live: PgTarget;
    readonly env: NodeJS.ProcessEnv;
    readonly drill: boolean;
    readonly stderr: Writable;
    readonly now: Date;
}

export interface PostgresRestoreOutcome {
    readonly ok: boolean;
    readonly liveDatabase: string;
    readonly scratchDatabase: string;
    /** Set once the swap has happened. */
    readonly preRestoreDatabase?: string;
    /** Whether the scratch database still exists (kept after a failure for inspection). */
    readonly scratchKept: boolean;
    readonly differences: string[];
    readonly facts?: ReturnType<typeof summarizeFacts>;
    readonly timingsMs: Record<string, number>;
    readonly error?: string;
}

/**
 * Never in place: restores into a fresh database, checks it against the backup's
 * facts, and only then swaps it in (or, for a drill, drops it). Any failure leaves
 * the live database as it was and keeps the scratch copy for forensics.
 */
export async function restorePostgres(request: PostgresRestoreRequest): Promise<PostgresRestoreOutcome> {
    const stamp = databaseStamp(request.now);
    const live = request.live.database;
    const scratch = derivedDatabaseName(live, "restore", stamp);
    const timingsMs: Record<string, number> = {};
    const timed = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
        const started = Date.now();
        try {
            return await work();
        } finally {
            timingsMs[name] = Date.now() - started;
        }
    };
    const base = { liveDatabase: live, scratchDatabase: scratch, timingsMs };
    const redact = redactor(request.live);
    return withClient(maintenanceTarget(request.live, request.env), async (admin) => {
        await createDatabaseLike(admin, live, scratch);
        const scratchTarget = withDatabase(request.live, scratch);
        try {
            const streamed = await timed("restore", () => restoreArchive(request.file, scratchTarget, request.env, request.stderr));
            if (streamed.sha256 !== request.expectedSha256) {
                const error = checksumMismatch(request.file, request.expectedSha256, streamed.sha256);
                return { ...base, ok: false, scratchKept: true, differences: [], error };
            }
            const actual = await timed("verify", () =>
                withClient(scratchTarget, (c) => readFacts(c, scratch, Object.keys(request.facts.rowCounts), undefined, "omit")),
            );
            const differences = compareFacts(request.facts, actual);
            if (differences.length > 0) return { ...base, ok: false, scratchKept: true, differences };
            const facts = summarizeFacts(actual);
            if (request.drill) {
                await timed("drop", () => dropDatabase(admin, scratch));
                return { ...base, ok: true, scratchKept: false, differences, facts };
            }
            const preRestore = derivedDatabaseName(live, "pre_restore", stamp);
            await timed("swap", () => swapDatabases(admin, live, scratch, preRestore));
            return { ...base, ok: true, scratchKept: false, preRestoreDatabase: preRestore, differences, facts };
        } catch (err) {
            const error = redact(err instanceof Error ? err.message : String(err));
            return { ...base, ok: false, scratchKept: true, differences: [], error };
        }
    });
}
