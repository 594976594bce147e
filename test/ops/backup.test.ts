import { strict as assert } from "assert";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PostgresBackupRecord, readLog } from "../../core/backupLog";
import { parseFacts } from "../../ops/pg/facts";
import { testPostgres, TestPostgres } from "../support/postgres";
import { appRule, backupDir, opsEnv, removeDir, runOps, runOpsBinary, SECRET, seedAppDatabase, versionRule } from "./backupTestSupport";

function sha256(file: string): string {
    return createHash("sha256").update(fs.readFileSync(file)).digest("hex");
}

describe("backup --kind postgres (real PostgreSQL)", function () {
    this.timeout(60000);
    let pg: TestPostgres;
    let db: string;
    let dir: string;
    let record: PostgresBackupRecord;
    let backupRun: { code: number; stdout: string; stderr: string };

    before(async () => {
        pg = await testPostgres();
        db = await seedAppDatabase(pg, "backup_src");
        dir = await backupDir();
        backupRun = await runOps(
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
                "--critical-tables",
                "users,public.projects",
            ],
            opsEnv(pg, db),
        );
        assert.equal(backupRun.code, 0, backupRun.stderr);
        record = JSON.parse(backupRun.stdout);
    });
    after(() => removeDir(dir));

    it("prints one record whose sha256 and size are those of the file on disk", () => {
        assert.match(record.id, /^shop-v1\.4\.2-\d{8}T\d{6}\.\d{3}Z$/);
        assert.equal(record.location, path.join(dir, `${record.id}.dump.zst`));
        assert.equal(record.sha256, sha256(record.location));
        assert.equal(record.size, fs.statSync(record.location).size);
        assert.equal(record.kind, "postgres");
        assert.equal(record.verified, true);
        assert.equal(record.database, db);
        assert.equal(record.factsLocation, `${record.location}.facts.json`);
    });

    it("appends exactly that record to <dir>/backups.log", () => {
        assert.deepEqual(readLog(path.join(dir, "backups.log")), [record]);
    });

    it("writes facts equal to the database's ledger rows and exact row counts", async () => {
        const facts = parseFacts(fs.readFileSync(record.factsLocation!, "utf8"), record.factsLocation!);
        assert.deepEqual(facts.rowCounts, { users: 500, "public.projects": 120 });
        assert.deepEqual(Object.keys(facts.ledgers), ["_prisma_migrations"]);
        const rows = facts.ledgers._prisma_migrations.map((r) => JSON.parse(r));
        assert.deepEqual(
            rows.map((r) => [r.id, r.migration_name, r.started_at]),
            [
                ["m1", "20240101_init", "2024-01-01T10:00:00+00:00"],
                ["m2", "20240201_projects", "2024-02-01T10:00:00+00:00"],
            ],
        );
        assert.match(facts.snapshot!, /^[0-9A-F]+-[0-9A-F]+-\d+$/);
        assert.equal(facts.database, db);
    });

    it("reports progress on stderr and never the password", () => {
        assert.match(backupRun.stderr, new RegExp(`^backing up postgresql://postgres:\\*\\*\\*@127\\.0\\.0\\.1:${pg.port}/${db} to `));
        assert.match(
            backupRun.stderr,
            /\ndumped \d+ MiB \(\d+ MiB\/s\)\nverified \(archive readable: \d+ entries; checksum taken as written\) in \d+\.\d s\n$/,
        );
        assert.ok(!backupRun.stderr.includes(SECRET) && !backupRun.stdout.includes(SECRET));
    });

    it("verify passes on the intact file, by --file/--sha256 and by --id/--log", async () => {
        const byFile = await runOps(["verify", "--file", record.location, "--sha256", record.sha256], opsEnv(pg, db));
        assert.equal(byFile.code, 0, byFile.stderr);
        const result = JSON.parse(byFile.stdout);
        assert.equal(result.ok, true);
        assert.equal(result.sha256, record.sha256);
        assert.ok(result.entries > 5, `table of contents has ${result.entries} entries`);
        const byId = await runOps(["verify", "--id", record.id, "--log", path.join(dir, "backups.log")], opsEnv(pg, db));
        assert.equal(byId.code, 0, byId.stderr);
        assert.deepEqual(JSON.parse(byId.stdout).problems, []);
    });

    it("verify fails naming both checksums when one byte is corrupted", async () => {
        const copy = path.join(dir, "corrupt.dump");
        const bytes = fs.readFileSync(record.location);
        bytes[bytes.length - 100] ^= 0xff;
        fs.writeFileSync(copy, bytes);
        const actual = createHash("sha256").update(bytes).digest("hex");
        const result = await runOps(["verify", "--file", copy, "--sha256", record.sha256], opsEnv(pg, db));
        assert.equal(result.code, 1);
        // The copy is zstd: its decoder reports the damage too, before the checksum line.
        assert.ok(
            result.stderr.endsWith(`verify: checksum mismatch for \`${copy}\`: expected sha256 ${record.sha256}, got ${actual}\n`),
            result.stderr,
        );
        assert.equal(JSON.parse(result.stdout).ok, false);
    });

    it("verify reports a file that pg_restore cannot read", async () => {
        const junk = path.join(dir, "junk.dump");
        fs.writeFileSync(junk, "not an archive");
        const result = await runOps(["verify", "--file", junk], opsEnv(pg, db));
        assert.equal(result.code, 1);
        assert.match(
            result.stderr,
            /^verify: `[^`]+junk\.dump` must be a pg_dump custom-format archive that pg_restore can read: pg_restore exited 1: pg_restore: error: input file does not appear to be a valid archive/,
        );
    });

    it("refuses a critical table that does not exist, leaving no file behind", async () => {
        const empty = await backupDir();
        const result = await runOps(
            ["backup", "--kind", "postgres", "--app", "shop", "--version", "v1.4.2", "--dir", empty, "--critical-tables", "orders"],
            opsEnv(pg, db),
        );
        assert.equal(result.code, 2);
        assert.equal(result.stderr.split("\n").pop(), "");
        assert.ok(
            result.stderr.endsWith(`backup: \`--critical-tables\` names \`orders\`, which does not exist in database \`${db}\`\n`),
            result.stderr,
        );
        assert.deepEqual(fs.readdirSync(empty), []);
        removeDir(empty);
    });

    it("before the first migration, leaves a critical table that does not exist yet out of the facts and says so", async () => {
        const first = await backupDir();
        const args = ["backup", "--kind", "postgres", "--app", "shop", "--version", "v1.4.2", "--dir", first];
        const result = await runOps([...args, "--critical-tables", "users,orders", "--before-first-migration"], opsEnv(pg, db));
        assert.equal(result.code, 0, result.stderr);
        assert.ok(
            result.stderr.includes("critical table `orders` does not exist yet (no migration has run): not counted\n"),
            result.stderr,
        );
        const written: PostgresBackupRecord = JSON.parse(result.stdout);
        const facts = parseFacts(fs.readFileSync(written.factsLocation!, "utf8"), written.factsLocation!);
        assert.deepEqual(facts.rowCounts, { users: 500 }, "the tables that exist are still counted");
        removeDir(first);
    });

    it("fails with pg_dump's reason (and no password) when the database does not exist", async () => {
        const empty = await backupDir();
        const result = await runOps(
            ["backup", "--kind", "postgres", "--app", "shop", "--version", "v1.0.0", "--dir", empty],
            opsEnv(pg, "no_such_db"),
        );
        assert.equal(result.code, 1);
        assert.match(result.stderr, /backup: database "no_such_db" does not exist\n$/);
        assert.ok(!result.stderr.includes(SECRET));
        assert.deepEqual(fs.readdirSync(empty), []);
        removeDir(empty);
    });

    /** A SAFE_RELEASE_PG_BIN whose `name` is a script and whose other programs are the real ones. */
    async function binWith(name: "pg_dump" | "pg_restore", script: string): Promise<string> {
        const bin = await backupDir();
        for (const program of ["pg_dump", "pg_restore"]) {
            if (program === name) fs.writeFileSync(path.join(bin, program), `#!/bin/sh\n${script}\n`, { mode: 0o755 });
            else fs.symlinkSync(path.join(pg.binDir, program), path.join(bin, program));
        }
        return bin;
    }

    it("fails with pg_dump's reason, leaving no file and no pipe behind, when pg_dump exits before writing", async () => {
        const out = await backupDir();
        const bin = await binWith("pg_dump", 'echo "pg_dump: error: server version mismatch" >&2; exit 1');
        const before = fs.readdirSync(os.tmpdir()).filter((name: string) => name.startsWith("safe-release-copy-"));
        const result = await runOps(["backup", "--kind", "postgres", "--app", "shop", "--version", "v1.0.0", "--dir", out], {
            ...opsEnv(pg, db),
            SAFE_RELEASE_PG_BIN: bin,
        });
        assert.deepEqual([result.code, result.stdout], [1, ""]);
        assert.ok(result.stderr.endsWith("backup: pg_dump exited 1: pg_dump: error: server version mismatch\n"), result.stderr);
        assert.deepEqual(fs.readdirSync(out), []);
        const after = fs.readdirSync(os.tmpdir()).filter((name: string) => name.startsWith("safe-release-copy-"));
        assert.deepEqual(after, before);
        removeDir(out);
        removeDir(bin);
    });

    it("records an unverified backup and exits 1 when pg_restore cannot read the written archive", async () => {
        const out = await backupDir();
        const bin = await binWith("pg_restore", 'echo "pg_restore: error: could not read TOC" >&2; exit 1');
        const result = await runOps(["backup", "--kind", "postgres", "--app", "shop", "--version", "v1.0.0", "--dir", out], {
            ...opsEnv(pg, db),
            SAFE_RELEASE_PG_BIN: bin,
        });
        assert.equal(result.code, 1);
        const printed: PostgresBackupRecord = JSON.parse(result.stdout);
        assert.equal(printed.verified, false);
        assert.equal(printed.sha256, sha256(printed.location));
        assert.deepEqual(readLog(path.join(out, "backups.log")), [printed]);
        assert.ok(
            result.stderr.endsWith(
                `backup: verification failed: \`${printed.location}\` must be a pg_dump custom-format archive that pg_restore can read: ` +
                    "pg_restore exited 1: pg_restore: error: could not read TOC\n",
            ),
            result.stderr,
        );
        removeDir(out);
        removeDir(bin);
    });

    it("works through the real safe-release-ops executable", async () => {
        const out = await backupDir();
        const result = await runOpsBinary(
            [
                "backup",
                "--kind",
                "postgres",
                "--app",
                "shop",
                "--version",
                "v2.0.0",
                "--dir",
                out,
                "--log",
                path.join(out, "ops", "backups.log"),
            ],
            opsEnv(pg, db),
        );
        assert.equal(result.code, 0, result.stderr);
        const printed: PostgresBackupRecord = JSON.parse(result.stdout);
        assert.equal(printed.sha256, sha256(printed.location));
        assert.deepEqual(readLog(path.join(out, "ops", "backups.log")), [printed]);
        assert.ok(!result.stderr.includes(SECRET) && !result.stdout.includes(SECRET));
        removeDir(out);
    });

    it("rejects bad arguments with exit 2 and a message naming the option", async () => {
        const cases: Array<[string[], string]> = [
            [["backup", "--kind", "mysql"], "backup: `--kind` must be postgres or directory; got `mysql`\n"],
            [["backup", "--kind", "postgres"], "backup: `--app` is required: the application being backed up\n"],
            [["backup", "--kind", "postgres", "--app", "Shop"], `backup: ${appRule("Shop")}\n`],
            [
                ["backup", "--kind", "postgres", "--app", "shop", "--version", "v1.4.0+build.1"],
                `backup: ${versionRule("v1.4.0+build.1")}\n`,
            ],
            [["backup", "--kind", "postgres", "--app", "shop", "--version", "1.4"], `backup: ${versionRule("1.4")}\n`],
            [
                ["backup", "--kind", "postgres", "--app", "shop", "--version", "v1.4.0"],
                "backup: `--store` is required: the backup store that receives backups, a directory or s3://<bucket>/<prefix> (or `--dir <directory>`)\n",
            ],
            [["verify", "--sha256", "abc"], "verify: `--file` (or `--id` with `--store`) must name the backup to verify; got nothing\n"],
            [["verify", "--file", "x.dump", "--sha256", "abc"], "verify: `--sha256` must be 64 lowercase hexadecimal digits; got `abc`\n"],
            [
                ["verify", "--file", "x.dump", "--force"],
                "verify: unknown argument `--force`; valid options: --file, --sha256, --id, --log, --store, --structure-only\n",
            ],
            [["prune", "--log"], "prune: `--log` needs a value\n"],
            [["restore", "--log", "x.log"], "restore: `--id` is required: the id of a backup in the log\n"],
        ];
        for (const [argv, message] of cases) {
            const result = await runOps(argv, opsEnv(pg, db));
            assert.deepEqual([result.code, result.stderr, result.stdout], [2, message, ""], argv.join(" "));
        }
        const noUrl = await runOps(["backup", "--kind", "postgres", "--app", "shop", "--version", "v1.0.0", "--dir", dir], {
            ...opsEnv(pg, db),
            DATABASE_URL: "",
        });
        assert.equal(noUrl.stderr, "backup: `DATABASE_URL` must be set to a postgresql:// connection string; got nothing\n");
    });
});
