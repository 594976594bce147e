import { strict as assert } from "assert";
import { ChildProcess, spawn } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { Client } from "pg";
import { PostgresBackupRecord } from "../../core/backupLog";
import { dumpFileName, listArchiveStream, parseDumpCompression } from "../../ops/pg/dump";
import { testPostgres, TestPostgres } from "../support/postgres";
import { atTestEnd } from "../support/processes";
import { backupDir, opsEnv, removeDir, runOps, seedAppDatabase } from "./backupTestSupport";
import { waitFor } from "./storeTestSupport";

const CLI = path.join(__dirname, "..", "..", "ops", "bin", "safe-release-ops.js");
const ZSTD_MAGIC = "28b52ffd";
const sha256 = (bytes: Buffer): string => createHash("sha256").update(bytes).digest("hex");

/** Live (not zombie) processes whose parent is `parent`, as `comm` → pid. */
function childrenOf(parent: number): Map<string, number> {
    const found = new Map<string, number>();
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        try {
            const status = fs.readFileSync(`/proc/${entry}/status`, "utf8");
            const field = (name: string) => new RegExp(`^${name}:\\s*(\\S+)`, "m").exec(status)?.[1];
            if (Number(field("PPid")) === parent && field("State") !== "Z") found.set(field("Name")!, Number(entry));
        } catch {
            // Gone while being read.
        }
    }
    return found;
}

function alive(pid: number): boolean {
    try {
        return !/^State:\s*Z/m.test(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
    } catch {
        return false;
    }
}

/** Count and an order-independent digest of `users`: what a restore must bring back exactly. */
async function usersDigest(pg: TestPostgres, db: string): Promise<string> {
    return pg.psql(db, "SELECT count(*) || ' ' || md5(string_agg(u::text, ',' ORDER BY id)) FROM users u;");
}

describe("backup --compress: zstd beside pg_dump, and restore/verify of either kind (real PostgreSQL)", function () {
    this.timeout(120000);
    let pg: TestPostgres;
    let db: string;
    let dir: string;
    let record: PostgresBackupRecord;
    let original: string;

    before(async () => {
        pg = await testPostgres();
        db = await seedAppDatabase(pg, "compress_src");
        dir = await backupDir();
        original = await usersDigest(pg, db);
        const run = await runOps(["backup", "--kind", "postgres", "--app", "shop", "--version", "v1.4.2", "--dir", dir], opsEnv(pg, db));
        assert.equal(run.code, 0, run.stderr);
        record = JSON.parse(run.stdout);
    });
    after(() => removeDir(dir));

    it("parses --compress and names the file by it", () => {
        assert.deepEqual([undefined, "zstd:1", "zstd:19", "gzip:1", "gzip:9", "none"].map(parseDumpCompression), [
            { method: "zstd", level: 1 },
            { method: "zstd", level: 1 },
            { method: "zstd", level: 19 },
            { method: "gzip", level: 1 },
            { method: "gzip", level: 9 },
            { method: "none" },
        ]);
        assert.deepEqual(
            ["zstd:3", "gzip:6", "none"].map((flag) => dumpFileName("shop-v1-x", parseDumpCompression(flag))),
            ["shop-v1-x.dump.zst", "shop-v1-x.dump", "shop-v1-x.dump"],
        );
    });

    it("writes a zstd frame by default, named .dump.zst, whose SHA-256 and size are the stored bytes'", () => {
        const bytes = fs.readFileSync(record.location);
        assert.equal(record.location, path.join(dir, `${record.id}.dump.zst`));
        assert.equal(bytes.subarray(0, 4).toString("hex"), ZSTD_MAGIC);
        assert.deepEqual([record.sha256, record.size, record.verified], [sha256(bytes), bytes.length, true]);
    });

    it("restores the exact rows of a zstd backup", async () => {
        await pg.psql(db, "DELETE FROM users WHERE id > 400; UPDATE users SET email = 'changed' WHERE id = 1;");
        assert.notEqual(await usersDigest(pg, db), original);
        const run = await runOps(["restore", "--id", record.id, "--log", path.join(dir, "backups.log")], opsEnv(pg, db));
        assert.equal(run.code, 0, run.stderr);
        assert.equal(JSON.parse(run.stdout).ok, true);
        assert.equal(await usersDigest(pg, db), original);
        assert.match(original, /^500 [0-9a-f]{32}$/);
        assert.deepEqual(
            [...childrenOf(process.pid).keys()].filter((name) => ["zstd", "pg_restore"].includes(name)),
            [],
        );
    });

    it("verify passes on the intact .dump.zst and fails a 1-byte flip naming both checksums", async () => {
        const intact = await runOps(["verify", "--id", record.id, "--log", path.join(dir, "backups.log")], opsEnv(pg, db));
        assert.equal(intact.code, 0, intact.stderr);
        const entries = JSON.parse(intact.stdout).entries;
        assert.ok(entries > 5, intact.stdout);
        // A stored archive read as a stream (a download) lists the same.
        assert.equal(await listArchiveStream(fs.createReadStream(record.location), opsEnv(pg, db)), entries);

        // The frame's last byte is its content checksum's: zstd decodes the block, then refuses it.
        const copy = path.join(dir, "flipped.dump.zst");
        const bytes = fs.readFileSync(record.location);
        bytes[bytes.length - 1] ^= 0x01;
        fs.writeFileSync(copy, bytes);
        const run = await runOps(["verify", "--file", copy, "--sha256", record.sha256], opsEnv(pg, db));
        assert.deepEqual(
            [run.code, run.stderr],
            [
                1,
                `verify: \`${copy}\` must be a pg_dump custom-format archive that pg_restore can read: ` +
                    "zstd exited 1: /*stdin*\\ : Decoding error (36) : Restored data doesn't match checksum\n" +
                    `verify: checksum mismatch for \`${copy}\`: expected sha256 ${record.sha256}, got ${sha256(bytes)}\n`,
            ],
        );
        assert.deepEqual([JSON.parse(run.stdout).ok, JSON.parse(run.stdout).contentVerified], [false, false]);
    });

    for (const [compress, version] of [
        ["none", "v1.4.3"],
        ["gzip:1", "v1.4.4"],
    ]) {
        it(`still restores and verifies a pg_dump archive (--compress ${compress}: a .dump, as older backups are)`, async () => {
            // A database of its own: a second restore of one database within the same second would reuse its pre-restore name.
            const db = await seedAppDatabase(pg, "compress_plain");
            const args = ["backup", "--kind", "postgres", "--app", "shop", "--version", version, "--dir", dir, "--compress", compress];
            const run = await runOps(args, opsEnv(pg, db));
            assert.equal(run.code, 0, run.stderr);
            const plain: PostgresBackupRecord = JSON.parse(run.stdout);
            assert.equal(plain.location, path.join(dir, `${plain.id}.dump`));
            assert.equal(fs.readFileSync(plain.location).subarray(0, 5).toString(), "PGDMP");
            await pg.psql(db, "DELETE FROM users WHERE id > 200;");
            const restore = await runOps(["restore", "--id", plain.id, "--log", path.join(dir, "backups.log")], opsEnv(pg, db));
            assert.equal(restore.code, 0, restore.stderr);
            assert.equal(await usersDigest(pg, db), original);
            const verify = await runOps(["verify", "--id", plain.id, "--log", path.join(dir, "backups.log")], opsEnv(pg, db));
            assert.deepEqual([verify.code, JSON.parse(verify.stdout).ok], [0, true]);
        });
    }

    it("rejects a bad --compress with exit 2 naming what is accepted", async () => {
        const rule = (got: string) =>
            "backup: `--compress` must be zstd:1–19, gzip:1–9 or none (default zstd:1: zstd on a core of its own while pg_dump streams); " +
            `got \`${got}\``;
        for (const [value, message] of [
            ["zstd:0", rule("zstd:0")],
            ["zstd:20", rule("zstd:20")],
            ["gzip:10", rule("gzip:10")],
            ["zstd", rule("zstd")],
            ["brotli:1", rule("brotli:1")],
            ["5", `${rule("5")}; a bare level was pg_dump's zlib level: write \`gzip:5\` (or \`none\` for 0)`],
        ]) {
            const args = ["backup", "--kind", "postgres", "--app", "shop", "--version", "v1.4.9", "--dir", dir, "--compress", value];
            const run = await runOps(args, opsEnv(pg, db));
            assert.deepEqual([run.code, run.stderr, run.stdout], [2, `${message}\n`, ""], value);
        }
    });

    it("fails before dumping, naming the Debian package, when zstd is not on PATH", async () => {
        const empty = await backupDir();
        atTestEnd(async () => removeDir(empty));
        const env = { ...opsEnv(pg, db), PATH: path.join(empty, "no-such-bin") };
        const run = await runOps(["backup", "--kind", "postgres", "--app", "shop", "--version", "v1.4.5", "--dir", empty], env);
        assert.equal(run.code, 1);
        assert.ok(
            run.stderr.endsWith(
                "backup: `zstd` was not found on PATH, and `--compress zstd:1` compresses the archive with it: " +
                    "install the Debian package `zstd` (apt-get install zstd), " +
                    "or pass `--compress gzip:1` (pg_dump's own zlib: about twice the time) or `--compress none`\n",
            ),
            run.stderr,
        );
        assert.deepEqual(
            fs.readdirSync(empty).filter((name) => name.includes(".dump")),
            [],
        );
    });
});

describe("backup --compress zstd:1: a compressor or backup killed mid-dump (real PostgreSQL)", function () {
    this.timeout(120000);
    let pg: TestPostgres;
    let db: string;
    let dir: string;
    let locker: Client | undefined;
    let binary: ChildProcess | undefined;
    const started: number[] = [];

    before(async () => {
        pg = await testPostgres();
        db = await pg.createDatabase("compress_killed");
        // Hex text compresses about 2:1: megabytes of zstd output, so a write into a dead pipe is certain.
        await pg.psql(
            db,
            "CREATE TABLE big AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS pad FROM generate_series(1, 200000) g;",
        );
        dir = await backupDir();
    });
    afterEach(async () => {
        // Whatever the outcome, nothing of this test keeps running or holding a lock.
        await locker?.end().catch(() => undefined);
        locker = undefined;
        if (binary?.exitCode === null && binary.signalCode === null) binary.kill("SIGKILL");
        for (const pid of started.splice(0)) if (alive(pid)) process.kill(pid, "SIGKILL");
    });
    after(() => removeDir(dir));

    /**
     * pg_dump takes its share locks before it writes a byte: a session holding an exclusive
     * lock on `big` keeps it waiting there, so the compressor can be killed while the dump is
     * certainly unfinished, without racing it.
     */
    async function holdLock(): Promise<void> {
        locker = new Client({ connectionString: pg.url(db) });
        await locker.connect();
        await locker.query("BEGIN; LOCK TABLE big IN ACCESS EXCLUSIVE MODE");
    }

    async function dumpWaitingOnLock(parent: number): Promise<{ pgDump: number; zstd: number }> {
        return waitFor("pg_dump waiting on the lock of `big`, beside zstd", 30000, async () => {
            const children = childrenOf(parent);
            const [pgDump, zstd] = [children.get("pg_dump"), children.get("zstd")];
            if (pgDump === undefined || zstd === undefined) return undefined;
            started.push(pgDump, zstd);
            const waiting = await pg.psql(db, "SELECT count(*) FROM pg_locks WHERE relation = 'big'::regclass AND NOT granted;");
            return waiting === "1" ? { pgDump, zstd } : undefined;
        });
    }

    it("fails the backup when zstd is killed, leaving no file and no pg_dump or zstd", async () => {
        await holdLock();
        const args = ["backup", "--kind", "postgres", "--app", "shop", "--version", "v2.0.0", "--dir", dir];
        const backup = runOps(args, opsEnv(pg, db));
        const { pgDump, zstd } = await dumpWaitingOnLock(process.pid);
        process.kill(zstd, "SIGKILL");
        const run = await backup;
        assert.equal(run.code, 1);
        assert.ok(run.stderr.endsWith("\nbackup: zstd was killed by SIGKILL\n"), run.stderr);
        assert.deepEqual([alive(pgDump), alive(zstd)], [false, false]);
        assert.deepEqual(
            [...childrenOf(process.pid).keys()].filter((name) => ["pg_dump", "zstd", "stdbuf"].includes(name)),
            [],
        );
        assert.deepEqual(
            fs.readdirSync(dir).filter((name) => name.includes(".dump")),
            [],
        );
        await locker!.query("COMMIT");

        const next = await runOps(args, opsEnv(pg, db));
        assert.equal(next.code, 0, next.stderr);
        const record: PostgresBackupRecord = JSON.parse(next.stdout);
        assert.deepEqual(
            fs
                .readdirSync(dir)
                .filter((name) => name.includes(".dump"))
                .sort(),
            [`${record.id}.dump.zst`, `${record.id}.dump.zst.facts.json`],
        );
    });

    it("leaves neither pg_dump nor zstd behind when the backup itself is killed with SIGKILL", async () => {
        await holdLock();
        const args = ["backup", "--kind", "postgres", "--app", "shop", "--version", "v2.1.0", "--dir", dir];
        binary = spawn(process.execPath, [CLI, ...args], { env: opsEnv(pg, db), stdio: ["ignore", "ignore", "ignore"] });
        const exited = new Promise((resolve) => binary!.once("exit", resolve));
        const { pgDump, zstd } = await dumpWaitingOnLock(binary.pid!);
        binary.kill("SIGKILL");
        await exited;
        // Let the dump go on: its first bytes reach zstd, whose write to the dead copy fails, and pg_dump's after it.
        await locker!.query("COMMIT");
        await waitFor(`zstd (pid ${zstd}) and pg_dump (pid ${pgDump}) ending after their backup was killed`, 30000, () =>
            !alive(zstd) && !alive(pgDump) ? true : undefined,
        );
        // A migration's exclusive lock is granted at once: no session still holds the dump's share lock.
        await pg.psql(db, "SET lock_timeout = '10s'; ALTER TABLE big ADD COLUMN added int;");
    });
});
