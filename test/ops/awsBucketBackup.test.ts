import { strict as assert } from "assert";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import {
    CreateBucketCommand,
    DeleteObjectCommand,
    GetObjectCommand,
    ListObjectsV2Command,
    PutObjectCommand,
    S3Client,
} from "@aws-sdk/client-s3";
import { awsClientConfig } from "../../core/awsClient";
import { readLog } from "../../core/backupLog";
import { MOTO_REGION, startMoto, TestMoto } from "../support/moto";
import { runOps, SECRET_ENV, secretsLeaked } from "../support/opsRun";
import { tempDir } from "../support/processes";
import { versionRule } from "./backupTestSupport";

/** Two objects, one under a "folder" and with a space: the copy source must be URI-encoded. */
const CONTENT: Record<string, string> = { "a.jpg": "a", "b/c d.txt": "c".repeat(1000) };
const md5 = (text: string) => createHash("md5").update(text).digest("hex");
const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");
/** The source listing's lines, hashed here by hand: the record's checksum names the content. */
const CHECKSUM = sha256(`a.jpg\t1\t${md5("a")}\nb/c d.txt\t1000\t${md5(CONTENT["b/c d.txt"])}\n`);

async function logFile(): Promise<string> {
    return path.join(await tempDir("safe-release-bucket-"), "ops", "backups.log");
}

describe("bucket-backup against moto's S3", function () {
    // moto and the SDK's first load take seconds of CPU on a busy machine; each wait below is bounded on its own.
    this.timeout(60_000);
    let moto: TestMoto;
    let s3: S3Client;
    let env: NodeJS.ProcessEnv;
    let serial = 0;
    /** Fresh buckets per test: moto keeps its state for the whole file. */
    let source = "";
    let target = "";
    let args: string[] = [];

    before(async () => {
        moto = await startMoto();
        s3 = new S3Client(awsClientConfig(moto.env, "S3"));
        env = { ...moto.env, ...SECRET_ENV };
    });
    after(async () => {
        s3?.destroy();
        await moto?.stop();
    });

    beforeEach(async () => {
        serial++;
        source = `shop-uploads-${serial}`;
        target = `shop-backups-${serial}`;
        for (const Bucket of [source, target]) {
            await s3.send(new CreateBucketCommand({ Bucket, CreateBucketConfiguration: { LocationConstraint: MOTO_REGION } }));
        }
        for (const [key, body] of Object.entries(CONTENT)) {
            await s3.send(new PutObjectCommand({ Bucket: source, Key: `media/${key}`, Body: body }));
        }
        // Outside the prefix: must not be copied.
        await s3.send(new PutObjectCommand({ Bucket: source, Key: "other/x", Body: "x" }));
        args = [
            "bucket-backup",
            "--source",
            `${source}/media`,
            "--target",
            `s3://${target}/uploads/v1.6.0/`,
            "--app",
            "shop",
            "--version",
            "v1.6.0",
        ];
    });

    async function download(bucket: string, key: string): Promise<Buffer> {
        const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return Buffer.from(await object.Body!.transformToByteArray());
    }

    it("copies the prefix, lists both sides, records a verified backup whose copy downloads with the same checksums", async () => {
        const log = await logFile();
        const run = await runOps([...args, "--log", log], env);
        assert.equal(run.code, 0, run.stderr);
        const record = JSON.parse(run.stdout);
        assert.match(record.id, /^shop-v1\.6\.0-\d{8}T\d{6}\.\d{3}Z$/);
        assert.deepEqual(
            { ...record, id: "ID", time: "TIME" },
            {
                id: "ID",
                kind: "bucket",
                app: "shop",
                version: "v1.6.0",
                time: "TIME",
                size: 1001,
                sha256: CHECKSUM,
                location: `s3://${target}/uploads/v1.6.0/`,
                verified: true,
                source: `s3://${source}/media/`,
                files: 2,
            },
        );
        assert.deepEqual(readLog(log), [record]);
        const copied = await s3.send(new ListObjectsV2Command({ Bucket: target }));
        assert.deepEqual(copied.Contents?.map((o) => o.Key).sort(), ["uploads/v1.6.0/a.jpg", "uploads/v1.6.0/b/c d.txt"]);
        for (const [key, body] of Object.entries(CONTENT)) {
            assert.equal(sha256(await download(target, `uploads/v1.6.0/${key}`)), sha256(body), key);
        }
        assert.equal(
            run.stderr,
            [
                `bucket-backup: s3://${source}/media/: 2 objects, 1001 bytes`,
                `bucket-backup: s3://${target}/uploads/v1.6.0/: 0 objects, 0 bytes`,
                `bucket-backup: copying 2 of 2 objects (1001 bytes) from s3://${source}/media/ to s3://${target}/uploads/v1.6.0/`,
                `bucket-backup: s3://${target}/uploads/v1.6.0/: 2 objects, 1001 bytes`,
                `bucket-backup: verified: 2 objects, 1001 bytes on both sides; recorded in ${log}`,
                "",
            ].join("\n"),
        );
        assert.deepEqual(secretsLeaked(run), []);
    });

    it("copies only what changed on a second run, like `aws s3 sync`", async () => {
        assert.equal((await runOps([...args, "--log", await logFile()], env)).code, 0);
        await s3.send(new PutObjectCommand({ Bucket: source, Key: "media/a.jpg", Body: "b" }));
        const run = await runOps([...args, "--log", await logFile()], env);
        assert.equal(run.code, 0, run.stderr);
        assert.ok(run.stderr.includes(`copying 1 of 2 objects (1 bytes) from s3://${source}/media/`), run.stderr);
        assert.equal((await download(target, "uploads/v1.6.0/a.jpg")).toString(), "b");
    });

    it("records an unverified backup and fails, naming the differing key, when the target prefix holds a stale object", async () => {
        await s3.send(new PutObjectCommand({ Bucket: target, Key: "uploads/v1.6.0/z.bin", Body: "z" }));
        const log = await logFile();
        const run = await runOps([...args, "--log", log], env);
        assert.equal(run.code, 1);
        const record = JSON.parse(run.stdout);
        assert.equal(record.verified, false);
        assert.equal(record.sha256, CHECKSUM);
        assert.deepEqual(readLog(log), [record]);
        assert.ok(
            run.stderr.endsWith(
                `bucket-backup: verification failed: s3://${source}/media/ has 2 objects (1001 bytes), ` +
                    `s3://${target}/uploads/v1.6.0/ has 3 (1002 bytes); 1 differences, the first: only in target: z.bin\n`,
            ),
            run.stderr,
        );
    });

    it("fails without a record, naming the call and S3's error, when the source bucket does not exist", async () => {
        const log = await logFile();
        const run = await runOps(
            ["bucket-backup", ...args.slice(1).map((a) => (a === `${source}/media` ? "no-such-bucket/media" : a)), "--log", log],
            env,
        );
        assert.equal(run.code, 1);
        assert.equal(fs.existsSync(log), false);
        assert.equal(
            run.stderr,
            "bucket-backup: S3 ListObjectsV2 of s3://no-such-bucket/media/ failed: NoSuchBucket: The specified bucket does not exist\n",
        );
    });

    it("exits 2 on bad arguments before any AWS call", async () => {
        const base = ["--app", "shop", "--version", "v1.6.0"];
        const cases: Array<[string[], string]> = [
            [
                ["--source", "shop-uploads", "--target", "shop-backups", ...base],
                "`--target` must be <bucket>/<prefix>: a backup gets a prefix of its own; got `shop-backups`",
            ],
            [
                ["--source", "Shop_Uploads", "--target", "shop-backups/x", ...base],
                "`--source` must be <bucket>[/<prefix>] with a valid bucket name; got `Shop_Uploads`",
            ],
            [
                ["--source", "shop-uploads", "--target", "shop-uploads/backup", ...base],
                "`--target` must not overlap `--source` (s3://shop-uploads/); got `s3://shop-uploads/backup/`",
            ],
            [["--source", "shop-uploads/a", "--target", "shop-backups/x", "--app", "shop", "--version", "1.6"], versionRule("1.6")],
        ];
        // No endpoint: a call would go to AWS itself and fail in another way.
        for (const [caseArgs, message] of cases) {
            const run = await runOps(["bucket-backup", ...caseArgs], { PATH: process.env.PATH });
            assert.equal(run.code, 2, caseArgs.join(" "));
            assert.equal(run.stderr, `bucket-backup: ${message}\n`);
        }
    });

    describe("verify --id of a bucket record", () => {
        async function recorded(): Promise<{ log: string; record: { id: string } }> {
            const log = await logFile();
            const run = await runOps([...args, "--log", log], env);
            assert.equal(run.code, 0, run.stderr);
            return { log, record: JSON.parse(run.stdout) };
        }

        it("lists the copy again and passes when its objects and bytes match the record", async () => {
            const { log, record } = await recorded();
            const run = await runOps(["verify", "--id", record.id, "--log", log], env);
            assert.equal(run.code, 0, run.stderr);
            const result = JSON.parse(run.stdout);
            assert.deepEqual(
                { ...result, durationMs: 0 },
                {
                    ok: true,
                    id: record.id,
                    kind: "bucket",
                    location: `s3://${target}/uploads/v1.6.0/`,
                    objects: 2,
                    bytes: 1001,
                    // Single-part copies keep the MD5 ETags: the copy's listing hashes like the source's.
                    sha256: CHECKSUM,
                    expectedSha256: CHECKSUM,
                    problems: [],
                    durationMs: 0,
                },
            );
            assert.equal(run.stderr, `verify: s3://${target}/uploads/v1.6.0/: 2 objects, 1001 bytes\n`);
            assert.deepEqual(secretsLeaked(run), []);
        });

        it("fails naming both counts when the copy lost an object", async () => {
            const { log, record } = await recorded();
            await s3.send(new DeleteObjectCommand({ Bucket: target, Key: "uploads/v1.6.0/b/c d.txt" }));
            const run = await runOps(["verify", "--id", record.id, "--log", log], env);
            assert.equal(run.code, 1);
            assert.equal(JSON.parse(run.stdout).ok, false);
            assert.equal(
                run.stderr,
                [
                    `verify: s3://${target}/uploads/v1.6.0/: 1 objects, 1 bytes`,
                    `verify: contents of \`s3://${target}/uploads/v1.6.0/\`: expected 2 objects (1001 bytes), got 1 objects (1 bytes)`,
                    "",
                ].join("\n"),
            );
        });
    });
});
