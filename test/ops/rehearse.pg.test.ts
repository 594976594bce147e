import { strict as assert } from "assert";
import * as path from "path";
import { shellWord } from "../../ops/migrate/rehearsal";
import { scratchDatabaseName, urlNamingDatabase } from "../../ops/migrate/scratchDatabase";
import { testPostgres, TestPostgres } from "../support/postgres";
import { backupDir, opsEnv, removeDir, runOps, SECRET, seedAppDatabase } from "./backupTestSupport";

const RUNNER = path.join(__dirname, "..", "fixtures", "migrations", "runner.js");
const DJANGO_MIGRATIONS = path.join(__dirname, "..", "fixtures", "migrations", "django");
const DIGEST = `sha256:${"e".repeat(64)}`;

/**
 * `rehearse` against a real PostgreSQL: a logged backup restored into a scratch copy, the
 * migration run there by the same rules as `migrate`, its result checked, the copy dropped,
 * and the live database never written (checksums of every table before and after).
 */
describe("rehearse: the migration on a restored copy (real PostgreSQL)", function () {
    this.timeout(60000);
    let pg: TestPostgres;
    let work: string;

    before(async () => {
        pg = await testPostgres();
        work = await backupDir();
    });
    after(() => removeDir(work));

    /** md5 of every table's rows (in a fixed order) and of its columns, by table name. */
    async function checksums(db: string): Promise<Record<string, string>> {
        const tables = (await pg.psql(db, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).split("\n");
        const sums: Record<string, string> = {};
        for (const table of tables.filter(Boolean)) {
            sums[table] = await pg.psql(
                db,
                `SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) || ' ' ||
                        (SELECT string_agg(column_name || ':' || data_type, ',' ORDER BY column_name)
                           FROM information_schema.columns WHERE table_name = '${table}')
                   FROM "${table}" t`,
            );
        }
        return sums;
    }

    const databaseExists = async (name: string): Promise<boolean> =>
        (await pg.psql("postgres", `SELECT count(*) FROM pg_database WHERE datname = '${name}'`)) === "1";

    /** A backup of `db` in its own log, counting `users` and `projects`; returns its id and log. */
    async function backup(db: string, env: NodeJS.ProcessEnv, critical = "users,projects"): Promise<{ id: string; log: string }> {
        const log = path.join(work, `${db}.log`);
        const args = ["backup", "--kind", "postgres", "--app", "shop", "--version", "v1.4.2", "--dir", work, "--log", log];
        const run = await runOps([...args, "--critical-tables", critical], env);
        assert.equal(run.code, 0, run.stderr);
        return { id: JSON.parse(run.stdout).id, log };
    }

    const rehearseArgs = (id: string, log: string, ...extra: string[]): string[] => [
        "rehearse",
        "--id",
        id,
        "--log",
        log,
        "--app",
        "shop",
        "--version",
        "v1.5.0",
        "--digest",
        DIGEST,
        ...extra,
        "--",
        process.execPath,
        RUNNER,
    ];

    describe("a Prisma-style app", () => {
        let db: string;
        let env: NodeJS.ProcessEnv;
        let logged: { id: string; log: string };
        let liveLedger: string;

        before(async () => {
            db = await seedAppDatabase(pg, "rehearse_prisma");
            env = opsEnv(pg, db);
            // The live ledger holds the running version's run: a rehearsal must leave it as it is.
            const migrate = ["migrate", "--app", "shop", "--version", "v1.4.2", "--digest", DIGEST, "--", process.execPath, RUNNER];
            assert.equal((await runOps(migrate, env)).code, 0);
            logged = await backup(db, env);
            liveLedger = await pg.psql(db, "SELECT row_to_json(m)::text FROM safe_release_migrations m");
        });

        it("passes: names the Prisma migration it applied, counts unchanged, the copy dropped, the live data untouched", async () => {
            const before = await checksums(db);
            const migration =
                "ALTER TABLE users ADD COLUMN nickname text; " +
                "INSERT INTO _prisma_migrations VALUES ('m3', 'c3', '20240301_nickname', now(), now(), 1);";
            const run = await runOps(rehearseArgs(logged.id, logged.log), { ...env, MIGRATION_SQL: migration });
            assert.equal(run.code, 0, run.stderr);
            const result = JSON.parse(run.stdout);
            assert.equal(result.outcome, "passed");
            assert.equal(result.migration, "succeeded");
            assert.deepEqual(result.addedMigrations, ["20240301_nickname"]);
            assert.deepEqual(result.rowCounts, {
                projects: { before: 120, after: 120, expectedToChange: false },
                users: { before: 500, after: 500, expectedToChange: false },
            });
            assert.deepEqual(result.problems, []);
            assert.equal(typeof result.migrationSeconds, "number");
            assert.match(result.scratchDatabase, new RegExp(`^${db}_rehearse_\\d{14}$`));
            assert.equal(result.scratchDropped, true);
            assert.equal(await databaseExists(result.scratchDatabase), false);
            assert.ok(run.stderr.includes(`rehearse: dropped the scratch database ${result.scratchDatabase}\n`), run.stderr);
            assert.ok(
                run.stderr.includes(
                    `rehearse: passed: the migration took ${result.migrationSeconds.toFixed(3)} s on a copy of backup ${logged.id}; ` +
                        "expect the real one to pause writers about as long\n",
                ),
                run.stderr,
            );
            assert.deepEqual(await checksums(db), before);
            assert.equal(await pg.psql(db, "SELECT row_to_json(m)::text FROM safe_release_migrations m"), liveLedger);
            assert.equal(await pg.psql(db, "SELECT count(*) FROM _prisma_migrations"), "2");
        });

        it("--from-live: dumps the live database itself, passes, and removes that dump; the live data untouched", async () => {
            const before = await checksums(db);
            const migration =
                "ALTER TABLE users ADD COLUMN nickname text; " +
                "INSERT INTO _prisma_migrations VALUES ('m3', 'c3', '20240301_nickname', now(), now(), 1);";
            const args = ["rehearse", "--from-live", "--app", "shop", "--version", "v1.5.0", "--digest", DIGEST];
            const run = await runOps([...args, "--critical-tables", "users", "--", process.execPath, RUNNER], {
                ...env,
                MIGRATION_SQL: migration,
            });
            assert.equal(run.code, 0, run.stderr);
            const result = JSON.parse(run.stdout);
            assert.equal(result.outcome, "passed");
            assert.deepEqual(result.addedMigrations, ["20240301_nickname"]);
            assert.deepEqual(result.rowCounts, { users: { before: 500, after: 500, expectedToChange: false } });
            assert.match(result.backupId, /^shop-v1\.5\.0-\d{8}T\d{6}\.\d{3}Z$/);
            assert.ok(run.stderr.startsWith(`rehearse: dumping ${db} for the rehearsal (writers keep running)\n`), run.stderr);
            assert.ok(run.stderr.includes(`on a copy of a dump of ${db} taken for this rehearsal;`), run.stderr);
            assert.deepEqual(await checksums(db), before);
            assert.equal(await databaseExists(result.scratchDatabase), false);
        });

        it("--scratch-database: rehearses in the fixed sr_rehearse_<app> a task was told in advance, dropping a leftover first", async () => {
            const before = await checksums(db);
            await pg.psql("postgres", "CREATE DATABASE sr_rehearse_shop");
            await pg.psql("sr_rehearse_shop", "CREATE TABLE left_behind (id int)");
            const migration =
                "ALTER TABLE users ADD COLUMN nickname text; " +
                "INSERT INTO _prisma_migrations VALUES ('m3', 'c3', '20240301_nickname', now(), now(), 1);";
            const args = ["rehearse", "--from-live", "--scratch-database", "sr_rehearse_shop", "--app", "shop", "--version", "v1.5.0"];
            const run = await runOps([...args, "--digest", DIGEST, "--critical-tables", "users", "--", process.execPath, RUNNER], {
                ...env,
                MIGRATION_SQL: migration,
            });
            assert.equal(run.code, 0, run.stderr);
            const result = JSON.parse(run.stdout);
            assert.equal(result.outcome, "passed");
            assert.equal(result.scratchDatabase, "sr_rehearse_shop");
            assert.deepEqual(result.addedMigrations, ["20240301_nickname"]);
            assert.ok(run.stderr.includes("rehearse: dropped sr_rehearse_shop, left by an earlier rehearsal\n"), run.stderr);
            assert.ok(run.stderr.includes("rehearse: dropped the scratch database sr_rehearse_shop\n"), run.stderr);
            assert.equal(await databaseExists("sr_rehearse_shop"), false);
            assert.deepEqual(await checksums(db), before);
        });

        it("--scratch-database refuses a name that is not the rehearsal's own, before anything is dumped", async () => {
            const args = ["rehearse", "--from-live", "--scratch-database", db, "--app", "shop", "--version", "v1.5.0", "--digest", DIGEST];
            const run = await runOps([...args, "--", process.execPath, RUNNER], env);
            assert.equal(run.code, 2);
            assert.equal(
                run.stderr.trim().split("\n").pop(),
                "rehearse: `--scratch-database` must be a name starting `sr_rehearse_` (lower-case letters, digits, `_`; at most 63), " +
                    `which marks a database as the rehearsal's own: a leftover of that name is dropped; got \`${db}\``,
            );
            assert.equal(await databaseExists(db), true);
        });

        it("fails loudly when the runner's migration reaches the live database instead of the copy", async () => {
            const live = await seedAppDatabase(pg, "rehearse_reach");
            const liveEnv = opsEnv(pg, live);
            const own = await backup(live, liveEnv);
            const migration = "INSERT INTO _prisma_migrations VALUES ('m9', 'c9', '20240309_elsewhere', now(), now(), 1);";
            const run = await runOps(rehearseArgs(own.id, own.log), { ...liveEnv, MIGRATION_SQL: migration, TARGET_URL: pg.url(live) });
            assert.equal(run.code, 1);
            const result = JSON.parse(run.stdout);
            assert.equal(
                result.problems[0],
                `the migration reached the LIVE database ${live}, not the copy: it applied 20240309_elsewhere there. ` +
                    "Its runner takes its database from elsewhere than DATABASE_URL; the live schema is now the new version's, " +
                    "while the writers still run the old one: stop them, then finish the release or restore the pre-upgrade backup",
            );
        });

        it("fails a migration that fails: exit 1, its output masked, the commands to reproduce it, the copy dropped", async () => {
            const before = await checksums(db);
            const failing = { ...env, PRINT_URL: "1", LINES: "3", MIGRATION_SQL: "DELETE FROM projects", EXIT_CODE: "3" };
            const run = await runOps(rehearseArgs(logged.id, logged.log), failing);
            assert.equal(run.code, 1);
            const result = JSON.parse(run.stdout);
            assert.equal(result.outcome, "failed");
            assert.equal(result.migration, "failed");
            assert.deepEqual(result.problems, ["the migration failed with exit code 3 on the copy; the live database was not touched"]);
            const scratchUrl = `postgresql://${pg.user}:***@${pg.host}:${pg.port}/${result.scratchDatabase}`;
            assert.deepEqual(result.outputTail, [`connecting to ${scratchUrl}`, "line 1", "line 2", "line 3"]);
            assert.ok(!run.stdout.includes(SECRET) && !run.stderr.includes(SECRET), "the password was printed");
            assert.ok(
                run.stderr.includes(
                    [
                        "rehearse: failed: the migration failed with exit code 3 on the copy; the live database was not touched",
                        "rehearse: last 4 line(s) of the migration's output:",
                        `  | connecting to ${scratchUrl}`,
                        "  | line 1",
                        "  | line 2",
                        "  | line 3",
                        "rehearse: to reproduce by hand, with DATABASE_URL set as for this run:",
                        "  # rehearse again (restores the backup into a fresh copy, dropped afterwards):",
                    ].join("\n"),
                ),
                run.stderr,
            );
            const scratch = result.scratchDatabase;
            assert.deepEqual(result.reproduce.slice(1), [
                `safe-release-ops rehearse --id ${logged.id} --log ${logged.log} --app shop --version v1.5.0 --digest ${DIGEST} -- ${process.execPath} ${RUNNER}`,
                `# or keep a copy to inspect; SCRATCH_URL: $DATABASE_URL naming database ${scratch} instead of ${db}`,
                `createdb --maintenance-db="$DATABASE_URL" --template=template0 ${scratch}`,
                restoreLine(JSON.parse(await logLine(logged)).location),
                `DATABASE_URL="$SCRATCH_URL" ${process.execPath} ${RUNNER}`,
                `dropdb --maintenance-db="$DATABASE_URL" ${scratch}`,
            ]);
            assert.equal(result.scratchDropped, true);
            assert.equal(await databaseExists(scratch), false);
            assert.deepEqual(await checksums(db), before);
            assert.equal(await pg.psql(db, "SELECT row_to_json(m)::text FROM safe_release_migrations m"), liveLedger);
        });

        it("stops a migration that passes but deletes rows of a critical table, naming it and both counts", async () => {
            const deleting = { ...env, MIGRATION_SQL: "DELETE FROM projects WHERE id > 100" };
            const run = await runOps(rehearseArgs(logged.id, logged.log), deleting);
            assert.equal(run.code, 1);
            const result = JSON.parse(run.stdout);
            assert.equal(result.migration, "succeeded");
            const problem =
                "critical table `projects` had 120 rows before the migration, 100 after; " +
                "if the release means to change it, name it in `--expect-changed`";
            assert.deepEqual(result.problems, [problem]);
            assert.ok(run.stderr.includes(`rehearse: failed: ${problem}\n`), run.stderr);
            assert.equal(await pg.psql(db, "SELECT count(*) FROM projects"), "120");
        });

        it("lets it pass when `--expect-changed` names that table", async () => {
            const deleting = { ...env, MIGRATION_SQL: "DELETE FROM projects WHERE id > 100" };
            const run = await runOps(rehearseArgs(logged.id, logged.log, "--expect-changed", "projects"), deleting);
            assert.equal(run.code, 0, run.stderr);
            const result = JSON.parse(run.stdout);
            assert.deepEqual(result.rowCounts.projects, { before: 120, after: 100, expectedToChange: true });
            assert.deepEqual(result.problems, []);
        });

        it("refuses an `--expect-changed` table that is not critical, before touching anything", async () => {
            const run = await runOps(rehearseArgs(logged.id, logged.log, "--expect-changed", "orders"), env);
            assert.equal(run.code, 2);
            assert.equal(run.stderr, "rehearse: `--expect-changed` must name critical tables (users, projects); got `orders`\n");
        });
    });

    describe("a Django-style app", () => {
        let db: string;
        let env: NodeJS.ProcessEnv;
        let logged: { id: string; log: string };

        before(async () => {
            db = await pg.createDatabase("rehearse_django");
            await pg.psql(
                db,
                `CREATE TABLE django_migrations (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, app varchar(255) NOT NULL,
                     name varchar(255) NOT NULL, applied timestamptz NOT NULL);
                 INSERT INTO django_migrations (app, name, applied) VALUES ('shop', '0001_initial', '2024-01-01 00:00:00+00');
                 CREATE TABLE shop_item (id bigint PRIMARY KEY, sku varchar(32) NOT NULL);
                 INSERT INTO shop_item SELECT g, 'sku-' || g FROM generate_series(1, 300) g;`,
            );
            env = opsEnv(pg, db);
            logged = await backup(db, env, "shop_item");
        });

        const bothMigrations =
            "ALTER TABLE shop_item ADD COLUMN price numeric(10,2); ALTER TABLE shop_item DROP COLUMN sku; " +
            "INSERT INTO django_migrations (app, name, applied) VALUES ('shop', '0002_item_price', now()), ('shop', '0003_remove_item_sku', now());";

        it("passes: names the Django migrations it applied, every pending one of --migrations-dir among them", async () => {
            const before = await checksums(db);
            const run = await runOps(rehearseArgs(logged.id, logged.log, "--migrations-dir", DJANGO_MIGRATIONS), {
                ...env,
                MIGRATION_SQL: bothMigrations,
            });
            assert.equal(run.code, 0, run.stderr);
            const result = JSON.parse(run.stdout);
            assert.deepEqual(result.addedMigrations, ["shop.0002_item_price", "shop.0003_remove_item_sku"]);
            assert.deepEqual(result.pendingMigrations, ["shop.0002_item_price", "shop.0003_remove_item_sku"]);
            assert.deepEqual(result.rowCounts, { shop_item: { before: 300, after: 300, expectedToChange: false } });
            assert.equal(await databaseExists(result.scratchDatabase), false);
            assert.deepEqual(await checksums(db), before);
            assert.equal(await pg.psql(db, "SELECT count(*) FROM django_migrations"), "1");
            assert.equal(
                await pg.psql(db, "SELECT to_regclass('safe_release_migrations') IS NULL"),
                "t",
                "no ledger written to the live database",
            );
        });

        it("fails when a pending migration was not applied", async () => {
            const onlyOne =
                "ALTER TABLE shop_item ADD COLUMN price numeric(10,2); " +
                "INSERT INTO django_migrations (app, name, applied) VALUES ('shop', '0002_item_price', now());";
            const run = await runOps(rehearseArgs(logged.id, logged.log, "--migrations-dir", DJANGO_MIGRATIONS), {
                ...env,
                MIGRATION_SQL: onlyOne,
            });
            assert.equal(run.code, 1);
            assert.deepEqual(JSON.parse(run.stdout).problems, [
                "the migration succeeded but did not apply shop.0003_remove_item_sku: pending in `--migrations-dir`, " +
                    "not recorded in the framework's ledger of the copy",
            ]);
        });
    });

    const restoreLine = (file: string): string =>
        file.endsWith(".zst")
            ? `zstd -q -d -c ${file} | pg_restore --exit-on-error --no-password --dbname="$SCRATCH_URL"`
            : `pg_restore --exit-on-error --no-password --dbname="$SCRATCH_URL" ${file}`;

    /** The backup log's line for the backup, as JSON text. */
    async function logLine(logged: { id: string; log: string }): Promise<string> {
        const fs = await import("fs");
        return fs
            .readFileSync(logged.log, "utf8")
            .split("\n")
            .find((line) => line.includes(`"${logged.id}"`))!;
    }
});

describe("rehearse: names and commands", () => {
    it("names the scratch database after the live one, cut to PostgreSQL's 63 bytes", () => {
        const at = new Date("2026-12-02T06:15:00.123Z");
        assert.equal(scratchDatabaseName("shop", "rehearse", at), "shop_rehearse_20261202061500");
        const long = scratchDatabaseName("é".repeat(40), "rehearse", at);
        assert.equal(long, `${"é".repeat(19)}_rehearse_20261202061500`);
        assert.ok(Buffer.byteLength(long) <= 63);
    });

    it("points a connection string at another database, keeping its credentials and options", () => {
        assert.equal(
            urlNamingDatabase("postgresql://shop:p%40ss@db.internal:5432/shop?sslmode=require", "shop_rehearse_1"),
            "postgresql://shop:p%40ss@db.internal:5432/shop_rehearse_1?sslmode=require",
        );
    });

    it("quotes a shell word only when it needs it", () => {
        assert.equal(shellWord("/usr/bin/node"), "/usr/bin/node");
        assert.equal(shellWord("it's here"), "'it'\\''s here'");
        assert.equal(shellWord("$HOME"), "'$HOME'");
    });
});
