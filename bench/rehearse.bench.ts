import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { Writable } from "stream";
import { main } from "../ops/cli";
import { generateBenchDatabase } from "./benchDatabase";
import { testPostgres, TestPostgres } from "../test/support/postgres";
import { runTestEndCleanups, tempDir } from "../test/support/processes";

/**
 * What a rehearsal costs, and what it must not cost. On one generated database:
 *  - the plain `migrate` of a release (an index on the biggest table, a column, a ledger row)
 *    against `rehearse --from-live` of the same kind of release, split into its phases
 *    (dump of the live database, restore into the scratch copy, the migration there, the rest:
 *    facts, checks, dropping the copy);
 *  - the write pause in the runbook's order (stop → backup → migrate → resume), with and
 *    without a rehearsal before the stop, interleaved. The rehearsal runs while the writer
 *    still writes, so the pause should be the same within noise.
 * The writer is a child process inserting into `events` one row at a time; stopping it is
 * SIGSTOP, resuming it SIGCONT. Figures are printed; nothing is asserted.
 *
 * SAFE_RELEASE_BENCH_GB scales the database (default 0.52), SAFE_RELEASE_BENCH_RUNS the number
 * of interleaved pause pairs (default 2).
 */

const GB = Number(process.env.SAFE_RELEASE_BENCH_GB ?? "0.52");
const RUNS = Number(process.env.SAFE_RELEASE_BENCH_RUNS ?? "2");
const TARGET_BYTES = GB * 1024 ** 3;
const CRITICAL = "accounts";

const median = (values: number[]): number => {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const seconds = (since: bigint): number => Number(process.hrtime.bigint() - since) / 1e9;
const s = (value: number): string => `${value.toFixed(2)} s`;

/** Runs an ops command in process; returns its stdout and each stderr line with the second it arrived. */
async function ops(argv: string[], env: NodeJS.ProcessEnv): Promise<{ stdout: string; lines: { at: number; text: string }[] }> {
    const started = process.hrtime.bigint();
    let stdout = "";
    const lines: { at: number; text: string }[] = [];
    const out = new Writable({ write: (chunk, _e, cb) => ((stdout += chunk), cb()) });
    const err = new Writable({
        write: (chunk, _e, cb) => {
            for (const text of String(chunk).split("\n").filter(Boolean)) lines.push({ at: seconds(started), text });
            cb();
        },
    });
    const code = await main(argv, { env, stdout: out, stderr: err });
    if (process.env.SAFE_RELEASE_BENCH_VERBOSE) for (const line of lines) console.log(`  ${line.at.toFixed(2)} s ${line.text}`);
    if (code !== 0) throw new Error(`safe-release-ops ${argv[0]} exited ${code}:\n${lines.map((l) => l.text).join("\n")}`);
    return { stdout, lines };
}

/**
 * Release `n`'s migration, run by psql against whatever DATABASE_URL names (the live database
 * or the rehearsal's copy): an index on `events`, a column on `accounts`, its Prisma ledger row.
 * psql reads the URL from the environment through the shell, never from argv.
 */
function releaseArgs(command: "migrate" | "rehearse", pg: TestPostgres, n: number, extra: string[] = []): string[] {
    const sql =
        `CREATE INDEX events_account_${n} ON events (account, created); ` +
        `ALTER TABLE accounts ADD COLUMN note_${n} text; ` +
        `INSERT INTO _prisma_migrations VALUES ('m${n}', 'release_${n}', now(), now());`;
    const quoted = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;
    const psql = `${quoted(path.join(pg.binDir, "psql"))} -X -q -v ON_ERROR_STOP=1 -d "$DATABASE_URL" -c ${quoted(sql)}`;
    const digest = `sha256:${n.toString(16).padStart(64, "0")}`;
    return [command, ...extra, "--app", "bench", "--version", `v2.0.${n}`, "--digest", digest, "--", "bash", "-c", psql];
}

/** The index a release made goes again (untimed), so every release migrates, dumps and restores the same database. */
const undoIndex = (pg: TestPostgres, db: string, n: number): Promise<string> => pg.psql(db, `DROP INDEX events_account_${n};`);

/** A writer inserting into `events` one row per statement until killed; SIGSTOP pauses it. */
function startWriter(env: NodeJS.ProcessEnv): ChildProcess {
    const script = `
        const { Client } = require("pg");
        (async () => {
            const client = new Client({ connectionString: process.env.DATABASE_URL });
            await client.connect();
            for (let i = 0; ; i++) {
                await client.query("INSERT INTO events VALUES ($1::bigint, 1 + (-$1::bigint) % 100000, 1.5, 'login', 'written during the bench', now())", [-1 - i]);
            }
        })().catch((err) => { console.error(err.message); process.exit(1); });`;
    return spawn(process.execPath, ["-e", script], { env, stdio: ["ignore", "ignore", "inherit"], cwd: path.join(__dirname, "..") });
}

/** stop → backup → migrate → resume; returns the pause (SIGSTOP to SIGCONT) and its two steps. */
async function pause(writer: ChildProcess, env: NodeJS.ProcessEnv, dir: string, pg: TestPostgres, n: number) {
    const stopped = process.hrtime.bigint();
    writer.kill("SIGSTOP");
    let backup = 0;
    let migrate = 0;
    try {
        const step = process.hrtime.bigint();
        const args = ["backup", "--kind", "postgres", "--app", "bench", "--version", `v2.0.${n - 1}`, "--dir", dir];
        await ops([...args, "--critical-tables", CRITICAL], env);
        backup = seconds(step);
        const migrated = process.hrtime.bigint();
        await ops(releaseArgs("migrate", pg, n), env);
        migrate = seconds(migrated);
    } finally {
        writer.kill("SIGCONT");
    }
    return { pause: seconds(stopped), backup, migrate };
}

/** The rehearsal's phases from its stderr lines and its result; `setup` is all before the dump starts. */
function phases(run: Awaited<ReturnType<typeof ops>>, total: number) {
    const result = JSON.parse(run.stdout) as { restoreSeconds: number; migrationSeconds: number };
    const at = (prefix: string) => run.lines.find((l) => l.text.startsWith(prefix))?.at ?? NaN;
    const setup = at("rehearse: dumping");
    const dump = at("rehearse: restoring") - setup;
    const rest = total - setup - dump - result.restoreSeconds - result.migrationSeconds;
    return { total, setup, dump, restore: result.restoreSeconds, migration: result.migrationSeconds, rest };
}

/**
 * One untimed rehearsal and migration on a small database of its own, so that loading and
 * compiling the commands' modules is not in the first timed run.
 */
async function warmUp(pg: TestPostgres, env: NodeJS.ProcessEnv): Promise<void> {
    const db = await pg.createDatabase("bench_warmup");
    await pg.psql(
        db,
        `CREATE TABLE accounts (id int); CREATE TABLE events (account int, created timestamptz);
         CREATE TABLE _prisma_migrations (id text PRIMARY KEY, migration_name text, started_at timestamptz, finished_at timestamptz);`,
    );
    const warm = { ...env, DATABASE_URL: env.DATABASE_URL!.replace(/[^/]+$/, db) };
    await ops(releaseArgs("rehearse", pg, 0, ["--from-live", "--critical-tables", CRITICAL]), warm);
    await ops(releaseArgs("migrate", pg, 0), warm);
    await pg.psql("postgres", `DROP DATABASE ${db};`);
}

export async function run(): Promise<void> {
    if (!(GB > 0) || !Number.isInteger(RUNS) || RUNS < 1) {
        throw new Error(
            `\`SAFE_RELEASE_BENCH_GB\` must be a number above 0 and \`SAFE_RELEASE_BENCH_RUNS\` a whole number of at least 1; got ${GB} and ${RUNS}`,
        );
    }
    const pg = await testPostgres();
    let writer: ChildProcess | undefined;
    try {
        const db = await pg.createDatabase("bench_rehearse");
        const generation = process.hrtime.bigint();
        const size = await generateBenchDatabase(pg, db, GB);
        console.log(
            `rehearse bench: generated ${db}: ${(size / 1024 ** 3).toFixed(2)} GiB (pg_database_size) in ${s(seconds(generation))}`,
        );
        if (size < TARGET_BYTES) throw new Error(`generated only ${size} bytes; need at least ${TARGET_BYTES}`);

        const dir = await tempDir("safe-release-bench-");
        const env: NodeJS.ProcessEnv = { ...process.env, SAFE_RELEASE_PG_BIN: pg.binDir };
        for (const key of Object.keys(env)) if (key.startsWith("PG")) delete env[key];
        env.DATABASE_URL = `postgresql://${pg.user}:bench-secret@${pg.host}:${pg.port}/${db}`;
        await warmUp(pg, env);
        let release = 1;

        // Plain migration against the rehearsal of the same kind of release, alternating.
        const plain: number[] = [];
        const rehearsals: ReturnType<typeof phases>[] = [];
        for (let i = 0; i < RUNS; i++) {
            const n = release++;
            const rehearsed = process.hrtime.bigint();
            const rehearsal = await ops(releaseArgs("rehearse", pg, n, ["--from-live", "--critical-tables", CRITICAL]), env);
            rehearsals.push(phases(rehearsal, seconds(rehearsed)));
            const migrated = process.hrtime.bigint();
            await ops(releaseArgs("migrate", pg, n), env);
            plain.push(seconds(migrated));
            await undoIndex(pg, db, n);
            const r = rehearsals[i];
            console.log(
                `rehearse bench: run ${i + 1}: migrate ${s(plain[i])}; rehearse --from-live ${s(r.total)} ` +
                    `(setup ${s(r.setup)}, dump ${s(r.dump)}, restore ${s(r.restore)}, migration on the copy ${s(r.migration)}, checks and drop ${s(r.rest)})`,
            );
        }
        const m = (pick: (r: ReturnType<typeof phases>) => number) => median(rehearsals.map(pick));
        const mPlain = median(plain);
        console.log(
            `rehearse bench: median migrate ${s(mPlain)}; median rehearse --from-live ${s(m((r) => r.total))} = ${(m((r) => r.total) / mPlain).toFixed(2)}× migrate ` +
                `(setup ${s(m((r) => r.setup))}, dump ${s(m((r) => r.dump))}, restore ${s(m((r) => r.restore))}, migration on the copy ${s(m((r) => r.migration))} = ` +
                `${(m((r) => r.migration) / mPlain).toFixed(2)}× migrate, checks and drop ${s(m((r) => r.rest))})`,
        );

        // The write pause, with and without a rehearsal while the writer runs, interleaved.
        writer = startWriter(env);
        let writerExit: string | undefined;
        writer.on("exit", (code, signal) => (writerExit = `the writer stopped (exit code ${code}, signal ${signal})`));
        await new Promise((resolve) => setTimeout(resolve, 1000));
        const without: Awaited<ReturnType<typeof pause>>[] = [];
        const withRehearsal: Awaited<ReturnType<typeof pause>>[] = [];
        for (let i = 0; i < RUNS; i++) {
            const a = release++;
            without.push(await pause(writer, env, dir, pg, a));
            await undoIndex(pg, db, a);
            const b = release++;
            await ops(releaseArgs("rehearse", pg, b, ["--from-live", "--critical-tables", CRITICAL]), env);
            withRehearsal.push(await pause(writer, env, dir, pg, b));
            await undoIndex(pg, db, b);
            if (writerExit !== undefined) throw new Error(writerExit);
            const line = (p: Awaited<ReturnType<typeof pause>>) => `${s(p.pause)} (backup ${s(p.backup)}, migrate ${s(p.migrate)})`;
            console.log(
                `rehearse bench: pause run ${i + 1}: without rehearsal ${line(without[i])}; after a rehearsal ${line(withRehearsal[i])}`,
            );
        }
        const written = await pg.psql(db, "SELECT count(*) FROM events WHERE id < 0");
        const pWithout = median(without.map((p) => p.pause));
        const pWith = median(withRehearsal.map((p) => p.pause));
        console.log(
            `rehearse bench: median write pause without rehearsal ${s(pWithout)}, after a rehearsal ${s(pWith)}: ratio ${(pWith / pWithout).toFixed(2)} ` +
                `(the writer inserted ${written} rows over the whole pause section)`,
        );
        fs.rmSync(dir, { recursive: true, force: true });
    } finally {
        if (writer !== undefined) {
            writer.kill("SIGCONT");
            writer.kill("SIGKILL");
        }
        await runTestEndCleanups();
    }
}

if (require.main === module) {
    run().catch((err) => {
        console.error(err);
        process.exitCode = 1;
    });
}
