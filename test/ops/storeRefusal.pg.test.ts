import { strict as assert } from "assert";
import { PutBucketPolicyCommand, S3Client } from "@aws-sdk/client-s3";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { startMoto, TestMoto } from "../support/moto";
import { testPostgres, TestPostgres } from "../support/postgres";
import { run, tempDir } from "../support/processes";
import { opsEnv, runOps, seedAppDatabase } from "./backupTestSupport";
import { createBucket, keysUnder, testS3, unfinishedUploads } from "./storeTestSupport";

const AFTER =
    ". Nothing was written there: make the store writable for this process (its permissions, bucket policy or credentials), or name another with `--store`, then run again";

describe("a backup store that refuses writes (moto bucket policy, missing bucket, immutable directory)", function () {
    this.timeout(120_000);
    let moto: TestMoto;
    let s3: S3Client;
    let pg: TestPostgres;
    let db: string;
    let env: NodeJS.ProcessEnv;
    let locked: string;
    const probe = `${os.hostname()}-${process.pid}.probe`;

    before(async () => {
        [moto, pg] = await Promise.all([startMoto(), testPostgres()]);
        s3 = testS3(moto);
        await createBucket(s3, "denied-backups");
        const deny = { Effect: "Deny", Principal: "*", Action: "s3:PutObject", Resource: "arn:aws:s3:::denied-backups/*" };
        await s3.send(
            new PutBucketPolicyCommand({ Bucket: "denied-backups", Policy: JSON.stringify({ Version: "2012-10-17", Statement: [deny] }) }),
        );
        db = await seedAppDatabase(pg, "store_refused");
        env = { ...opsEnv(pg, db), ...moto.env, PATH: process.env.PATH };
        locked = await tempDir("safe-release-store-locked-");
        // Root writes through any mode bits; the immutable attribute stops root too (e2fsprogs' chattr).
        await run("chattr", ["+i", locked]).catch((err) => {
            throw new Error(`chattr +i (Debian package e2fsprogs) on ${locked} failed: ${err.message}`);
        });
    });
    after(async () => {
        s3?.destroy();
        await run("chattr", ["-i", locked]).catch(() => undefined);
        fs.rmSync(locked, { recursive: true, force: true });
        await moto?.stop();
    });

    const cases = () => [
        {
            store: "s3://denied-backups/shop",
            cause: `S3 PutObject of s3://denied-backups/shop/store-check/${probe} (HTTP 403) failed: Unknown: UnknownError`,
            shown: "s3://denied-backups/shop/",
        },
        {
            store: "s3://missing-bucket/shop",
            cause: `S3 PutObject of s3://missing-bucket/shop/store-check/${probe} (HTTP 404) failed: NoSuchBucket: The specified bucket does not exist`,
            shown: "s3://missing-bucket/shop/",
        },
        {
            store: locked,
            cause: `EPERM: operation not permitted, open '${path.join(locked, `.store-check.${process.pid}.partial`)}'`,
            shown: locked,
        },
    ];

    it("store-check exits 1 naming the store and the cause", async () => {
        for (const { store, cause, shown } of cases()) {
            const result = await runOps(["store-check", "--store", store], env);
            assert.deepEqual(
                [result.code, result.stderr, result.stdout],
                [1, `store-check: the backup store \`${shown}\` refuses writes: ${cause}${AFTER}\n`, ""],
                store,
            );
        }
    });

    it("backup fails the same way before any dump starts, leaving nothing", async () => {
        for (const { store, cause, shown } of cases()) {
            const result = await runOps(["backup", "--kind", "postgres", "--app", "shop", "--version", "v1.0.0", "--store", store], env);
            assert.deepEqual(
                [result.code, result.stderr, result.stdout],
                [1, `backup: the backup store \`${shown}\` refuses writes: ${cause}${AFTER}\n`, ""],
                store,
            );
        }
        assert.deepEqual(await keysUnder(s3, "denied-backups", ""), []);
        assert.deepEqual(fs.readdirSync(locked), []);
    });

    it("store-check of a store that takes writes: the probe written, read back and deleted", async () => {
        await createBucket(s3, "open-backups");
        const result = await runOps(["store-check", "--store", "s3://open-backups/shop"], env);
        assert.equal(result.code, 0, result.stderr);
        assert.deepEqual(JSON.parse(result.stdout), {
            store: "s3://open-backups/shop/",
            ok: true,
            probe: `s3://open-backups/shop/store-check/${probe}`,
            bytes: 50,
        });
        assert.deepEqual(await keysUnder(s3, "open-backups", ""), []);
    });

    it("an artifact upload the store refuses fails the backup: no object, no record, no unfinished upload", async () => {
        await createBucket(s3, "half-denied");
        // The probe, the upload marker and the records may be written; the backup's artifacts may not.
        const deny = { Effect: "Deny", Principal: "*", Action: "s3:PutObject", Resource: "arn:aws:s3:::half-denied/shop/shop-*" };
        await s3.send(
            new PutBucketPolicyCommand({ Bucket: "half-denied", Policy: JSON.stringify({ Version: "2012-10-17", Statement: [deny] }) }),
        );
        const result = await runOps(
            ["backup", "--kind", "postgres", "--app", "shop", "--version", "v1.0.0", "--store", "s3://half-denied/shop"],
            env,
        );
        const location = / to (s3:\/\/\S+)\n/.exec(result.stderr)?.[1];
        assert.ok(location !== undefined, result.stderr);
        assert.equal(result.code, 1);
        assert.ok(result.stderr.endsWith(`backup: S3 upload of ${location} failed: Unknown: UnknownError\n`), result.stderr);
        assert.deepEqual(await keysUnder(s3, "half-denied", ""), []);
        assert.deepEqual(await unfinishedUploads(s3, "half-denied", ""), []);
    });
});
