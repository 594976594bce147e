import { strict as assert } from "assert";
import { createHash } from "crypto";
import { parsePreflightArgs, formatChecks } from "../../ops/commands/preflight";
import { loadSqlParser, REASONS } from "../../ops/migrate/destructive";
import {
    djangoAppliedCheck,
    freeDiskCheck,
    MB,
    noteUnreadDjangoMigrations,
    pendingDjangoMigrations,
    pendingPrismaMigrations,
    pendingSqlCheck,
    prismaAppliedCheck,
    prismaChecksumMatches,
    prismaLedgerCheck,
    toolLedgerCheck,
    unreadableDiskCheck,
} from "../../ops/preflight/checks";
import { chooseLedger } from "../../ops/preflight/sources";
import { PrismaLedgerRow, ToolLedgerRow } from "../../ops/pg/ledgers";

const sha = (text: string): string => createHash("sha256").update(text).digest("hex");
const T0 = new Date("2026-03-01T10:00:00.000Z");
const RESTORE = "or restore the pre-upgrade backup with `release:restoreFrom`";

function prismaRow(name: string, sql: string, overrides: Partial<PrismaLedgerRow> = {}): PrismaLedgerRow {
    return { migrationName: name, checksum: sha(sql), startedAt: T0, finishedAt: T0, rolledBackAt: null, logs: null, ...overrides };
}

describe("preflight: arguments", () => {
    it("parses every option with defaults", () => {
        assert.deepEqual(parsePreflightArgs(["--app", "shop", "--version", "v2.0.0"]), {
            app: "shop",
            version: "v2.0.0",
            ledger: "auto",
            allowDestructive: false,
            minFreeDiskMb: 1024,
        });
        assert.deepEqual(
            parsePreflightArgs([
                "--app",
                "shop",
                "--version",
                "v2.0.0",
                "--ledger",
                "django",
                "--migrations-dir",
                "/m",
                "--pending-sql",
                "/p.sql",
                "--allow-destructive",
                "--data-dir",
                "/var/lib/postgresql",
                "--min-free-disk-mb",
                "2048",
            ]),
            {
                app: "shop",
                version: "v2.0.0",
                ledger: "django",
                migrationsDir: "/m",
                pendingSql: "/p.sql",
                allowDestructive: true,
                dataDir: "/var/lib/postgresql",
                minFreeDiskMb: 2048,
            },
        );
    });

    const errors: Array<[string[], string]> = [
        [["--app", "shop", "--version", "v2.0.0", "--ledger", "flyway"], "`--ledger` must be prisma, django or auto; got `flyway`"],
        [["--app", "shop"], "`--version` is required: the release version about to be migrated, e.g. v1.5.0"],
        [
            ["--app", "shop", "--version", "v2.0.0", "--min-free-disk-mb", "1GB"],
            "`--min-free-disk-mb` must be a whole number ≥ 0; got `1GB`",
        ],
        [["--app", "shop", "--version", "v2.0.0", "--", "x"], "unexpected arguments after `--`: x"],
    ];
    for (const [args, message] of errors) {
        it(`refuses ${args.join(" ")}`, () => assert.throws(() => parsePreflightArgs(args), { message }));
    }
});

describe("preflight: ledger checks", () => {
    it("fails on failed and unfinished rows of the tool's ledger, naming both ways forward", () => {
        const base: ToolLedgerRow = {
            app: "shop",
            version: "v1.5.0",
            digest: "sha256:x",
            status: "failed",
            startedAt: T0,
            finishedAt: T0,
            exitCode: 2,
            logTail: "",
            supersededBy: null,
        };
        const check = toolLedgerCheck("shop", [
            base,
            { ...base, version: "v1.5.1", status: "running", finishedAt: null, exitCode: null },
            { ...base, version: "v1.4.0", supersededBy: "v1.4.1" },
            { ...base, version: "v1.4.1", status: "succeeded" },
        ]);
        assert.deepEqual(check, {
            name: "tool-ledger",
            status: "failed",
            detail: "`safe_release_migrations` has a failed or unfinished migration of `shop`",
            problems: [
                `\`safe_release_migrations\`: the migration of v1.5.0 failed with exit code 2; fix forward with a new version (\`migrate --fix-forward-from v1.5.0\`) ${RESTORE}`,
                `\`safe_release_migrations\`: the migration of v1.5.1 started 2026-03-01T10:00:00.000Z and never finished; make sure nothing of it still runs, then fix forward (\`migrate --fix-forward-from v1.5.1\`) ${RESTORE}`,
            ],
        });
        assert.equal(toolLedgerCheck("shop", []).status, "ok");
    });

    it("fails on Prisma rows that failed or are in flight, ignoring rolled-back ones", () => {
        const check = prismaLedgerCheck([
            prismaRow("1_ok", "a"),
            prismaRow("2_failed", "b", { finishedAt: null, logs: "Database error code: 42P07\nrelation exists" }),
            prismaRow("3_in_flight", "c", { finishedAt: null }),
            prismaRow("4_rolled_back", "d", { finishedAt: null, logs: "boom", rolledBackAt: T0 }),
        ]);
        assert.deepEqual(check.problems, [
            `\`_prisma_migrations\`: 2_failed failed: Database error code: 42P07; after repairing it by hand mark it with \`prisma migrate resolve --applied 2_failed\`, or \`--rolled-back\` once it is undone, ${RESTORE}`,
            `\`_prisma_migrations\`: 3_in_flight started 2026-03-01T10:00:00.000Z and never finished (in flight, or its process died); after repairing it by hand mark it with \`prisma migrate resolve --applied 3_in_flight\`, or \`--rolled-back\` once it is undone, ${RESTORE}`,
        ]);
        assert.equal(check.status, "failed");
        assert.deepEqual(prismaLedgerCheck([prismaRow("1_ok", "a")]), {
            name: "framework-ledger",
            status: "ok",
            detail: "`_prisma_migrations`: 1 row(s), none failed or in flight",
            problems: [],
        });
    });

    it("matches Prisma checksums with either line ending, and nothing else", () => {
        const lf = "CREATE TABLE a (id int);\nCREATE TABLE b (id int);\n";
        const crlf = lf.replace(/\n/g, "\r\n");
        assert.ok(prismaChecksumMatches(Buffer.from(lf), sha(lf)));
        assert.ok(prismaChecksumMatches(Buffer.from(crlf), sha(lf)));
        assert.ok(prismaChecksumMatches(Buffer.from(lf), sha(crlf)));
        assert.ok(prismaChecksumMatches(Buffer.from(lf), sha(lf).toUpperCase()));
        assert.ok(!prismaChecksumMatches(Buffer.from(`${lf} `), sha(lf)));
    });

    it("fails on an applied Prisma migration whose file changed or is missing", () => {
        const rows = [
            prismaRow("1_init", "A"),
            prismaRow("2_edited", "B"),
            prismaRow("3_gone", "C"),
            prismaRow("4_never", "D", { finishedAt: null, logs: "x" }),
        ];
        const files = new Map([
            ["1_init", Buffer.from("A")],
            ["2_edited", Buffer.from("B2")],
        ]);
        assert.deepEqual(prismaAppliedCheck(rows, files, "prisma/migrations"), {
            name: "applied-migrations",
            status: "failed",
            detail: "applied Prisma migrations differ from prisma/migrations",
            problems: [
                `2_edited was changed after it was applied (prisma/migrations/2_edited/migration.sql no longer matches checksum ${sha("B").slice(0, 12)}…); revert the edit and put the change in a new migration`,
                "3_gone is applied but prisma/migrations/3_gone/migration.sql is missing; restore that file from the release that applied it",
            ],
        });
    });

    it("lists pending Prisma migrations in name order, counting rolled-back ones as pending", () => {
        const rows = [prismaRow("1_a", "a"), prismaRow("2_b", "b", { rolledBackAt: T0 })];
        assert.deepEqual(pendingPrismaMigrations(rows, ["3_c", "1_a", "2_b"]), ["2_b", "3_c"]);
    });

    it("fails on an applied Django migration missing from the app's folder, leaving Django's own apps alone", () => {
        const rows = [
            { app: "auth", name: "0001_initial" },
            { app: "contenttypes", name: "0001_initial" },
            { app: "shop", name: "0001_initial" },
            { app: "shop", name: "0002_gone" },
        ];
        const check = djangoAppliedCheck(rows, new Set(["shop"]), new Set(["shop/0001_initial"]), "src");
        assert.deepEqual(check, {
            name: "applied-migrations",
            status: "failed",
            detail: "applied Django migrations are missing from src",
            problems: [
                "shop.0002_gone is applied but src/shop/migrations/0002_gone.py is missing; restore that file from the release that applied it (Django cannot plan migrations without their history)",
            ],
        });
        assert.equal(
            djangoAppliedCheck(rows.slice(0, 3), new Set(["shop"]), new Set(["shop/0001_initial"]), "src").detail,
            "1 applied Django migration(s) have their files in src; not checked, their migrations live outside src: auth, contenttypes",
        );
    });

    it("chooses the ledger from the option and the tables present", () => {
        assert.deepEqual(chooseLedger("auto", new Set()), { kind: "none" });
        assert.deepEqual(chooseLedger("auto", new Set(["django"])), { kind: "django", present: true });
        assert.deepEqual(chooseLedger("auto", new Set(["django", "prisma"])), { kind: "ambiguous" });
        assert.deepEqual(chooseLedger("prisma", new Set(["django"])), { kind: "prisma", present: false });
    });
});

describe("preflight: pending SQL and disk", () => {
    before(loadSqlParser);
    const sources = [
        { label: "a.sql", sql: "CREATE TABLE t (id int);\nDROP TABLE old;" },
        { label: "b.sql", sql: "DELETE FROM s WHERE x;" },
    ];

    it("refuses destructive pending SQL without the opt-in, naming file, line and the two ways on", () => {
        assert.deepEqual(pendingSqlCheck(sources, false), {
            name: "pending-sql",
            status: "failed",
            detail: "1 destructive statement(s) in 2 pending SQL source(s)",
            problems: [
                `a.sql:2: ${REASONS.dropTable}: DROP TABLE old; make the migration additive (expand now, contract in a later release), or pass \`--allow-destructive\` once a fresh backup exists and the previous version no longer needs this data`,
            ],
        });
    });

    it("accepts destructive pending SQL with the opt-in, still listing it", () => {
        assert.deepEqual(pendingSqlCheck(sources, true), {
            name: "pending-sql",
            status: "ok",
            problems: [],
            detail: `1 destructive statement(s) in 2 pending SQL source(s), allowed by \`--allow-destructive\`: a.sql:2: ${REASONS.dropTable}: DROP TABLE old`,
        });
        assert.equal(pendingSqlCheck(sources.slice(1), false).detail, "no destructive statement in 1 pending SQL source(s)");
    });

    it("names what is inside a DO block and refuses SQL that does not parse", () => {
        const check = pendingSqlCheck(
            [
                { label: "c.sql", sql: "SELECT 1;\nDO $$ BEGIN UPDATE t SET a = 1; END $$;" },
                { label: "d.sql", sql: "ALTER TABLE t ADD COLUMN;" },
            ],
            false,
        );
        assert.equal(check.detail, "2 destructive statement(s) in 2 pending SQL source(s)");
        assert.deepEqual(
            check.problems.map((p) => p.split("; make the migration additive")[0]),
            [
                `c.sql:2: ${REASONS.updateWithoutWhere}: UPDATE t SET a = 1 (in the DO block at line 2)`,
                `d.sql:1: ${REASONS.syntaxError('syntax error at or near ";"')}: ALTER TABLE t ADD COLUMN;`,
            ],
        );
    });

    it("says which pending Django migrations are Python and not analysed", () => {
        const rows = [{ app: "shop", name: "0001_initial" }];
        const pending = pendingDjangoMigrations(rows, new Set(["shop/0003_drop", "shop/0001_initial", "blog/0001_initial"]));
        assert.deepEqual(pending, ["blog/0001_initial", "shop/0003_drop"]);
        const scanned = pendingSqlCheck(sources.slice(1), false);
        assert.deepEqual(noteUnreadDjangoMigrations(scanned, pending), {
            ...scanned,
            detail:
                "no destructive statement in 1 pending SQL source(s); the Python of 2 pending Django migration(s) is not analysed " +
                "(blog.0001_initial, shop.0003_drop): only SQL is, so pass their `manage.py sqlmigrate` output with `--pending-sql`",
        });
        assert.equal(noteUnreadDjangoMigrations(scanned, []), scanned);
    });

    it("compares free disk with the threshold and never passes an unreadable disk", () => {
        assert.equal(freeDiskCheck("/data", 2048 * MB, 2048).status, "ok");
        assert.deepEqual(freeDiskCheck("/data", 2047.5 * MB, 2048), {
            name: "free-disk",
            status: "failed",
            detail: "2047 MB free in /data, below `--min-free-disk-mb` 2048",
            problems: ["only 2047 MB free in /data, `--min-free-disk-mb` asks for 2048; free space (old backups, logs) or grow the volume"],
        });
        assert.equal(unreadableDiskCheck().status, "skipped");
        assert.match(unreadableDiskCheck().detail, /^not readable: /);
    });

    it("prints each check and each problem on its own line with a verdict", () => {
        const text = formatChecks([pendingSqlCheck(sources, false), unreadableDiskCheck()]);
        const lines = text.split("\n");
        assert.equal(lines[0], "preflight: failed  pending-sql: 1 destructive statement(s) in 2 pending SQL source(s)");
        assert.match(lines[1], /^ {2}- a\.sql:2: /);
        assert.match(lines[2], /^preflight: skipped free-disk: not readable/);
        assert.equal(lines[3], "preflight: failed with 1 problem(s) in pending-sql; nothing was changed");
        assert.equal(lines[4], "");
    });
});
