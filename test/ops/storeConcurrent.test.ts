import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { S3Client } from "@aws-sdk/client-s3";
import { DirectoryBackupRecord, readLog } from "../../core/backupLog";
import { readStoreRecords } from "../../core/storeRecords";
import { startMoto, TestMoto } from "../support/moto";
import { run, tempDir } from "../support/processes";
import { runOpsBinary } from "./backupTestSupport";
import { createBucket, testS3 } from "./storeTestSupport";

const ROOT = path.join(__dirname, "..", "..");

/** Two real ops processes backing the same directory up into one store at the same time. */
async function twoBackups(data: string, store: string, env: NodeJS.ProcessEnv): Promise<DirectoryBackupRecord[]> {
    const backup = (version: string) =>
        runOpsBinary(["backup", "--kind", "directory", "--path", data, "--app", "shop", "--version", version, "--store", store], env);
    const runs = await Promise.all([backup("v1.0.0"), backup("v1.0.1")]);
    for (const result of runs)
        assert.equal(
            result.code,
            0,
            result.stderr
                .split("\n")
                .filter(
                    (line) => !/Warning|node >=22|a\.co|versions published|will require|To continue|upgrade to|trace-warnings/.test(line),
                )
                .join("\n"),
        );
    return runs.map((result) => JSON.parse(result.stdout));
}

describe("two backups adding their records to one store at once", function () {
    this.timeout(120_000);
    let moto: TestMoto;
    let s3: S3Client;
    let data: string;
    let dir: string;

    before(async () => {
        moto = await startMoto();
        s3 = testS3(moto);
        await createBucket(s3, "concurrent-backups");
        data = await tempDir("safe-release-concurrent-data-");
        fs.writeFileSync(path.join(data, "CURRENT"), "MANIFEST-000001\n");
        dir = await tempDir("safe-release-concurrent-store-");
    });
    after(async () => {
        s3?.destroy();
        for (const d of [data, dir]) if (d) fs.rmSync(d, { recursive: true, force: true });
        await moto?.stop();
    });

    it("a directory store: both lines are in backups.log", async () => {
        const records = await twoBackups(data, dir, { ...process.env });
        const logged = readLog(path.join(dir, "backups.log"));
        assert.deepEqual(logged.map((r) => r.id).sort(), records.map((r) => r.id).sort());
        assert.equal(logged.length, 2);
    });

    it("an S3 store: both record objects are there", async () => {
        const store = "s3://concurrent-backups/shop";
        const records = await twoBackups(data, store, { ...process.env, ...moto.env });
        const stored = await readStoreRecords(store, moto.env);
        assert.deepEqual(stored.map((r) => r.id).sort(), records.map((r) => r.id).sort());
    });

    it("two processes appending 300 records each to one log: all 600 lines, none torn", async () => {
        const log = path.join(dir, "stress.log");
        const writer = (tag: string) =>
            run(
                process.execPath,
                [
                    "-r",
                    "ts-node/register/transpile-only",
                    "-e",
                    `const { appendRecord } = require("./core/backupLog");
                     for (let i = 0; i < 300; i++) appendRecord(${JSON.stringify(log)}, { id: "${tag}-" + i, kind: "kms", app: "shop",
                         version: "v1.0.0", time: new Date().toISOString(), size: 1, sha256: "${"0".repeat(64)}", location: "x".repeat(2000),
                         verified: true, key: {} });`,
                ],
                { cwd: ROOT },
            );
        await Promise.all([writer("a"), writer("b")]);
        const ids = readLog(log).map((r) => r.id);
        assert.equal(ids.length, 600);
        assert.deepEqual(new Set(ids).size, 600);
        // Whole lines only: a torn one would not parse (a blank line, from a writer that saw the other's
        // line half-way when it checked for a crash's unterminated line, is skipped by every reader).
        const lines = fs
            .readFileSync(log, "utf8")
            .split("\n")
            .filter((line) => line !== "");
        assert.equal(lines.length, 600);
        for (const line of lines) assert.equal(JSON.parse(line).location, "x".repeat(2000));
    });
});
