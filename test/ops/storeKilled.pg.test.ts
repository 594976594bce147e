import { strict as assert } from "assert";
import { ChildProcess, spawn } from "child_process";
import * as os from "os";
import * as path from "path";
import { S3Client } from "@aws-sdk/client-s3";
import { PostgresBackupRecord } from "../../core/backupLog";
import { readStoreRecords } from "../../core/storeRecords";
import { startMoto, TestMoto } from "../support/moto";
import { testPostgres, TestPostgres } from "../support/postgres";
import { opsEnv, runOps } from "./backupTestSupport";
import { createBucket, head, keysUnder, objectBytes, sha256, testS3, unfinishedUploads, waitFor } from "./storeTestSupport";

const CLI = path.join(__dirname, "..", "..", "ops", "bin", "safe-release-ops.js");

describe("backup into an S3 store killed with SIGKILL mid-upload (moto, real PostgreSQL)", function () {
    this.timeout(240_000);
    let moto: TestMoto;
    let s3: S3Client;
    let pg: TestPostgres;
    let db: string;
    let env: NodeJS.ProcessEnv;
    let backup: ChildProcess | undefined;
    const bucket = "killed-backups";
    const store = `s3://${bucket}/shop`;

    before(async () => {
        [moto, pg] = await Promise.all([startMoto(), testPostgres()]);
        s3 = testS3(moto);
        await createBucket(s3, bucket);
        db = await pg.createDatabase("store_killed");
        // ~160 MiB of rows below the TOAST threshold, dumped uncompressed: ten 16 MiB parts, seconds of upload.
        await pg.psql(db, "CREATE TABLE big AS SELECT g AS id, repeat(md5(g::text), 32) AS pad FROM generate_series(1, 150000) g;");
        env = { ...opsEnv(pg, db), ...moto.env, PATH: process.env.PATH };
    });
    after(async () => {
        if (backup?.exitCode === null && backup.signalCode === null) backup.kill("SIGKILL");
        s3?.destroy();
        await moto?.stop();
    });

    it("leaves an unfinished upload no record names and no object; the next backup aborts it, says so, and succeeds", async () => {
        const args = ["backup", "--kind", "postgres", "--app", "shop", "--version", "v2.0.0", "--store", store, "--compress", "none"];
        backup = spawn(process.execPath, [CLI, ...args], { env, stdio: ["ignore", "ignore", "pipe"] });
        let stderr = "";
        backup.stderr!.on("data", (chunk) => (stderr += chunk));
        const exited = new Promise((resolve) => backup!.on("exit", resolve));
        const location = await waitFor("the backup naming its artifact", 60_000, () => / to (s3:\/\/\S+)\n/.exec(stderr)?.[1]);
        await waitFor("the first part uploaded", 120_000, () =>
            stderr.includes(`multipart upload of ${location} under way`) ? true : undefined,
        );
        backup.kill("SIGKILL");
        await exited;
        assert.doesNotMatch(stderr, /verified/, "killed before the upload completed");

        const key = location.slice(`s3://${bucket}/`.length);
        assert.deepEqual(await unfinishedUploads(s3, bucket, "shop/"), [key]);
        assert.equal(await head(s3, location), undefined, "no object under the artifact's key");
        assert.deepEqual(await readStoreRecords(store, env), []);
        assert.deepEqual(await keysUnder(s3, bucket, "shop/"), [`shop/uploads/${path.basename(key)}.json`]);

        const next = await runOps(args, env);
        assert.equal(next.code, 0, next.stderr);
        const record: PostgresBackupRecord = JSON.parse(next.stdout);
        assert.ok(
            next.stderr.includes(
                `backup: aborted the unfinished multipart upload of \`${location}\`: a backup that did not finish (process ${backup.pid} on ${os.hostname()} is gone)\n`,
            ),
            next.stderr,
        );
        assert.deepEqual(await unfinishedUploads(s3, bucket, "shop/"), []);
        assert.deepEqual(await readStoreRecords(store, env), [record]);
        // A multipart upload completed: the object's bytes are the recorded ones.
        assert.ok(record.size > 100 * 1024 * 1024, `${record.size} bytes`);
        const bytes = await objectBytes(s3, record.location);
        assert.deepEqual([bytes.length, sha256(bytes)], [record.size, record.sha256]);
        assert.deepEqual(
            await keysUnder(s3, bucket, "shop/"),
            [
                `shop/records/${record.id}.json`,
                `shop/${path.basename(record.location)}`,
                `shop/${path.basename(record.factsLocation)}`,
            ].sort(),
        );
    });
});
