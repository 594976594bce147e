import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { freePort } from "../support/processes";
import { testPostgres, TestPostgres } from "../support/postgres";
import { backupDir, opsEnv, removeDir, runOps, SECRET, seedAppDatabase } from "./backupTestSupport";

const RUNNER = path.join(__dirname, "..", "fixtures", "migrations", "runner.js");
const DIGEST = `sha256:${"d".repeat(64)}`;

/**
 * A restore brings the migration ledger in line with the restored data: runs that started
 * after the backup are marked `restored_by` (kept, no longer applied nor blocking), so the
 * next release of that version migrates again. Real PostgreSQL, the real ops commands.
 */
describe("restore and the migration ledger (real PostgreSQL)", function () {
    this.timeout(60000);
    let pg: TestPostgres;
    let work: string;

    before(async () => {
        pg = await testPostgres();
        work = await backupDir();
    });
    after(() => removeDir(work));

    /** `migrate` of `app` at `version` with the test runner; `EXIT_CODE` makes it fail. */
    function migrate(env: NodeJS.ProcessEnv, version: string, extra: NodeJS.ProcessEnv = {}) {
        const args = ["migrate", "--app", "shop", "--version", version, "--digest", DIGEST, "--", process.execPath, RUNNER];
        return runOps(args, { ...env, ...extra });
    }

    /** The app's ledger as `version status restored_by`, oldest first. */
    async function ledger(db: string): Promise<string[]> {
        const out = await pg.psql(
            db,
            "SELECT version || ' ' || status || ' ' || coalesce(restored_by, '-') FROM safe_release_migrations WHERE app = 'shop' ORDER BY started_at",
        );
        return out === "" ? [] : out.split("\n");
    }

    /** A data directory (the app's files), archived by `backup --kind directory` labelled `version`. */
    async function directoryBackup(name: string, version: string) {
        const data = path.join(work, name, "data");
        fs.mkdirSync(data, { recursive: true });
        fs.writeFileSync(path.join(data, "FORMAT"), "1\n");
        const log = path.join(work, name, "backups.log");
        const args = ["--path", data, "--app", "shop", "--version", version, "--dir", path.join(work, name, "bk"), "--log", log];
        const run = await runOps(["backup", "--kind", "directory", ...args, "--quiesced"], process.env);
        assert.equal(run.code, 0, run.stderr);
        return { data, log, record: JSON.parse(run.stdout) as { id: string; time: string } };
    }

    /** The ledger in a database of its own, reached as SAFE_RELEASE_LEDGER_URL with a password in it. */
    async function ledgerEnv(prefix: string): Promise<{ db: string; env: NodeJS.ProcessEnv }> {
        const db = await pg.createDatabase(prefix);
        const env = opsEnv(pg, db);
        return { db, env: { ...env, SAFE_RELEASE_LEDGER_URL: env.DATABASE_URL } };
    }

    it("a directory restore marks the runs after the backup; that version then migrates again, in a second row", async () => {
        const { db, env } = await ledgerEnv("ledger_dir");
        assert.equal((await migrate(env, "v1.0.0")).code, 0);
        const { data, log, record } = await directoryBackup("dir", "v1.1.0");
        assert.equal((await migrate(env, "v1.1.0")).code, 0);
        fs.writeFileSync(path.join(data, "FORMAT"), "2\n");
        // A later failed run blocks every migration of the app until the restore undoes it too.
        assert.equal((await migrate(env, "v1.2.0", { EXIT_CODE: "4" })).code, 1);

        const run = await runOps(["restore", "--id", record.id, "--log", log], env);
        assert.equal(run.code, 0, run.stderr);
        assert.equal(fs.readFileSync(path.join(data, "FORMAT"), "utf8"), "1\n");
        const result = JSON.parse(run.stdout);
        assert.deepEqual(
            result.ledger.marked.map((m: { version: string; status: string; digest: string }) => [m.version, m.status, m.digest]),
            [
                ["v1.1.0", "succeeded", DIGEST],
                ["v1.2.0", "failed", DIGEST],
            ],
        );
        assert.equal(
            result.ledger.note,
            `marked 2 run(s) of \`shop\` that started after the backup (${record.time}) as restored by ${record.id}`,
        );
        assert.equal(result.ledger.database, `postgresql://${pg.user}:***@${pg.host}:${pg.port}/${db}`);
        const started = result.ledger.marked.map((m: { startedAt: string }) => m.startedAt);
        assert.ok(
            started.every((at: string) => at > record.time),
            `${started} after ${record.time}`,
        );
        assert.ok(
            run.stderr.includes(
                `restore: ledger: v1.1.0 (${DIGEST}, succeeded, started ${started[0]}) ran after the backup; ` +
                    `marked restored by ${record.id}, so its next release migrates again\n`,
            ),
            run.stderr,
        );
        assert.ok(!run.stdout.includes(SECRET) && !run.stderr.includes(SECRET), "password printed");
        assert.deepEqual(await ledger(db), ["v1.0.0 succeeded -", `v1.1.0 succeeded ${record.id}`, `v1.2.0 failed ${record.id}`]);

        const again = await migrate(env, "v1.1.0");
        assert.equal(again.code, 0, again.stderr);
        assert.equal(JSON.parse(again.stdout).outcome, "succeeded");
        assert.match(
            again.stderr,
            new RegExp(`migrate: v1\\.1\\.0 ran before \\(started [^)]+\\), but restore ${record.id} put the data back`),
        );
        assert.equal(await pg.psql(db, "SELECT count(*) FROM safe_release_migrations WHERE version = 'v1.1.0'"), "2");
        assert.deepEqual((await ledger(db)).slice(-1), ["v1.1.0 succeeded -"]);
        // Exactly once again from here on.
        assert.equal(JSON.parse((await migrate(env, "v1.1.0")).stdout).outcome, "already-applied");
    });

    it("a pg restore of the ledger's own database brings the old ledger back: nothing left to mark, and it says so", async () => {
        const db = await seedAppDatabase(pg, "ledger_pg");
        const env = opsEnv(pg, db);
        assert.equal((await migrate(env, "v1.0.0")).code, 0);
        const backupArgs = ["--app", "shop", "--version", "v1.1.0", "--dir", work, "--log", path.join(work, `${db}.log`)];
        const backup = await runOps(["backup", "--kind", "postgres", ...backupArgs, "--critical-tables", "users"], env);
        assert.equal(backup.code, 0, backup.stderr);
        const record = JSON.parse(backup.stdout);
        assert.equal((await migrate(env, "v1.1.0")).code, 0);

        const run = await runOps(["restore", "--id", record.id, "--log", path.join(work, `${db}.log`)], env);
        assert.equal(run.code, 0, run.stderr);
        const note = `nothing to mark: the ledger is in the restored database \`${db}\` and came back with it as of the backup (${record.time})`;
        assert.deepEqual(JSON.parse(run.stdout).ledger.marked, []);
        assert.equal(JSON.parse(run.stdout).ledger.note, note);
        assert.ok(run.stderr.endsWith(`restore: ledger: ${note}\n`), run.stderr);
        assert.deepEqual(await ledger(db), ["v1.0.0 succeeded -"]);
        assert.equal(JSON.parse((await migrate(env, "v1.1.0")).stdout).outcome, "succeeded");
        await pg.psql("postgres", `DROP DATABASE ${JSON.parse(run.stdout).preRestoreDatabase};`);
    });

    it("a drill marks nothing", async () => {
        const { db, env } = await ledgerEnv("ledger_drill");
        const { log, record } = await directoryBackup("drill", "v1.1.0");
        assert.equal((await migrate(env, "v1.1.0")).code, 0);
        const run = await runOps(["restore", "--id", record.id, "--log", log, "--drill"], env);
        assert.equal(run.code, 0, run.stderr);
        assert.deepEqual(JSON.parse(run.stdout).ledger, {
            database: `postgresql://${pg.user}:***@${pg.host}:${pg.port}/${db}`,
            marked: [],
            note: "a drill leaves the migration ledger as it is",
        });
        assert.deepEqual(await ledger(db), ["v1.1.0 succeeded -"]);
        assert.equal(JSON.parse((await migrate(env, "v1.1.0")).stdout).outcome, "already-applied");
    });

    it("a ledger created before restore marks (its key the primary key, no superseded_by) gains the columns and works", async () => {
        const { db, env } = await ledgerEnv("ledger_old");
        await pg.psql(
            db,
            `CREATE TABLE safe_release_migrations (app text NOT NULL, version text NOT NULL, image_digest text NOT NULL,
                 status text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')), started_at timestamptz NOT NULL DEFAULT now(),
                 finished_at timestamptz, exit_code integer, log_tail text, PRIMARY KEY (app, version, image_digest));
             INSERT INTO safe_release_migrations VALUES ('shop', 'v1.0.0', '${DIGEST}', 'succeeded', now() - interval '1 day', now(), 0, '');`,
        );
        const { log, record } = await directoryBackup("old", "v1.1.0");
        await pg.psql(db, `INSERT INTO safe_release_migrations VALUES ('shop', 'v1.1.0', '${DIGEST}', 'succeeded', now(), now(), 0, '');`);
        const run = await runOps(["restore", "--id", record.id, "--log", log], env);
        assert.equal(run.code, 0, run.stderr);
        assert.deepEqual(
            JSON.parse(run.stdout).ledger.marked.map((m: { version: string }) => m.version),
            ["v1.1.0"],
        );
        assert.equal(JSON.parse((await migrate(env, "v1.0.0")).stdout).outcome, "already-applied");
        assert.equal(JSON.parse((await migrate(env, "v1.1.0")).stdout).outcome, "succeeded");
        assert.deepEqual(await ledger(db), ["v1.0.0 succeeded -", `v1.1.0 succeeded ${record.id}`, "v1.1.0 succeeded -"]);
    });

    it("an unreachable ledger stops the restore before any data is touched", async () => {
        const { env } = await ledgerEnv("ledger_gone");
        const { data, log, record } = await directoryBackup("gone", "v1.1.0");
        fs.writeFileSync(path.join(data, "FORMAT"), "2\n");
        const port = await freePort();
        const url = `postgresql://${pg.user}:${SECRET}@127.0.0.1:${port}/nowhere`;
        const run = await runOps(["restore", "--id", record.id, "--log", log], { ...env, SAFE_RELEASE_LEDGER_URL: url });
        assert.equal(run.code, 1);
        assert.equal(run.stdout, "");
        assert.match(
            run.stderr,
            new RegExp(
                `^restore: the migration ledger at postgresql://${pg.user}:\\*\\*\\*@127\\.0\\.0\\.1:${port}/nowhere ` +
                    "\\(SAFE_RELEASE_LEDGER_URL, else DATABASE_URL\\) must be reachable before a restore touches the data, " +
                    "so that it can be marked afterwards: .*; nothing was restored\n$",
            ),
        );
        assert.ok(!run.stderr.includes(SECRET), "password printed");
        assert.equal(fs.readFileSync(path.join(data, "FORMAT"), "utf8"), "2\n");
        assert.deepEqual(
            fs.readdirSync(path.dirname(data)).filter((name) => name.startsWith("data.")),
            [],
        );
    });
});
