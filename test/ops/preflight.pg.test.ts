import { strict as assert } from "assert";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { Writable } from "stream";
import { main } from "../../ops/cli";
import { REASONS } from "../../ops/migrate/destructive";
import { testPostgres, TestPostgres } from "../support/postgres";
import { tempDir } from "../support/processes";

const FIXTURES = path.join(__dirname, "..", "fixtures", "migrations");
const PRISMA_DIR = path.join(FIXTURES, "prisma");
const DJANGO_DIR = path.join(FIXTURES, "django");
const PASSWORD = "preflight-S3cret-pw";
const RESTORE = "or restore the pre-upgrade backup with `release:restoreFrom`";
const PENDING_FIX =
    "make the migration additive (expand now, contract in a later release), or pass `--allow-destructive` once a fresh backup exists and the previous version no longer needs this data";

const INIT = "20240101000000_init";
const POSTS = "20240201000000_add_posts";
const DROP = "20240301000000_drop_legacy";
const checksumOf = (name: string): string =>
    createHash("sha256")
        .update(fs.readFileSync(path.join(PRISMA_DIR, name, "migration.sql")))
        .digest("hex");

class Capture extends Writable {
    text = "";
    _write(chunk: Buffer, _encoding: string, done: () => void): void {
        this.text += chunk.toString();
        done();
    }
}

interface Check {
    name: string;
    status: string;
    detail: string;
    problems: string[];
}

describe("preflight against real PostgreSQL ledgers", function () {
    this.timeout(20000);
    let pg: TestPostgres;
    let db: string;

    beforeEach(async () => {
        pg = await testPostgres();
        db = await pg.createDatabase("preflight");
    });

    async function preflight(
        ...args: string[]
    ): Promise<{ code: number; report: { ok: boolean; ledger: string; checks: Check[] }; stderr: string }> {
        const stdout = new Capture();
        const stderr = new Capture();
        const env = { DATABASE_URL: pg.url(db).replace(`${pg.user}@`, `${pg.user}:${PASSWORD}@`) };
        const code = await main(["preflight", "--app", "shop", "--version", "v2.0.0", ...args], { env, stdout, stderr });
        assert.ok(!stdout.text.includes(PASSWORD) && !stderr.text.includes(PASSWORD), "the password must never be printed");
        assert.equal(stdout.text.split("\n").length, 2, "stdout holds exactly one JSON document");
        return { code, report: JSON.parse(stdout.text), stderr: stderr.text };
    }

    const statuses = (checks: Check[]): string[] => checks.map((c) => `${c.name}:${c.status}`);
    const check = (checks: Check[], name: string): Check => checks.find((c) => c.name === name)!;

    async function prismaLedger(values: string): Promise<void> {
        await pg.psql(db, fs.readFileSync(path.join(FIXTURES, "prisma-ledger.sql"), "utf8"));
        await pg.psql(db, `INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, logs, started_at) VALUES ${values};`);
    }

    const applied = (id: number, name: string, checksum = checksumOf(name)): string =>
        `('${id}', '${checksum}', '2026-01-0${id}T10:00:01Z', '${name}', NULL, '2026-01-0${id}T10:00:00Z')`;

    it("Prisma: refuses the destructive pending migration without the opt-in and accepts it with it, changing nothing", async () => {
        await prismaLedger(`${applied(1, INIT)}, ${applied(2, POSTS)}`);
        const refused = await preflight("--migrations-dir", PRISMA_DIR);
        assert.equal(refused.code, 1);
        assert.equal(refused.report.ok, false);
        assert.equal(refused.report.ledger, "prisma");
        assert.deepEqual(statuses(refused.report.checks), [
            "tool-ledger:ok",
            "framework-ledger:ok",
            "applied-migrations:ok",
            "pending-sql:failed",
            "free-disk:skipped",
        ]);
        const file = `${PRISMA_DIR}/${DROP}/migration.sql`;
        assert.deepEqual(check(refused.report.checks, "pending-sql").problems, [
            `${file}:9: ${REASONS.dropColumn}: ALTER TABLE "Post" DROP COLUMN "title", ADD COLUMN "slug" TEXT NOT NULL DEFAULT ''; ${PENDING_FIX}`,
            `${file}:13: ${REASONS.dropTable}: DROP TABLE "Legacy"; ${PENDING_FIX}`,
        ]);
        assert.equal(
            check(refused.report.checks, "applied-migrations").detail,
            `2 applied Prisma migration(s) match their files in ${PRISMA_DIR}`,
        );
        assert.match(refused.stderr, /\npreflight: failed with 2 problem\(s\) in pending-sql; nothing was changed\n$/);

        const allowed = await preflight("--migrations-dir", PRISMA_DIR, "--allow-destructive");
        assert.equal(allowed.code, 0, allowed.stderr);
        assert.equal(allowed.report.ok, true);
        assert.equal(check(allowed.report.checks, "pending-sql").status, "ok");
        assert.match(allowed.stderr, /\npreflight: passed; nothing was changed\n$/);
        assert.equal(await pg.psql(db, "SELECT to_regclass('safe_release_migrations') IS NULL"), "t", "preflight only reads");
    });

    it("Prisma: reports an in-flight row, a changed migration and a missing file, each with what to do", async () => {
        await prismaLedger(
            [
                applied(1, INIT),
                applied(2, POSTS, "0".repeat(64)),
                applied(3, "20231201000000_removed", "1".repeat(64)),
                `('4', '${checksumOf(DROP)}', NULL, '${DROP}', NULL, '2026-01-04T10:00:00Z')`,
            ].join(", "),
        );
        const { code, report } = await preflight("--migrations-dir", PRISMA_DIR, "--ledger", "prisma", "--allow-destructive");
        assert.equal(code, 1);
        assert.deepEqual(statuses(report.checks), [
            "tool-ledger:ok",
            "framework-ledger:failed",
            "applied-migrations:failed",
            "pending-sql:ok",
            "free-disk:skipped",
        ]);
        assert.deepEqual(check(report.checks, "framework-ledger").problems, [
            `\`_prisma_migrations\`: ${DROP} started 2026-01-04T10:00:00.000Z and never finished (in flight, or its process died); ` +
                `after repairing it by hand mark it with \`prisma migrate resolve --applied ${DROP}\`, or \`--rolled-back\` once it is undone, ${RESTORE}`,
        ]);
        assert.deepEqual(check(report.checks, "applied-migrations").problems, [
            `${POSTS} was changed after it was applied (${PRISMA_DIR}/${POSTS}/migration.sql no longer matches checksum 000000000000…); revert the edit and put the change in a new migration`,
            `20231201000000_removed is applied but ${PRISMA_DIR}/20231201000000_removed/migration.sql is missing; restore that file from the release that applied it`,
        ]);
    });

    it("Prisma: a failed row (logs set) fails the framework ledger", async () => {
        await prismaLedger(
            `${applied(1, INIT)}, ('2', '${checksumOf(POSTS)}', NULL, '${POSTS}', 'Database error code: 42P07', '2026-01-02T10:00:00Z')`,
        );
        const { code, report } = await preflight("--ledger", "auto");
        assert.equal(code, 1);
        assert.deepEqual(statuses(report.checks), [
            "tool-ledger:ok",
            "framework-ledger:failed",
            "applied-migrations:skipped",
            "pending-sql:skipped",
            "free-disk:skipped",
        ]);
        assert.match(
            check(report.checks, "framework-ledger").problems[0],
            /^`_prisma_migrations`: 20240201000000_add_posts failed: Database error code: 42P07; /,
        );
    });

    async function djangoLedger(rows: Array<[string, string]>): Promise<void> {
        await pg.psql(db, fs.readFileSync(path.join(FIXTURES, "django-ledger.sql"), "utf8"));
        const values = rows.map(([app, name]) => `('${app}', '${name}', now())`).join(", ");
        await pg.psql(db, `INSERT INTO django_migrations (app, name, applied) VALUES ${values};`);
    }

    it("Django: refuses destructive sqlmigrate output without the opt-in and accepts additive output", async () => {
        await djangoLedger([
            ["contenttypes", "0001_initial"],
            ["auth", "0001_initial"],
            ["shop", "0001_initial"],
            ["shop", "0002_item_price"],
        ]);
        const sql = path.join(DJANGO_DIR, "sqlmigrate-0003.sql");
        const refused = await preflight("--migrations-dir", DJANGO_DIR, "--pending-sql", sql);
        assert.equal(refused.code, 1);
        assert.equal(refused.report.ledger, "django");
        assert.deepEqual(statuses(refused.report.checks), [
            "tool-ledger:ok",
            "framework-ledger:skipped",
            "applied-migrations:ok",
            "pending-sql:failed",
            "free-disk:skipped",
        ]);
        assert.equal(
            check(refused.report.checks, "applied-migrations").detail,
            `2 applied Django migration(s) have their files in ${DJANGO_DIR}; not checked, their migrations live outside ${DJANGO_DIR}: auth, contenttypes`,
        );
        assert.deepEqual(check(refused.report.checks, "pending-sql").problems, [
            `${sql}:5: ${REASONS.dropColumn}: ALTER TABLE "shop_item" DROP COLUMN "sku" CASCADE; ${PENDING_FIX}`,
        ]);
        const allowed = await preflight("--migrations-dir", DJANGO_DIR, "--pending-sql", sql, "--allow-destructive");
        assert.equal(allowed.code, 0, allowed.stderr);
        const additive = await preflight("--migrations-dir", DJANGO_DIR, "--pending-sql", path.join(DJANGO_DIR, "sqlmigrate-0002.sql"));
        assert.equal(additive.code, 0, additive.stderr);
        assert.equal(
            check(additive.report.checks, "pending-sql").detail,
            "no destructive statement in 1 pending SQL source(s); the Python of 1 pending Django migration(s) is not analysed " +
                "(shop.0003_remove_item_sku): only SQL is, so pass their `manage.py sqlmigrate` output with `--pending-sql`",
        );
        const withoutSql = await preflight("--migrations-dir", DJANGO_DIR);
        assert.equal(check(withoutSql.report.checks, "pending-sql").status, "skipped", "unread Python is never a pass");
    });

    it("Django: an applied migration whose file is missing fails", async () => {
        await djangoLedger([
            ["shop", "0001_initial"],
            ["shop", "0002_renamed_away"],
        ]);
        const { code, report } = await preflight("--ledger", "django", "--migrations-dir", DJANGO_DIR);
        assert.equal(code, 1);
        assert.deepEqual(check(report.checks, "applied-migrations").problems, [
            `shop.0002_renamed_away is applied but ${DJANGO_DIR}/shop/migrations/0002_renamed_away.py is missing; ` +
                "restore that file from the release that applied it (Django cannot plan migrations without their history)",
        ]);
    });

    it("fails on a failed run in the tool's own ledger and when both framework ledgers exist", async () => {
        await pg.psql(
            db,
            [
                "-- a ledger as first created, before `superseded_by` existed",
                "CREATE TABLE safe_release_migrations (app text, version text, image_digest text, status text, started_at timestamptz,",
                "  finished_at timestamptz, exit_code integer, log_tail text, PRIMARY KEY (app, version, image_digest));",
                "INSERT INTO safe_release_migrations VALUES ('shop', 'v1.9.0', 'sha256:x', 'failed', now(), now(), 3, 'boom'),",
                "  ('blog', 'v1.0.0', 'sha256:y', 'failed', now(), now(), 1, 'other app');",
            ].join("\n"),
        );
        await pg.psql(db, fs.readFileSync(path.join(FIXTURES, "prisma-ledger.sql"), "utf8"));
        await pg.psql(db, fs.readFileSync(path.join(FIXTURES, "django-ledger.sql"), "utf8"));
        const { code, report } = await preflight();
        assert.equal(code, 1);
        assert.equal(report.ledger, "ambiguous");
        assert.deepEqual(statuses(report.checks), [
            "tool-ledger:failed",
            "framework-ledger:failed",
            "applied-migrations:skipped",
            "pending-sql:skipped",
            "free-disk:skipped",
        ]);
        assert.deepEqual(check(report.checks, "tool-ledger").problems, [
            `\`safe_release_migrations\`: the migration of v1.9.0 failed with exit code 3; fix forward with a new version (\`migrate --fix-forward-from v1.9.0\`) ${RESTORE}`,
        ]);
        assert.deepEqual(check(report.checks, "framework-ledger").problems, [
            "both `_prisma_migrations` and `django_migrations` exist; pass `--ledger prisma` or `--ledger django` to say which one this app uses",
        ]);
    });

    it("reads free disk only where it can: a local --data-dir, never a silent pass", async () => {
        const dir = await tempDir("safe-release-disk-");
        const enough = await preflight("--data-dir", dir, "--min-free-disk-mb", "0");
        assert.equal(enough.code, 0, enough.stderr);
        assert.match(
            check(enough.report.checks, "free-disk").detail,
            new RegExp(`^\\d+ MB free in ${dir} \\(\`--min-free-disk-mb\` 0\\)$`),
        );
        const short = await preflight("--data-dir", dir, "--min-free-disk-mb", "999999999");
        assert.equal(short.code, 1);
        assert.equal(check(short.report.checks, "free-disk").status, "failed");
        const missing = await preflight("--data-dir", path.join(dir, "nope"));
        assert.deepEqual(check(missing.report.checks, "free-disk").problems, [
            `\`--data-dir\` ${path.join(dir, "nope")} cannot be read (ENOENT); pass a directory on the volume that must have room`,
        ]);
        const unread = await preflight();
        assert.equal(unread.code, 0);
        assert.equal(check(unread.report.checks, "free-disk").status, "skipped");
        assert.equal(
            check(unread.report.checks, "framework-ledger").detail,
            "no `_prisma_migrations` or `django_migrations` table: nothing applied yet, or another framework (pass `--ledger` to insist)",
        );
    });

    it("exits 2 when a named file or folder cannot be read", async () => {
        const stdout = new Capture();
        const stderr = new Capture();
        const code = await main(["preflight", "--app", "shop", "--version", "v2.0.0", "--pending-sql", "/nonexistent.sql"], {
            env: { DATABASE_URL: pg.url(db) },
            stdout,
            stderr,
        });
        assert.equal(code, 2);
        assert.equal(stderr.text, "preflight: `--pending-sql` must name a readable file; got `/nonexistent.sql` (ENOENT)\n");
        assert.equal(stdout.text, "");
    });
});
