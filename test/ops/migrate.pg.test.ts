import { strict as assert } from "assert";
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { Client } from "pg";
import { Writable } from "stream";
import { main } from "../../ops/cli";
import { failureMessage, refusalMessage } from "../../ops/migrate/plan";
import { readToolLedger } from "../../ops/pg/ledgers";
import { advisoryLockKey } from "../../ops/pg/lock";
import { tempDir } from "../support/processes";
import { testPostgres, TestPostgres } from "../support/postgres";

const ROOT = path.join(__dirname, "..", "..");
const RUNNER = path.join(ROOT, "test", "fixtures", "migrations", "runner.js");
const CLI = path.join(ROOT, "ops", "bin", "safe-release-ops.js");
const DIGEST = `sha256:${"c".repeat(64)}`;
const PASSWORD = "Pa55-w0rd-never-printed";
const CREATE_ITEMS = "CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items VALUES (1);";

class Capture extends Writable {
    text = "";
    _write(chunk: Buffer, _encoding: string, done: () => void): void {
        this.text += chunk.toString();
        done();
    }
}

interface Run {
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
}

async function ops(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
    const stdout = new Capture();
    const stderr = new Capture();
    const code = await main(args, { env, stdout, stderr });
    return { code, stdout: stdout.text, stderr: stderr.text };
}

const migrateArgs = (version: string, ...extra: string[]): string[] => [
    "migrate",
    "--app",
    "shop",
    "--version",
    version,
    "--digest",
    DIGEST,
    ...extra,
    "--",
    process.execPath,
    RUNNER,
];

/** The one JSON document on stdout, keys in the command's order. */
const result = (ran: boolean, outcome: string, version: string, extra: Record<string, unknown> = {}): string =>
    `${JSON.stringify({ ran, outcome, app: "shop", version, digest: DIGEST, ...extra })}\n`;

describe("migrate against a real PostgreSQL", function () {
    this.timeout(20000);
    let pg: TestPostgres;
    let db: string;
    let env: NodeJS.ProcessEnv;
    let marker: string;

    const markerLines = (): number => (fs.existsSync(marker) ? fs.readFileSync(marker, "utf8").split("\n").filter(Boolean).length : 0);
    const ordered = (r: { app: string; version: string; status: string; exitCode: number | null }) => [r.version, r.status, r.exitCode];

    beforeEach(async () => {
        pg = await testPostgres();
        db = await pg.createDatabase("migrate");
        marker = path.join(await tempDir("safe-release-migrate-"), "runs");
        const url = pg.url(db).replace(`${pg.user}@`, `${pg.user}:${PASSWORD}@`);
        env = { PATH: process.env.PATH, DATABASE_URL: url, MARKER: marker, MIGRATION_SQL: CREATE_ITEMS };
    });

    async function ledger(): Promise<Array<[string, string, number | null]>> {
        const client = new Client({ connectionString: pg.url(db) });
        await client.connect();
        try {
            return (await readToolLedger(client, "shop")).map(ordered) as Array<[string, string, number | null]>;
        } finally {
            await client.end();
        }
    }

    it("runs the migration once, records it, and runs nothing the second time", async () => {
        const first = await ops(migrateArgs("v1.6.0"), env);
        assert.equal(first.code, 0, first.stderr);
        assert.equal(first.stdout, result(true, "succeeded", "v1.6.0", { exitCode: 0 }));
        assert.equal(await pg.psql(db, "SELECT count(*) FROM items"), "1");
        assert.deepEqual(await ledger(), [["v1.6.0", "succeeded", 0]]);

        const again = await ops(migrateArgs("v1.6.0"), env);
        assert.equal(again.code, 0);
        const appliedAt = JSON.parse(again.stdout).appliedAt;
        assert.equal(again.stdout, result(false, "already-applied", "v1.6.0", { appliedAt }));
        assert.equal(again.stderr, `migrate: \`shop\` v1.6.0 (${DIGEST}) was already migrated at ${appliedAt}; nothing to run\n`);
        assert.equal(markerLines(), 1, "the runner must not have been started again");
    });

    it("says that a version migrated before from another image migrates again, in the output and the ledger", async () => {
        const idempotent = { ...env, MIGRATION_SQL: "CREATE TABLE IF NOT EXISTS items (id int PRIMARY KEY);" };
        const first = await ops(migrateArgs("v1.6.0"), idempotent);
        assert.equal(first.code, 0, first.stderr);
        const rebuilt = `sha256:${"d".repeat(64)}`;
        const args = migrateArgs("v1.6.0").map((arg) => (arg === DIGEST ? rebuilt : arg));
        const again = await ops(args, idempotent);
        assert.equal(again.code, 0, again.stderr);

        const client = new Client({ connectionString: pg.url(db) });
        await client.connect();
        const rows = await readToolLedger(client, "shop").finally(() => client.end());
        const appliedAt = rows[0].finishedAt!.toISOString();
        assert.deepEqual(
            rows.map((r) => [r.digest, r.status, r.repeatsDigest]),
            [
                [DIGEST, "succeeded", null],
                [rebuilt, "succeeded", DIGEST],
            ],
        );
        assert.equal(
            again.stdout,
            `${JSON.stringify({
                ran: true,
                outcome: "succeeded",
                app: "shop",
                version: "v1.6.0",
                digest: rebuilt,
                exitCode: 0,
                previouslyApplied: [{ digest: DIGEST, appliedAt }],
            })}\n`,
        );
        assert.ok(
            again.stderr.startsWith(
                `migrate: \`shop\` v1.6.0 was already migrated at ${appliedAt} from image ${DIGEST}; ${rebuilt} is another image ` +
                    "of the same version, so its migration runs again (recorded as `repeats_digest` in `safe_release_migrations`). " +
                    "A migration that is not idempotent fails or applies twice: release a new version, do not rebuild one\n",
            ),
            again.stderr,
        );
        assert.equal(markerLines(), 2);
    });

    it("keeps the ledger where SAFE_RELEASE_LEDGER_URL says and hands the runner its own DATABASE_URL", async () => {
        // A container reaches the database under another address than the host: two databases make the two visible.
        const taskDb = await pg.createDatabase("migrate-task");
        const split = { ...env, SAFE_RELEASE_LEDGER_URL: env.DATABASE_URL, DATABASE_URL: pg.url(taskDb) };
        const run = await ops(migrateArgs("v1.6.0"), split);
        assert.equal(run.code, 0, run.stderr);
        assert.equal(await pg.psql(taskDb, "SELECT count(*) FROM items"), "1", "the runner migrated its own DATABASE_URL");
        assert.deepEqual(await ledger(), [["v1.6.0", "succeeded", 0]], "the ledger is in SAFE_RELEASE_LEDGER_URL's database");
        assert.equal(await pg.psql(db, "SELECT to_regclass('items') IS NULL"), "t", "nothing ran against the ledger's database");
        assert.equal(await pg.psql(taskDb, "SELECT to_regclass('safe_release_migrations') IS NULL"), "t");
    });

    it("migrates exactly once when two runs race; the second waits for the lock and finds the first's result", async () => {
        const racing = { ...env, SLEEP_MS: "400" };
        const [a, b] = await Promise.all([ops(migrateArgs("v1.6.0"), racing), ops(migrateArgs("v1.6.0"), racing)]);
        assert.deepEqual([a.code, b.code], [0, 0], a.stderr + b.stderr);
        const outcomes = [a, b]
            .map((r) => JSON.parse(r.stdout))
            .map((r) => [r.ran, r.outcome])
            .sort();
        assert.deepEqual(outcomes, [
            [false, "already-applied"],
            [true, "succeeded"],
        ]);
        const waiter = JSON.parse(a.stdout).ran ? b : a;
        assert.match(
            waiter.stderr,
            /^migrate: another migration of `shop` holds its lock \(PostgreSQL backend pid \d+\); waiting up to 10m \(`--lock-timeout`\)\n/,
        );
        assert.equal(markerLines(), 1);
        assert.equal(await pg.psql(db, "SELECT count(*) FROM items"), "1");
        assert.equal(await pg.psql(db, "SELECT count(*) FROM pg_tables WHERE tablename = 'items'"), "1");
        assert.deepEqual(await ledger(), [["v1.6.0", "succeeded", 0]]);
    });

    it("records a failure with its tail, says what to do, releases the lock and refuses every later run", async () => {
        const failing = { ...env, LINES: "60", MIGRATION_SQL: "CREATE TABLE items (id int); SELECT 1 / 0;" };
        const failed = await ops(migrateArgs("v1.6.0"), failing);
        assert.equal(failed.code, 1);
        assert.equal(failed.stdout, result(true, "failed", "v1.6.0", { exitCode: 1 }));
        const output = [...Array.from({ length: 60 }, (_, n) => `line ${n + 1}`), "migration error: division by zero"];
        const tail = output.slice(-50);
        assert.equal(
            failed.stderr,
            [
                `migrate: migrating \`shop\` v1.6.0: ${process.execPath} ${RUNNER}`,
                ...output,
                failureMessage({ app: "shop", version: "v1.6.0", digest: DIGEST }, 1, null, tail),
                "",
            ].join("\n"),
        );
        assert.match(failed.stderr, /Writers stopped for it stay stopped\. Do not retry the same migration/);
        assert.equal(
            await pg.psql(db, "SELECT status, exit_code, log_tail = $$" + tail.join("\n") + "$$ FROM safe_release_migrations"),
            "failed|1|t",
        );
        const [k1, k2] = advisoryLockKey("migrate", "shop");
        const held = `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = ${k1 >>> 0} AND objid = ${k2 >>> 0}`;
        assert.equal(await pg.psql(db, held), "0");

        for (const version of ["v1.6.0", "v1.6.1"]) {
            const refused = await ops(migrateArgs(version), env);
            assert.equal(refused.code, 1);
            assert.equal(refused.stdout, result(false, "refused", version));
            const client = new Client({ connectionString: pg.url(db) });
            await client.connect();
            const rows = await readToolLedger(client, "shop");
            await client.end();
            assert.equal(refused.stderr, `${refusalMessage({ app: "shop", version, digest: DIGEST }, rows)}\n`);
        }
        assert.equal(markerLines(), 1, "a refused run must not start the runner");
    });

    it("fixes forward from a failed version when told to, superseding the failed row", async () => {
        await ops(migrateArgs("v1.6.0"), { ...env, MIGRATION_SQL: "SELECT 1 / 0" });
        const fixed = await ops(migrateArgs("v1.6.1", "--fix-forward-from", "v1.6.0"), env);
        assert.equal(fixed.code, 0, fixed.stderr);
        assert.equal(fixed.stdout, result(true, "succeeded", "v1.6.1", { exitCode: 0 }));
        assert.equal(
            await pg.psql(db, "SELECT version, status, coalesce(superseded_by, '-') FROM safe_release_migrations ORDER BY version"),
            "v1.6.0|failed|v1.6.1\nv1.6.1|succeeded|-",
        );
        const retry = await ops(migrateArgs("v1.6.0"), env);
        assert.equal(retry.code, 1);
        assert.match(
            retry.stderr,
            /it already failed with exit code 1 and was superseded by v1\.6\.1; a version's migration never runs twice/,
        );
        assert.equal(markerLines(), 2);
    });

    it("gives up after the lock timeout while another session holds the app's lock, running nothing", async () => {
        const holder = new Client({ connectionString: pg.url(db) });
        await holder.connect();
        try {
            const [k1, k2] = advisoryLockKey("migrate", "shop");
            await holder.query("SELECT pg_advisory_lock($1, $2)", [k1, k2]);
            const holderPid = (await holder.query("SELECT pg_backend_pid() AS pid")).rows[0].pid;
            const run = await ops(migrateArgs("v1.6.0", "--lock-timeout", "300ms"), env);
            assert.equal(run.code, 1);
            assert.equal(run.stdout, result(false, "lock-timeout", "v1.6.0"));
            assert.equal(
                run.stderr,
                [
                    `migrate: another migration of \`shop\` holds its lock (PostgreSQL backend pid ${holderPid}); waiting up to 300ms (\`--lock-timeout\`)`,
                    "migrate: gave up after 300ms waiting for the migration lock of `shop`: another migration still runs; nothing ran. " +
                        "Wait for it to finish, then run again (it will find that migration's result in the ledger).",
                    "",
                ].join("\n"),
            );
            assert.equal(markerLines(), 0);
        } finally {
            await holder.end();
        }
    });

    it("leaves no trace when the runner cannot be started", async () => {
        const args = ["migrate", "--app", "shop", "--version", "v1.6.0", "--digest", DIGEST, "--", "/nonexistent/manage.py"];
        const run = await ops(args, env);
        assert.equal(run.code, 1);
        assert.equal(run.stdout, result(false, "not-started", "v1.6.0"));
        assert.match(
            run.stderr,
            /could not start `\/nonexistent\/manage\.py`: spawn \/nonexistent\/manage\.py ENOENT; nothing ran and the ledger is unchanged\n$/,
        );
        assert.equal(await pg.psql(db, "SELECT count(*) FROM safe_release_migrations"), "0");
    });

    it("never prints the password of DATABASE_URL, even when the runner prints the URL (real CLI process)", async () => {
        const child = await runCli(migrateArgs("v1.6.0"), { ...env, PRINT_URL: "1" });
        assert.equal(child.code, 0, child.stderr);
        assert.equal(child.stdout, result(true, "succeeded", "v1.6.0", { exitCode: 0 }));
        assert.ok(child.stderr.includes(`connecting to postgresql://postgres:***@127.0.0.1:${pg.port}/${db}\n`), child.stderr);
        assert.ok(!child.stderr.includes(PASSWORD) && !child.stdout.includes(PASSWORD));
        assert.equal(
            await pg.psql(db, "SELECT log_tail FROM safe_release_migrations"),
            `connecting to postgresql://postgres:***@127.0.0.1:${pg.port}/${db}`,
        );
    });

    it("loses the lock when the migrate process dies, and its 'running' row then blocks the app", async () => {
        const cli = spawn(process.execPath, [CLI, ...migrateArgs("v1.6.0")], { env: { ...env, SLEEP_MS: "20000" }, stdio: "ignore" });
        const exited = new Promise((resolve) => cli.on("exit", resolve));
        const deadline = Date.now() + 10000;
        while (markerLines() === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
        const runnerPid = Number(fs.readFileSync(marker, "utf8").trim());
        cli.kill("SIGKILL");
        await exited;
        process.kill(runnerPid, "SIGKILL");
        const probe = new Client({ connectionString: pg.url(db) });
        await probe.connect();
        try {
            let free = false;
            while (!free && Date.now() < deadline) {
                const [k1, k2] = advisoryLockKey("migrate", "shop");
                free = (await probe.query("SELECT pg_try_advisory_lock($1, $2) AS ok", [k1, k2])).rows[0].ok;
                if (free) await probe.query("SELECT pg_advisory_unlock($1, $2)", [k1, k2]);
                else await new Promise((r) => setTimeout(r, 25));
            }
            assert.ok(free, "the advisory lock must be released when its session ends");
        } finally {
            await probe.end();
        }
        const after = await ops(migrateArgs("v1.6.0"), env);
        assert.equal(after.code, 1);
        assert.equal(after.stdout, result(false, "refused", "v1.6.0"));
        assert.match(
            after.stderr,
            /v1\.6\.0 \(sha256:c{64}\) started and never finished, started .* \(its migrate process died mid-run; make sure nothing of it still runs\)/,
        );
    });
});

function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (chunk) => (stdout += chunk));
        child.stderr.on("data", (chunk) => (stderr += chunk));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });
}
