import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { Readable, Writable } from "stream";
import { formatProgress, HashingCounter, ProgressMeter, runChild } from "../../ops/checksum";
import { UsageError } from "../../ops/command";
import { describeTarget, maskUrl, parseDatabaseUrl, pgEnv, redactor } from "../../ops/pg/connection";
import { compareFacts, Facts, parseCriticalTables } from "../../ops/pg/facts";
import { largeStdoutBuffer } from "../../ops/pg/dump";
import { databaseStamp, derivedDatabaseName } from "../../ops/pg/restore";
import { reported } from "../../ops/report";
import { tempDir } from "../support/processes";

function facts(ledgers: Record<string, string[]>, rowCounts: Record<string, number>): Facts {
    return { database: "shop", takenAt: "2026-11-22T00:00:00.000Z", ledgers, rowCounts };
}

describe("facts comparison", () => {
    const backup = facts({ _prisma_migrations: ['{"id":"m1"}', '{"id":"m2"}'] }, { users: 500, projects: 120 });

    it("finds no difference between equal facts, whatever their order", () => {
        const same = facts({ _prisma_migrations: ['{"id":"m2"}', '{"id":"m1"}'] }, { projects: 120, users: 500 });
        assert.deepEqual(compareFacts(backup, same), []);
    });

    it("lists every difference, one line each, ledgers first", () => {
        const restored = facts({ _prisma_migrations: ['{"id":"m1"}', '{"id":"m3"}'], django_migrations: [] }, { users: 499, audit: 3 });
        assert.deepEqual(compareFacts(backup, restored), [
            'ledger `_prisma_migrations`: row missing: {"id":"m2"}',
            'ledger `_prisma_migrations`: unexpected row: {"id":"m3"}',
            "ledger `django_migrations` exists but the backup had no such table",
            "row count of `audit` was not recorded in the backup facts",
            "row count of `projects`: expected 120, table is missing",
            "row count of `users`: expected 500, got 499",
        ]);
    });

    it("counts duplicate ledger rows (a migration recorded twice is a difference)", () => {
        const twice = facts({ _prisma_migrations: ['{"id":"m1"}', '{"id":"m2"}', '{"id":"m2"}'] }, { users: 500, projects: 120 });
        assert.deepEqual(compareFacts(backup, twice), ['ledger `_prisma_migrations`: unexpected row: {"id":"m2"}']);
        assert.deepEqual(compareFacts(backup, facts({}, { users: 500, projects: 120 })), [
            "ledger `_prisma_migrations` is missing (the backup had 2 rows)",
        ]);
    });

    it("accepts plain and schema-qualified critical tables and rejects anything else", () => {
        assert.deepEqual(parseCriticalTables(" users, public.projects ,users"), ["users", "public.projects"]);
        assert.deepEqual(parseCriticalTables(undefined), []);
        assert.throws(() => parseCriticalTables("users;drop table x"), {
            message:
                "`--critical-tables` must be a comma-separated list of table names like users or public.users; got `users;drop table x`",
        });
    });
});

describe("connection strings", () => {
    const url = "postgresql://app:pa%40ss:w0rd@db.internal:5433/shop?sslmode=require";

    it("parses host, port, user, password, database and sslmode", () => {
        assert.deepEqual(parseDatabaseUrl(url), {
            host: "db.internal",
            port: 5433,
            user: "app",
            password: "pa@ss:w0rd",
            database: "shop",
            sslmode: "require",
            // libpq's `require`: encrypted, the certificate not checked (no sslrootcert given).
            clientSsl: { rejectUnauthorized: false },
        });
    });

    it("takes a Unix socket directory from ?host= as libpq does", () => {
        assert.deepEqual(parseDatabaseUrl("postgresql:///shop?host=/var/run/postgresql"), {
            host: "/var/run/postgresql",
            port: undefined,
            user: undefined,
            password: undefined,
            database: "shop",
            sslmode: undefined,
        });
    });

    it("masks the password whatever it contains", () => {
        assert.equal(maskUrl(url), "postgresql://app:***@db.internal:5433/shop?sslmode=require");
        assert.equal(maskUrl("postgres://u:p@ss/w@host/db"), "postgres://u:***@host/db");
        assert.equal(maskUrl("postgresql://host/db"), "postgresql://host/db");
        assert.equal(describeTarget(parseDatabaseUrl(url)), "postgresql://app:***@db.internal:5433/shop");
        assert.equal(redactor(parseDatabaseUrl(url))("auth failed for pa@ss:w0rd / pa%40ss%3Aw0rd"), "auth failed for *** / ***");
    });

    it("hands the password to libpq as PGPASSWORD, dropping inherited PG* settings", () => {
        const env = pgEnv(parseDatabaseUrl(url), { PATH: "/bin", PGSERVICE: "other", DATABASE_URL: url });
        assert.deepEqual(env, {
            PATH: "/bin",
            PGHOST: "db.internal",
            PGPORT: "5433",
            PGUSER: "app",
            PGPASSWORD: "pa@ss:w0rd",
            PGSSLMODE: "require",
            PGDATABASE: "shop",
        });
    });

    it("names the sslmode, the missing CA bundle or the missing file it was given", () => {
        assert.throws(() => parseDatabaseUrl("postgresql://u:secret@h/db?sslmode=strict"), {
            message: '`DATABASE_URL`\'s sslmode must be one of disable, allow, prefer, require, verify-ca, verify-full; got "strict"',
        });
        assert.throws(() => parseDatabaseUrl("postgresql://u:secret@h/db?sslmode=verify-ca"), {
            message: "`DATABASE_URL` has sslmode=verify-ca without sslrootcert: name the CA bundle that signs the server's certificate",
        });
        assert.throws(() => parseDatabaseUrl("postgresql://u:secret@h/db?sslmode=verify-full&sslrootcert=/nonexistent/rds-ca.pem"), {
            message: "`DATABASE_URL`'s sslrootcert names /nonexistent/rds-ca.pem, which does not exist",
        });
    });

    it("hands sslrootcert, sslcert and sslkey to libpq as PGSSLROOTCERT, PGSSLCERT and PGSSLKEY", () => {
        const target = parseDatabaseUrl(`postgresql://app@db/shop?sslmode=verify-full&sslrootcert=${__filename}`);
        const env = pgEnv(target, { PATH: "/bin", PGSSLCERT: "/inherited.crt" });
        assert.deepEqual(env, {
            PATH: "/bin",
            PGHOST: "db",
            PGUSER: "app",
            PGSSLMODE: "verify-full",
            PGSSLROOTCERT: __filename,
            PGDATABASE: "shop",
        });
    });

    it("rejects a missing or foreign URL without echoing it", () => {
        assert.throws(() => parseDatabaseUrl(undefined), {
            message: "`DATABASE_URL` must be set to a postgresql:// connection string; got nothing",
        });
        assert.throws(() => parseDatabaseUrl("mysql://u:secret@h/db"), {
            message: "`DATABASE_URL` must start with postgresql:// or postgres://; got mysql://…",
        });
        assert.throws(() => parseDatabaseUrl("postgresql://u:secret@h/"), {
            message: "`DATABASE_URL` must name a database (postgresql://host/<database>); got postgresql://u:***@h/",
        });
    });
});

describe("restore naming", () => {
    it("derives scratch and kept database names within 63 bytes", () => {
        const stamp = databaseStamp(new Date("2026-11-22T04:10:59.999Z"));
        assert.equal(stamp, "20261122041059");
        assert.equal(derivedDatabaseName("shop", "restore", stamp), "shop_restore_20261122041059");
        assert.equal(derivedDatabaseName("shop", "pre_restore", stamp), "shop_pre_restore_20261122041059");
        const long = "a".repeat(70);
        assert.equal(derivedDatabaseName(long, "pre_restore", stamp), `${"a".repeat(36)}_pre_restore_20261122041059`);
        assert.equal(Buffer.byteLength(derivedDatabaseName(`a${"é".repeat(40)}`, "restore", stamp)), 62);
    });
});

describe("progress and streams", () => {
    it("formats progress in whole MiB and MiB/s", () => {
        assert.equal(formatProgress("dumped", 412 * 1024 * 1024 + 5, 10_842), "dumped 412 MiB (38 MiB/s)");
        assert.equal(formatProgress("restored", 0, 0), "restored 0 MiB (0 MiB/s)");
    });

    it("reports at most once per interval, then once at the end", () => {
        let clock = 0;
        const lines: string[] = [];
        const out = new Writable({ write: (chunk, _e, cb) => (lines.push(String(chunk)), cb()) });
        const meter = new ProgressMeter("dumped", out, 1000, () => clock);
        for (const [at, bytes] of [
            [200, 1],
            [999, 2],
            [1000, 3 << 20],
            [1500, 4 << 20],
            [2100, 6 << 20],
        ]) {
            clock = at;
            meter.update(bytes);
        }
        clock = 2500;
        meter.finish(8 << 20);
        assert.deepEqual(lines, ["dumped 3 MiB (3 MiB/s)\n", "dumped 6 MiB (3 MiB/s)\n", "dumped 8 MiB (3 MiB/s)\n"]);
    });

    it("hashes and counts what passes through", async () => {
        const counter = new HashingCounter();
        const seen: Buffer[] = [];
        await new Promise<void>((resolve, reject) =>
            Readable.from([Buffer.from("hello "), Buffer.from("world")])
                .pipe(counter)
                .on("data", (c) => seen.push(c))
                .on("end", resolve)
                .on("error", reject),
        );
        assert.equal(Buffer.concat(seen).toString(), "hello world");
        assert.equal(counter.bytes, 11);
        assert.equal(counter.digest(), "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");
    });

    it("fails a child with its exit code and redacted stderr", async () => {
        await assert.rejects(
            runChild({
                command: "/bin/sh",
                args: ["-c", "echo 'bad password hunter2' >&2; exit 3"],
                redact: (t) => t.replace("hunter2", "***"),
            }),
            { message: "sh exited 3: bad password ***" },
        );
        const tolerated = await runChild({ command: "/bin/sh", args: ["-c", "echo out; exit 1"], tolerated: [1] });
        assert.deepEqual([tolerated.code, tolerated.stdout], [1, "out\n"]);
    });
});

describe("reported", () => {
    const env = {
        DATABASE_URL: "postgresql://shop:pa55-w0rd-x@db.internal/shop",
        AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG",
    };

    it("turns a failure into one line on stderr, scrubbed of the database password and secret variables, and exit 1", async () => {
        let text = "";
        const stderr = new Writable({ write: (chunk, _e, cb) => ((text += chunk), cb()) });
        const code = await reported("backup", { env, stderr }, async () => {
            throw new Error("password pa55-w0rd-x refused; key wJalrXUtnFEMI/K7MDENG; url postgresql://shop:pa55-w0rd-x@db.internal/shop");
        });
        assert.equal(code, 1);
        assert.equal(text, "backup: password *** refused; key ***; url ***\n");
    });

    it("passes the body's exit code through and lets a usage error reach the CLI (exit 2)", async () => {
        const stderr = new Writable({ write: (_c, _e, cb) => cb() });
        assert.equal(await reported("verify", { env, stderr }, async () => 0), 0);
        await assert.rejects(
            reported("verify", { env, stderr }, async () => {
                throw new UsageError("`--id` is required: the id of a backup in the log");
            }),
            { message: "`--id` is required: the id of a backup in the log" },
        );
    });
});

describe("pg_dump's output buffer", () => {
    it("runs pg_dump under `stdbuf -o 1M` when PATH has an executable stdbuf, else as it is", async () => {
        const dir = await tempDir("safe-release-path-");
        const withStdbuf = path.join(dir, "with");
        const withoutStdbuf = path.join(dir, "without");
        fs.mkdirSync(withStdbuf);
        fs.mkdirSync(withoutStdbuf);
        fs.writeFileSync(path.join(withStdbuf, "stdbuf"), "#!/bin/sh\n", { mode: 0o755 });
        // Not executable: skipped, as a shell would.
        fs.writeFileSync(path.join(withoutStdbuf, "stdbuf"), "#!/bin/sh\n", { mode: 0o644 });
        const args = ["--format=custom", "--compress=0"];
        assert.deepEqual(largeStdoutBuffer("/usr/lib/postgresql/15/bin/pg_dump", args, { PATH: `${withoutStdbuf}:${withStdbuf}` }), {
            command: path.join(withStdbuf, "stdbuf"),
            args: ["-o", "1M", "/usr/lib/postgresql/15/bin/pg_dump", "--format=custom", "--compress=0"],
        });
        assert.deepEqual(largeStdoutBuffer("pg_dump", args, { PATH: withoutStdbuf }), { command: "pg_dump", args });
        assert.deepEqual(largeStdoutBuffer("pg_dump", args, {}), { command: "pg_dump", args });
        fs.rmSync(dir, { recursive: true, force: true });
    });
});
