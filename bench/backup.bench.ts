import * as fs from "fs";
import * as path from "path";
import { Writable } from "stream";
import { main } from "../ops/cli";
import { DEFAULT_COMPRESS_LEVEL } from "../ops/pg/dump";
import { testPostgres, TestPostgres } from "../test/support/postgres";
import { run as runProgram, runTestEndCleanups, tempDir } from "../test/support/processes";

/**
 * The backup runs while writes are paused, so its speed is downtime. Compares, on
 * one generated database of at least 1 GiB and in alternation: plain
 * `pg_dump -Fc -f file` (pg_dump's defaults), plain pg_dump at the backup's own
 * compression level, and `safe-release-ops backup` (facts in the dump's snapshot,
 * same-pass SHA-256, archive checked by pg_restore --list), then
 * `safe-release-ops verify`. Goals: backup ≤ 1.05× pg_dump at the same level (and far
 * below pg_dump's default level), verify < 0.3×.
 *
 * SAFE_RELEASE_BENCH_GB scales the database (default 1; e.g. 0.2 for a quick look),
 * SAFE_RELEASE_BENCH_RUNS the number of alternating runs (default 3).
 */

const GB = Number(process.env.SAFE_RELEASE_BENCH_GB ?? "1");
const RUNS = Number(process.env.SAFE_RELEASE_BENCH_RUNS ?? "3");
const TARGET_BYTES = GB * 1024 ** 3;
/** Rows of `events` that make about 1 GiB with the other tables. */
const EVENTS_PER_GB = 7_000_000;

function median(values: number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function timed(work: () => Promise<unknown>): Promise<number> {
    const started = process.hrtime.bigint();
    await work();
    return Number(process.hrtime.bigint() - started) / 1e9;
}

const sink = () => new Writable({ write: (_c, _e, cb) => cb() });

async function ops(argv: string[], env: NodeJS.ProcessEnv): Promise<string> {
    let stdout = "";
    const out = new Writable({ write: (chunk, _e, cb) => ((stdout += chunk), cb()) });
    const code = await main(argv, { env, stdout: out, stderr: sink() });
    if (code !== 0) throw new Error(`safe-release-ops ${argv[0]} exited ${code}`);
    return stdout;
}

/** Mixed columns: integers, numerics, short repeated words, and hex text that compresses about 2:1. */
async function generate(pg: TestPostgres, db: string): Promise<number> {
    const events = Math.round(EVENTS_PER_GB * GB);
    await pg.psql(
        db,
        `CREATE TABLE accounts (id int PRIMARY KEY, name text, plan text, balance numeric(14,2));
         INSERT INTO accounts SELECT g, 'account ' || g, (ARRAY['free','pro','team'])[1 + g % 3], g * 3.17 FROM generate_series(1, 100000) g;
         CREATE TABLE events (id bigint, account int, amount numeric(12,2), kind text, payload text, created timestamptz);
         INSERT INTO events
             SELECT g, 1 + g % 100000, (g % 100000) / 7.0,
                    (ARRAY['login','purchase','refund','message','upload'])[1 + g % 5],
                    md5(g::text) || md5((g * 31)::text) || ' status=' || (g % 13) || ' region=eu-' || (g % 4),
                    '2026-01-01'::timestamptz + g * interval '1 second'
               FROM generate_series(1, ${events}) g;
         CREATE TABLE _prisma_migrations (id text PRIMARY KEY, migration_name text, started_at timestamptz);
         INSERT INTO _prisma_migrations VALUES ('m1', '20260101_init', '2026-01-01');
         VACUUM ANALYZE;`,
    );
    return Number(await pg.psql(db, `SELECT pg_database_size('${db}');`));
}

export async function run(): Promise<void> {
    if (!(GB > 0) || !Number.isInteger(RUNS) || RUNS < 1) {
        throw new Error(
            `\`SAFE_RELEASE_BENCH_GB\` must be a number above 0 and \`SAFE_RELEASE_BENCH_RUNS\` a whole number of at least 1; got ${GB} and ${RUNS}`,
        );
    }
    const pg = await testPostgres();
    try {
        const db = await pg.createDatabase("bench_backup");
        const genSeconds = await timed(async () => {
            const size = await generate(pg, db);
            console.log(`backup bench: generated database ${db}: ${(size / 1024 ** 3).toFixed(2)} GiB (pg_database_size)`);
            if (size < TARGET_BYTES) throw new Error(`generated only ${size} bytes; need at least ${TARGET_BYTES}`);
        });
        console.log(`backup bench: generation took ${genSeconds.toFixed(1)} s`);

        const dir = await tempDir("safe-release-bench-");
        const env: NodeJS.ProcessEnv = { ...process.env, SAFE_RELEASE_PG_BIN: pg.binDir };
        for (const key of Object.keys(env)) if (key.startsWith("PG")) delete env[key];
        env.DATABASE_URL = `postgresql://${pg.user}:bench-secret@${pg.host}:${pg.port}/${db}`;
        const pgDump = path.join(pg.binDir, "pg_dump");
        const plainEnv = { ...process.env, ...pg.env(db) };

        const plain: number[] = [];
        const sameLevel: number[] = [];
        const ours: number[] = [];
        const verify: number[] = [];
        let plainSize = 0;
        let ourSize = 0;
        for (let i = 0; i < RUNS; i++) {
            const file = path.join(dir, `plain-${i}.dump`);
            plain.push(await timed(() => runProgram(pgDump, ["-Fc", "-f", file], { env: plainEnv })));
            plainSize = fs.statSync(file).size;
            fs.rmSync(file);
            sameLevel.push(await timed(() => runProgram(pgDump, ["-Fc", `-Z${DEFAULT_COMPRESS_LEVEL}`, "-f", file], { env: plainEnv })));
            fs.rmSync(file);

            let record: { location: string; sha256: string; size: number } | undefined;
            ours.push(
                await timed(async () => {
                    const stdout = await ops(
                        [
                            "backup",
                            "--kind",
                            "postgres",
                            "--app",
                            "bench",
                            "--version",
                            `v1.0.${i}`,
                            "--dir",
                            dir,
                            "--critical-tables",
                            "events,accounts",
                        ],
                        env,
                    );
                    record = JSON.parse(stdout);
                }),
            );
            ourSize = record!.size;
            verify.push(await timed(() => ops(["verify", "--file", record!.location, "--sha256", record!.sha256], env)));
            fs.rmSync(record!.location);
            console.log(
                `backup bench: run ${i + 1}: pg_dump -Fc ${plain[i].toFixed(2)} s, pg_dump -Fc -Z${DEFAULT_COMPRESS_LEVEL} ${sameLevel[i].toFixed(2)} s, backup ${ours[i].toFixed(2)} s, verify ${verify[i].toFixed(2)} s`,
            );
        }

        // One run at each other zlib level, for the record behind DEFAULT_COMPRESS_LEVEL.
        for (const level of [1, 3]) {
            const file = path.join(dir, `level-${level}.dump`);
            const seconds = await timed(() => runProgram(pgDump, ["-Fc", `-Z${level}`, "-f", file], { env: plainEnv }));
            console.log(
                `backup bench: pg_dump -Fc -Z${level}: ${seconds.toFixed(2)} s, ${(fs.statSync(file).size / 1024 ** 2).toFixed(0)} MiB`,
            );
            fs.rmSync(file);
        }

        const mPlain = median(plain);
        const mOurs = median(ours);
        const mVerify = median(verify);
        const mSame = median(sameLevel);
        console.log(`backup bench: median pg_dump -Fc (default level) ${mPlain.toFixed(2)} s → ${(plainSize / 1024 ** 2).toFixed(0)} MiB`);
        console.log(`backup bench: median pg_dump -Fc -Z${DEFAULT_COMPRESS_LEVEL} (the backup's level) ${mSame.toFixed(2)} s`);
        console.log(`backup bench: median safe-release-ops backup ${mOurs.toFixed(2)} s → ${(ourSize / 1024 ** 2).toFixed(0)} MiB`);
        console.log(`backup bench: median safe-release-ops verify ${mVerify.toFixed(2)} s`);
        console.log(
            `backup bench: ratios (median): backup / pg_dump -Fc (default level) = ${(mOurs / mPlain).toFixed(3)} | ` +
                `backup / pg_dump -Fc -Z${DEFAULT_COMPRESS_LEVEL} (same level, goal ≤ 1.05) = ${(mOurs / mSame).toFixed(3)} | ` +
                `verify / pg_dump -Fc -Z${DEFAULT_COMPRESS_LEVEL} (goal < 0.3) = ${(mVerify / mSame).toFixed(3)}`,
        );
        fs.rmSync(dir, { recursive: true, force: true });
    } finally {
        await runTestEndCleanups();
    }
}

if (require.main === module) {
    run().catch((err) => {
        console.error(err);
        process.exitCode = 1;
    });
}
