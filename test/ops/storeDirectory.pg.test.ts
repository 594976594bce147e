import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { DirectoryBackupRecord, PostgresBackupRecord, readLog } from "../../core/backupLog";
import { readStoreRecords } from "../../core/storeRecords";
import { testPostgres, TestPostgres } from "../support/postgres";
import { tempDir } from "../support/processes";
import { backupDir, opsEnv, removeDir, runOps, seedAppDatabase } from "./backupTestSupport";
import { sha256 } from "./storeTestSupport";

async function contents(pg: TestPostgres, db: string): Promise<string> {
    return pg.psql(db, "SELECT id, email, balance FROM users ORDER BY id; SELECT count(*) FROM projects;");
}

function flipOneByte(file: string): string {
    const bytes = fs.readFileSync(file);
    bytes[Math.floor(bytes.length / 2)] ^= 0x01;
    fs.writeFileSync(file, bytes);
    return sha256(bytes);
}

describe("a directory backup store (--store <dir>) with real PostgreSQL", function () {
    this.timeout(120_000);
    let pg: TestPostgres;
    let db: string;
    let dir: string;
    let data: string;
    let env: NodeJS.ProcessEnv;

    before(async () => {
        pg = await testPostgres();
        db = await seedAppDatabase(pg, "store_dir");
        env = opsEnv(pg, db);
        dir = await backupDir();
        data = await tempDir("safe-release-store-dir-data-");
        fs.writeFileSync(path.join(data, "CURRENT"), "MANIFEST-000001\n");
        fs.writeFileSync(path.join(data, "000001.sst"), Buffer.alloc(70_000, 3));
    });
    after(() => {
        removeDir(dir);
        removeDir(data);
    });

    it("a 1-byte change of a stored dump fails verify and restore with the exact message, the database untouched", async () => {
        const backup = await runOps(
            ["backup", "--kind", "postgres", "--app", "shop", "--version", "v1.4.2", "--store", dir, "--critical-tables", "users"],
            env,
        );
        assert.equal(backup.code, 0, backup.stderr);
        const record: PostgresBackupRecord = JSON.parse(backup.stdout);
        assert.equal(path.dirname(record.location), dir);
        assert.deepEqual(readLog(path.join(dir, "backups.log")), [record]);
        assert.deepEqual(await readStoreRecords(dir, env), [record]);

        const got = flipOneByte(record.location);
        const mismatch = `checksum mismatch for \`${record.location}\`: expected sha256 ${record.sha256}, got ${got}`;
        await pg.psql(db, "UPDATE users SET balance = 0 WHERE id < 10;");
        const live = await contents(pg, db);

        const verified = await runOps(["verify", "--id", record.id, "--store", dir], env);
        assert.equal(verified.code, 1);
        assert.ok(verified.stderr.includes(`verify: ${mismatch}\n`), verified.stderr);

        const restored = await runOps(["restore", "--id", record.id, "--store", dir], env);
        assert.deepEqual([restored.code, restored.stderr], [1, `restore: ${mismatch}\nrestore: failed; the live data was not touched\n`]);
        assert.equal(JSON.parse(restored.stdout).scratchKept, false);
        assert.equal(await contents(pg, db), live);
        const scratch = await pg.psql("postgres", `SELECT count(*) FROM pg_database WHERE datname LIKE '${db}_%restore_%';`);
        assert.equal(scratch, "0");
    });

    it("a 1-byte change of a stored archive fails restore before the directory is touched", async () => {
        const backup = await runOps(
            ["backup", "--kind", "directory", "--path", data, "--app", "shop", "--version", "v1.4.2", "--store", dir],
            env,
        );
        assert.equal(backup.code, 0, backup.stderr);
        const record: DirectoryBackupRecord = JSON.parse(backup.stdout);
        const got = flipOneByte(record.location);
        fs.writeFileSync(path.join(data, "CURRENT"), "MANIFEST-000002\n");

        const restored = await runOps(["restore", "--id", record.id, "--store", dir], env);
        assert.deepEqual(
            [restored.code, restored.stderr],
            [
                1,
                `restore: checksum mismatch for \`${record.location}\`: expected sha256 ${record.sha256}, got ${got}\n` +
                    "restore: failed; the live data was not touched\n",
            ],
        );
        assert.deepEqual(
            fs.readdirSync(path.dirname(data)).filter((name) => name.startsWith(`${path.basename(data)}.`)),
            [],
        );
        assert.equal(fs.readFileSync(path.join(data, "CURRENT"), "utf8"), "MANIFEST-000002\n");
    });

    it("prune --store deletes an expired backup's file and its log line, keeping the newest of each kind", async () => {
        const newer = await runOps(
            ["backup", "--kind", "directory", "--path", data, "--app", "shop", "--version", "v1.4.3", "--store", dir],
            env,
        );
        assert.equal(newer.code, 0, newer.stderr);
        const [dump, older, newest] = readLog(path.join(dir, "backups.log"));
        assert.equal(newest.id, JSON.parse(newer.stdout).id);
        const pruned = await runOps(
            ["prune", "--store", dir, "--keep", "1", "--retention-days", "0", "--as-of", "2099-01-01T00:00:00.000Z"],
            env,
        );
        assert.equal(pruned.code, 0, pruned.stderr);
        assert.deepEqual(
            JSON.parse(pruned.stdout).deleted.map((d: { id: string }) => d.id),
            [older.id],
        );
        assert.equal(fs.existsSync(older.location), false);
        assert.deepEqual(readLog(path.join(dir, "backups.log")), [dump, newest]);
    });
});
