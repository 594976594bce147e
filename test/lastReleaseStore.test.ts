import { strict as assert } from "assert";
import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { awsClientConfig } from "../core/awsClient";
import { PostgresBackupRecord } from "../core/backupLog";
import { readStoreRecords } from "../core/storeRecords";
import { storeRecords, useStoreRecordsReader } from "../components/lastRelease";
import { S3BackupStore } from "../settings/data";
import { MOTO_REGION, TestMoto, startMoto } from "./support/moto";

/** The program's read of an S3 backup store (components/lastRelease.ts `storeRecords`) through the core reader, against moto. */

const s3Store = (bucket: string): S3BackupStore => ({ kind: "s3", location: `s3://${bucket}/prod`, bucket, prefix: "prod" });

function record(version: string, time: string): PostgresBackupRecord {
    const id = `shop-${version}-${time.replace(/[-:]/g, "")}`;
    return {
        id,
        kind: "postgres",
        app: "shop",
        version,
        time,
        size: 10,
        sha256: "cd".repeat(32),
        location: `s3://shop-backups/prod/${id}.dump`,
        factsLocation: `s3://shop-backups/prod/${id}.facts.json`,
        database: "shop",
        verified: true,
    };
}

describe("reading the S3 backup store at preview (against moto)", function () {
    this.timeout(90_000);
    let moto: TestMoto;
    let s3: S3Client;

    before(async () => {
        moto = await startMoto();
        s3 = new S3Client(awsClientConfig(moto.env, "S3"));
        await s3.send(new CreateBucketCommand({ Bucket: "shop-backups", CreateBucketConfiguration: { LocationConstraint: MOTO_REGION } }));
        useStoreRecordsReader(readStoreRecords);
    });
    after(async () => {
        useStoreRecordsReader(undefined);
        s3?.destroy();
        await moto?.stop();
    });

    it("answers the store's records, oldest first, and an empty store as empty", async () => {
        assert.deepEqual(await storeRecords(s3Store("shop-backups"), moto.env), { path: "s3://shop-backups/prod", records: [] });
        const newer = record("v1.5.0", "2026-11-22T10:15:00.000Z");
        const older = record("v1.4.2", "2026-11-01T08:00:00.000Z");
        for (const r of [newer, older]) {
            await s3.send(new PutObjectCommand({ Bucket: "shop-backups", Key: `prod/records/${r.id}.json`, Body: JSON.stringify(r) }));
        }
        // Another prefix of the same bucket is another store.
        await s3.send(
            new PutObjectCommand({ Bucket: "shop-backups", Key: `staging/records/${newer.id}.json`, Body: JSON.stringify(newer) }),
        );
        assert.deepEqual(await storeRecords(s3Store("shop-backups"), moto.env), {
            path: "s3://shop-backups/prod",
            records: [older, newer],
        });
    });

    it("fails naming the store and the cause when the bucket cannot be read", async () => {
        await assert.rejects(storeRecords(s3Store("shop-backups-gone"), moto.env), {
            name: "ConfigError",
            message:
                "the backup store s3://shop-backups-gone/prod (`release:backup.store`) could not be read: " +
                "S3 ListObjectsV2 of s3://shop-backups-gone/prod/records/ failed: NoSuchBucket: The specified bucket does not exist. " +
                "Without its records the update cannot tell which recorded backups still exist (`release:restoreFrom`, the `backups` output), " +
                "so it stops rather than take the store for empty: give this machine read access to the bucket " +
                "(AWS credentials in the environment, e.g. AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) and run again",
        });
    });
});
