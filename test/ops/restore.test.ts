import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { Client } from "pg";
import { PostgresBackupRecord, readLog, writeLogAtomically } from "../../core/backupLog";
import { testPostgres, TestPostgres } from "../support/postgres";
import { OpsRun } from "../support/opsRun";
import { backupDir, opsEnv, removeDir, runOps, SECRET, seedAppDatabase } from "./backupTestSupport";

/** Everything a restore must bring back, as text: both critical tables row by row, and the ledger. */
async function contents(pg: TestPostgres, db: string): Promise<string> {
    return pg.psql(
        db,
        `SELECT (SELECT string_agg(format('%s|%s|%s|%s', id, email, balance, created), ',' ORDER BY id) FROM users)
             || ' / ' || (SELECT string_agg(format('%s|%s|%s', id, owner, name), ',' ORDER BY id) FROM projects)
             || ' / ' || (SELECT string_agg(id || ':' || migration_name, ',' ORDER BY id) FROM _prisma_migrations);`,
    );
}

/** The runbook's failure case: a migration that changed the schema, lost rows and wrote its ledger row. */
async function badMigration(pg: TestPostgres, db: string): Promise<void> {
    await pg.psql(
        db,
        `ALTER TABLE users ADD COLUMN nickname text;
         DELETE FROM projects WHERE id > 100;
         DELETE FROM users WHERE id > 400 AND id NOT IN (SELECT owner FROM projects);
         INSERT INTO _prisma_migrations VALUES ('m3', 'c3', '20240301_nicknames', now(), now(), 1);`,
    );
}

async function databasesLike(pg: TestPostgres, pattern: string): Promise<string[]> {
    const out = await pg.psql("postgres", `SELECT datname FROM pg_database WHERE datname LIKE '${pattern}' ORDER BY 1;`);
    return out === "" ? [] : out.split("\n");
}

function assertNoSecret(...runs: OpsRun[]): void {
    for (const run of runs) assert.ok(!run.stdout.includes(SECRET) && !run.stderr.includes(SECRET), "password printed");
}

describe("restore --kind postgres (real PostgreSQL)", function () {
    this.timeout(60000);
    let pg: TestPostgres;
    let dir: string;

    before(async () => {
        pg = await testPostgres();
        dir = await backupDir();
    });
    after(() => removeDir(dir));

    /** A seeded database, its backup record, its log, and its contents at backup time. */
    async function backedUp(prefix: string): Promise<{ db: string; record: PostgresBackupRecord; log: string; before: string }> {
        const db = await seedAppDatabase(pg, prefix);
        const log = path.join(dir, `${db}.log`);
        const run = await runOps(
            [
                "backup",
                "--kind",
                "postgres",
                "--app",
                "shop",
                "--version",
                "v1.4.2",
                "--dir",
                dir,
                "--log",
                log,
                "--critical-tables",
                "users,projects",
            ],
            opsEnv(pg, db),
        );
        assert.equal(run.code, 0, run.stderr);
        return { db, record: JSON.parse(run.stdout), log, before: await contents(pg, db) };
    }

    it("brings back the exact rows and ledger after a bad migration, keeping the damaged database", async () => {
        const { db, record, log, before } = await backedUp("restore_swap");
        await badMigration(pg, db);
        const damaged = await contents(pg, db);
        assert.notEqual(damaged, before);
        // An application session still connected to the live database must not block the swap.
        const idle = new Client({ connectionString: pg.url(db) });
        await idle.connect();
        idle.on("error", () => undefined);

        const run = await runOps(["restore", "--id", record.id, "--log", log], opsEnv(pg, db));
        await idle.end().catch(() => undefined);
        assert.equal(run.code, 0, run.stderr);
        const result = JSON.parse(run.stdout);
        const stamp = /_restore_(\d{14})$/.exec(result.scratchDatabase)![1];
        assert.deepEqual(
            [result.ok, result.liveDatabase, result.scratchDatabase, result.preRestoreDatabase, result.scratchKept, result.differences],
            [true, db, `${db}_restore_${stamp}`, `${db}_pre_restore_${stamp}`, false, []],
        );
        assert.deepEqual(result.facts, { ledgers: { _prisma_migrations: 2 }, rowCounts: { users: 500, projects: 120 } });
        assert.ok(result.timingsMs.restore >= 0 && result.timingsMs.verify >= 0 && result.timingsMs.swap >= 0);

        assert.equal(await contents(pg, db), before);
        assert.equal(
            await pg.psql(db, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'nickname';"),
            "0",
        );
        assert.equal(await contents(pg, result.preRestoreDatabase), damaged);
        assert.deepEqual(await databasesLike(pg, `${db}_restore_%`), []);
        assert.match(run.stderr, /\nrestored \d+ MiB \(\d+ MiB\/s\)\n/);
        assertNoSecret(run);
    });

    it("leaves the live database untouched and lists every difference when verification fails", async () => {
        const { db, record, log } = await backedUp("restore_mismatch");
        await badMigration(pg, db);
        const damaged = await contents(pg, db);
        // Facts that disagree with the dump: as if rows had vanished from the archive.
        const facts = JSON.parse(fs.readFileSync(record.factsLocation!, "utf8"));
        facts.rowCounts.users = 501;
        const extraRow = '{"id":"m0","checksum":"c0","migration_name":"20231201_seed"}';
        facts.ledgers._prisma_migrations.push(extraRow);
        fs.writeFileSync(record.factsLocation!, JSON.stringify(facts));

        const run = await runOps(["restore", "--id", record.id, "--log", log], opsEnv(pg, db));
        assert.equal(run.code, 1);
        const result = JSON.parse(run.stdout);
        assert.deepEqual(result.differences, [
            `ledger \`_prisma_migrations\`: row missing: ${extraRow}`,
            "row count of `users`: expected 501, got 500",
        ]);
        assert.ok(
            run.stderr.endsWith(
                `restore: difference: ledger \`_prisma_migrations\`: row missing: ${extraRow}\n` +
                    "restore: difference: row count of `users`: expected 501, got 500\n" +
                    "restore: failed; the live data was not touched\n",
            ),
            run.stderr,
        );
        assert.equal(result.preRestoreDatabase, undefined);
        assert.equal(await contents(pg, db), damaged);
        assert.deepEqual(await databasesLike(pg, `${db}_%restore_%`), [result.scratchDatabase]);
        assert.equal(result.scratchKept, true);
        await pg.psql("postgres", `DROP DATABASE ${result.scratchDatabase};`);
        assertNoSecret(run);
    });

    it("refuses a dump whose checksum differs from the record, live untouched", async () => {
        const { db, record, log } = await backedUp("restore_checksum");
        await badMigration(pg, db);
        const damaged = await contents(pg, db);
        const wrong = "ab".repeat(32);
        writeLogAtomically(
            log,
            readLog(log).map((r) => ({ ...r, sha256: wrong })),
        );

        const run = await runOps(["restore", "--id", record.id, "--log", log], opsEnv(pg, db));
        assert.equal(run.code, 1);
        // Checked before anything is created: no scratch database, and the restore never began.
        assert.equal(
            run.stderr,
            `restore: checksum mismatch for \`${record.location}\`: expected sha256 ${wrong}, got ${record.sha256}\n` +
                "restore: failed; the live data was not touched\n",
        );
        assert.equal(await contents(pg, db), damaged);
        assert.deepEqual(await databasesLike(pg, `${db}_%restore_%`), []);
    });

    it("--drill restores and verifies a scratch copy, drops it, and leaves live untouched", async () => {
        const { db, record, log } = await backedUp("restore_drill");
        await badMigration(pg, db);
        const damaged = await contents(pg, db);

        const run = await runOps(["restore", "--id", record.id, "--log", log, "--drill"], opsEnv(pg, db));
        assert.equal(run.code, 0, run.stderr);
        const result = JSON.parse(run.stdout);
        assert.deepEqual([result.ok, result.drill, result.scratchKept, result.preRestoreDatabase], [true, true, false, undefined]);
        assert.deepEqual(result.facts, { ledgers: { _prisma_migrations: 2 }, rowCounts: { users: 500, projects: 120 } });
        assert.equal(await contents(pg, db), damaged);
        assert.deepEqual(await databasesLike(pg, `${db}_%restore_%`), []);
        assertNoSecret(run);
    });

    it("fails before touching anything when the backup's facts file is missing", async () => {
        const { db, record, log, before } = await backedUp("restore_nofacts");
        fs.rmSync(record.factsLocation!);
        const run = await runOps(["restore", "--id", record.id, "--log", log], opsEnv(pg, db));
        assert.deepEqual(
            [run.code, run.stdout, run.stderr.split("\n").slice(-2)],
            [
                1,
                "",
                [
                    `restore: facts of backup \`${record.id}\` must be at \`${record.factsLocation}\` (its \`factsLocation\`); the file is missing`,
                    "",
                ],
            ],
        );
        assert.equal(await contents(pg, db), before);
        assert.deepEqual(await databasesLike(pg, `${db}_%restore_%`), []);
    });

    it("refuses a DATABASE_URL naming another database than the backup's, touching nothing; --into names it on purpose", async () => {
        const { record, log, before } = await backedUp("restore_source");
        const victim = await seedAppDatabase(pg, "restore_victim");
        await badMigration(pg, victim);
        const victimBefore = await contents(pg, victim);

        const refused = await runOps(["restore", "--id", record.id, "--log", log], opsEnv(pg, victim));
        assert.deepEqual(
            [refused.code, refused.stdout, refused.stderr],
            [
                2,
                "",
                `restore: refusing to restore backup \`${record.id}\` of database \`${record.database}\` into \`${victim}\` ` +
                    `(the database \`DATABASE_URL\` names): it would replace \`${victim}\`. Point \`DATABASE_URL\` at the backup's database, ` +
                    `or pass \`--into ${victim}\` to replace \`${victim}\` on purpose\n`,
            ],
        );
        const wrongInto = await runOps(["restore", "--id", record.id, "--log", log, "--into", record.database], opsEnv(pg, victim));
        assert.deepEqual(
            [wrongInto.code, wrongInto.stderr],
            [
                2,
                "restore: `--into` must name the database `DATABASE_URL` names, the one the restore replaces " +
                    `(\`${victim}\`); got \`${record.database}\`\n`,
            ],
        );
        assert.equal(await contents(pg, victim), victimBefore);
        assert.deepEqual(await databasesLike(pg, `${victim}_%restore_%`), []);

        const drill = await runOps(["restore", "--id", record.id, "--log", log, "--drill"], opsEnv(pg, victim));
        assert.equal(drill.code, 0, drill.stderr);
        assert.equal(await contents(pg, victim), victimBefore, "a drill replaces nothing");

        const meant = await runOps(["restore", "--id", record.id, "--log", log, "--into", victim], opsEnv(pg, victim));
        assert.equal(meant.code, 0, meant.stderr);
        assert.equal(await contents(pg, victim), before);
        assertNoSecret(refused, wrongInto, meant);
    });

    it("names the missing backup id and the log", async () => {
        const log = path.join(dir, "empty.log");
        const run = await runOps(["restore", "--id", "shop-v9.9.9-20200101T000000Z", "--log", log], opsEnv(pg, "postgres"));
        assert.deepEqual(
            [run.code, run.stderr],
            [2, `restore: \`--id\` must name a backup recorded in \`${log}\`; got \`shop-v9.9.9-20200101T000000Z\`\n`],
        );
    });
});
