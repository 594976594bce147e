import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Writable } from "stream";
import { main } from "../ops/cli";
import { generateBenchDatabase } from "./benchDatabase";
import { DEFAULT_DUMP_COMPRESSION } from "../ops/pg/dump";
import { withChildCpu } from "./cpu";
import { testPostgres } from "../test/support/postgres";
import { run as runProgram, runTestEndCleanups, tempDir } from "../test/support/processes";

/**
 * The backup runs while writes are paused, so its speed is downtime; once backups travel
 * (a store, an upload) its size costs too. Compares, on one generated database and in
 * alternation: plain `pg_dump -Fc -Z0` (the time to beat), plain `pg_dump -Fc -Z1`
 * (pg_dump's own zlib, the size to beat), the candidates for compressing on another core
 * (`| lz4 -1`, the directory format with two jobs, `| zstd -1 -T2` as the backup runs it but with
 * nothing else), `safe-release-ops backup` as it runs
 * (its default `--compress`: facts in the dump's snapshot, same-pass SHA-256 of the stored
 * bytes, archive checked by pg_restore --list), then `safe-release-ops verify`. Goals:
 * backup ≤ 1.00× the time of -Z0 at ≤ 0.45× its size; verify < 0.3× of -Z0.
 * Each line also gives the CPU seconds of the programs it ran (pg_dump, zstd …; not the
 * server's, not this process's copy thread).
 *
 * SAFE_RELEASE_BENCH_GB scales the database (default 1; e.g. 0.2 for a quick look),
 * SAFE_RELEASE_BENCH_RUNS the number of alternating runs (default 3).
 */

const GB = Number(process.env.SAFE_RELEASE_BENCH_GB ?? "1");
const RUNS = Number(process.env.SAFE_RELEASE_BENCH_RUNS ?? "3");
const TARGET_BYTES = GB * 1024 ** 3;

function median(values: number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

interface Figure {
    readonly seconds: number;
    readonly cpu: number;
    readonly bytes: number;
}

/** One way to dump: writes to `out`, or (the backup) returns its record's location and checksum. */
interface Variant {
    readonly name: string;
    run(out: string, run: number): Promise<Stored | undefined>;
}

interface Stored {
    readonly location: string;
    readonly sha256: string;
}

function summary(figures: Figure[]): Figure {
    return {
        seconds: median(figures.map((f) => f.seconds)),
        cpu: median(figures.map((f) => f.cpu)),
        bytes: median(figures.map((f) => f.bytes)),
    };
}

const mib = (bytes: number): string => (bytes / 1024 ** 2).toFixed(0);

/** The 1, 5 and 15 minute load averages: wall times mean little on a machine doing other work. */
const loadAverage = (): string => fs.readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");

/** Bytes of a file, or of every file in a directory (the directory format). */
function treeBytes(target: string): number {
    const stat = fs.statSync(target);
    if (!stat.isDirectory()) return stat.size;
    return fs.readdirSync(target).reduce((sum, name) => sum + treeBytes(path.join(target, name)), 0);
}

/** A shell pipeline (pipefail), for the candidates that are one. */
async function shell(script: string, env: NodeJS.ProcessEnv): Promise<undefined> {
    await runProgram("bash", ["-o", "pipefail", "-c", script], { env });
    return undefined;
}

/**
 * `safe-release-ops backup` with its defaults, counting the critical tables in the dump's snapshot
 * (`events` is nearly all of the database: its exact count is a second scan of it), or without
 * critical tables: what the dump, its compression and its hash cost alone.
 */
async function backup(dir: string, run: number, env: NodeJS.ProcessEnv, counted = true): Promise<Stored> {
    const args = ["backup", "--kind", "postgres", "--app", "bench", "--version", `v1.${counted ? 0 : 1}.${run}`, "--dir", dir];
    return JSON.parse(await ops([...args, ...(counted ? ["--critical-tables", "events,accounts"] : [])], env));
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
            const size = await generateBenchDatabase(pg, db, GB);
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

        const variants: Variant[] = [
            { name: "pg_dump -Fc -Z0", run: (out) => shell(`${pgDump} -Fc -Z0 -f ${out}`, plainEnv) },
            { name: "pg_dump -Fc -Z1", run: (out) => shell(`${pgDump} -Fc -Z1 -f ${out}`, plainEnv) },
            { name: "pg_dump -Fc -Z0 | lz4 -1", run: (out) => shell(`${pgDump} -Fc -Z0 | lz4 -q -1 > ${out}`, plainEnv) },
            // The backup's compression alone: no hash, no facts, no fsync (what the pipeline itself costs).
            { name: "pg_dump -Fc -Z0 | zstd -1 -T2", run: (out) => shell(`${pgDump} -Fc -Z0 | zstd -q -1 -T2 > ${out}`, plainEnv) },
            { name: "pg_dump -Fd -j2 -Z1", run: (out) => shell(`${pgDump} -Fd -j2 -Z1 -f ${out}`, plainEnv) },
            { name: `backup, no critical tables`, run: (_out, i) => backup(dir, i, env, false) },
            { name: `backup (--compress ${DEFAULT_DUMP_COMPRESSION})`, run: (_out, i) => backup(dir, i, env) },
        ];
        const figures = new Map<string, Figure[]>(variants.map((v) => [v.name, []]));
        console.log(`backup bench: ${os.cpus().length} cores, load average ${loadAverage()} before the first run`);
        const verify: number[] = [];
        for (let i = 0; i < RUNS; i++) {
            const line: string[] = [];
            for (const variant of variants) {
                const out = path.join(dir, `variant-${i}`);
                const started = process.hrtime.bigint();
                const { result: stored, cpu } = await withChildCpu(() => variant.run(out, i));
                const seconds = Number(process.hrtime.bigint() - started) / 1e9;
                const target = stored?.location ?? out;
                figures.get(variant.name)!.push({ seconds, cpu, bytes: treeBytes(target) });
                if (stored !== undefined && variant === variants[variants.length - 1])
                    verify.push(await timed(() => ops(["verify", "--file", target, "--sha256", stored.sha256], env)));
                for (const file of [target, `${target}.facts.json`]) fs.rmSync(file, { recursive: true, force: true });
                line.push(`${variant.name} ${seconds.toFixed(2)} s`);
            }
            console.log(`backup bench: run ${i + 1}: ${line.join(", ")}, verify ${verify[i].toFixed(2)} s; load average ${loadAverage()}`);
        }

        const base = summary(figures.get(variants[0].name)!);
        for (const variant of variants) {
            const m = summary(figures.get(variant.name)!);
            console.log(
                `backup bench: median ${variant.name}: ${m.seconds.toFixed(2)} s (CPU ${m.cpu.toFixed(2)} s), ${mib(m.bytes)} MiB; ` +
                    `× -Z0: time ${(m.seconds / base.seconds).toFixed(2)}, size ${(m.bytes / base.bytes).toFixed(2)}`,
            );
        }
        const ours = summary(figures.get(variants[variants.length - 1].name)!);
        const mVerify = median(verify);
        console.log(`backup bench: median safe-release-ops verify ${mVerify.toFixed(2)} s (× -Z0 ${(mVerify / base.seconds).toFixed(2)})`);
        const goal = (what: string, ratio: number, limit: number) =>
            console.log(
                `backup bench: goal: ${what} ${ratio.toFixed(2)}× of pg_dump -Fc -Z0 ≤ ${limit.toFixed(2)}× → ${ratio <= limit ? "met" : "not met"}`,
            );
        const uncounted = summary(figures.get(variants[variants.length - 2].name)!);
        goal("backup time", ours.seconds / base.seconds, 1);
        goal("backup time without counting critical tables", uncounted.seconds / base.seconds, 1);
        goal("backup size", ours.bytes / base.bytes, 0.45);
        goal("verify time", mVerify / base.seconds, 0.3);
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
