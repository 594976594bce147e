import { createHash } from "crypto";
import {
    CreateBucketCommand,
    GetObjectCommand,
    HeadObjectCommand,
    HeadObjectCommandOutput,
    ListMultipartUploadsCommand,
    ListObjectsV2Command,
    S3Client,
} from "@aws-sdk/client-s3";
import { awsClientConfig } from "../../core/awsClient";
import { MOTO_REGION, TestMoto } from "../support/moto";

export const sha256 = (data: Buffer | string): string => createHash("sha256").update(data).digest("hex");

/** A client of the tests' own, to look at what the ops programs stored. */
export function testS3(moto: TestMoto): S3Client {
    return new S3Client(awsClientConfig(moto.env, "S3"));
}

export async function createBucket(s3: S3Client, bucket: string): Promise<void> {
    await s3.send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: MOTO_REGION } }));
}

/** `s3://bucket/key` → bucket and key. */
export function splitUrl(url: string): { Bucket: string; Key: string } {
    const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(url);
    if (!match) throw new Error(`not an s3:// object URL: ${url}`);
    return { Bucket: match[1], Key: match[2] };
}

export async function objectBytes(s3: S3Client, url: string): Promise<Buffer> {
    const output = await s3.send(new GetObjectCommand(splitUrl(url)));
    return Buffer.from(await output.Body!.transformToByteArray());
}

export async function head(s3: S3Client, url: string): Promise<HeadObjectCommandOutput | undefined> {
    return s3.send(new HeadObjectCommand(splitUrl(url))).catch((err) => {
        if (err.$metadata?.httpStatusCode === 404) return undefined;
        throw err;
    });
}

/** Every key under `prefix` of `bucket`, sorted. */
export async function keysUnder(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
    const output = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
    return (output.Contents ?? []).map((item) => item.Key!).sort();
}

export async function unfinishedUploads(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
    const output = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
    return (output.Uploads ?? []).map((upload) => upload.Key!).sort();
}

/** Polls `probe` every 50 ms until it returns a value, failing with `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => T | undefined | Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const value = await probe();
        if (value !== undefined) return value;
        if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 50));
    }
}
