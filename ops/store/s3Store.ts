import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Readable } from "stream";
import { pipeline } from "stream/promises";
import { awsCall } from "../../core/awsClient";
import { BackupRecord } from "../../core/backupLog";
import { artifactKey, readS3Records, recordKey, StoreLocation, storeS3Client, storeUrl } from "../../core/storeRecords";
import { HashingCounter, ProgressMeter } from "../checksum";
import type { BackupStore, StoreOptions } from "./backupStore";
import { storeRefusal } from "./refusal";
import { Encryption, s3ArtifactSink } from "./s3Sink";
import { removeStaleUploads, uploadMarker } from "./staleUploads";

/**
 * `awsCall` with the HTTP status: a refusal without an error body (a bucket policy's 403 from
 * some S3-compatible servers) then still says what it was.
 */
export async function storeCall<T>(operation: string, env: NodeJS.ProcessEnv, call: () => Promise<T>): Promise<T> {
    try {
        return await call();
    } catch (err) {
        const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        return awsCall(status !== undefined ? `${operation} (HTTP ${status})` : operation, env, () => Promise.reject(err));
    }
}

/** `s3://bucket/key` → its parts; a record's location names an object of its store. */
export function parseObjectUrl(url: string): { bucket: string; key: string } {
    const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(url);
    if (!match) throw new Error(`\`${url}\` must be an s3://<bucket>/<key> URL of a stored backup artifact`);
    return { bucket: match[1], key: match[2] };
}

export function encryptionFor(sseKmsKey: string | undefined): Encryption {
    return sseKmsKey !== undefined ? { ServerSideEncryption: "aws:kms", SSEKMSKeyId: sseKmsKey } : { ServerSideEncryption: "AES256" };
}

/**
 * An S3 prefix: artifacts at `<prefix>/<name>`, records at `<prefix>/records/<id>.json`, each
 * put with `If-None-Match: *`, so a record or artifact is never replaced once written. Every
 * object is encrypted server-side (`aws:kms` with `--sse-kms-key`, else `AES256`).
 */
export function s3Store(location: StoreLocation & { kind: "s3" }, options: StoreOptions): BackupStore {
    const { env } = options;
    const encryption = encryptionFor(options.sseKmsKey);
    const url = storeUrl(location);
    let client: S3Client | undefined;
    const s3 = () => (client ??= storeS3Client(env));
    const objectUrl = (key: string) => `s3://${location.bucket}/${key}`;
    const put = (key: string, body: string, once: boolean, operation = "S3 PutObject") =>
        storeCall(`${operation} of ${objectUrl(key)}`, env, () =>
            s3().send(
                new PutObjectCommand({
                    Bucket: location.bucket,
                    Key: key,
                    Body: body,
                    ...(once ? { IfNoneMatch: "*" } : {}),
                    ...encryption,
                }),
            ),
        );
    const putOnce = (key: string, body: string, operation?: string) => put(key, body, true, operation);
    const getBody = async (objectLocation: string) => {
        const { bucket, key } = parseObjectUrl(objectLocation);
        const output = await storeCall(`S3 GetObject of ${objectLocation}`, env, () =>
            s3().send(new GetObjectCommand({ Bucket: bucket, Key: key })),
        );
        if (output.Body === undefined) throw new Error(`S3 GetObject of ${objectLocation} returned no body`);
        return output.Body;
    };
    const remove = (objectLocation: string) => {
        const { bucket, key } = parseObjectUrl(objectLocation);
        return storeCall(`S3 DeleteObject of ${objectLocation}`, env, () =>
            s3().send(new DeleteObjectCommand({ Bucket: bucket, Key: key })),
        );
    };
    const probe = async () => {
        // Named by host and pid, put unconditionally: a killed probe's object is simply replaced by the next one's.
        const key = artifactKey(location, `store-check/${os.hostname()}-${process.pid}.probe`);
        const text = `safe-release store-check ${new Date().toISOString()}\n`;
        try {
            await put(key, text, false);
            const back = await (await getBody(objectUrl(key))).transformToString("utf8");
            if (back !== text) throw new Error(`the probe object read back differs from the ${text.length} bytes written`);
            await remove(objectUrl(key));
        } catch (err) {
            await remove(objectUrl(key)).catch(() => undefined);
            throw new Error(storeRefusal(url, (err as Error).message));
        }
        return { probe: objectUrl(key), bytes: text.length };
    };
    return {
        location,
        url,
        log: objectUrl(`${location.prefix}/records/`),
        artifactLocation: (name) => objectUrl(artifactKey(location, name)),
        prepare: async (program, stderr) => {
            await probe();
            await removeStaleUploads({ s3: s3(), location, env, program, stderr });
        },
        artifactSink: async (name, stderr) => {
            const marker = uploadMarker(location, name);
            await putOnce(marker.key, marker.body);
            const dropMarker = () =>
                remove(objectUrl(marker.key)).then(
                    () => undefined,
                    () => undefined,
                );
            return s3ArtifactSink({
                s3: s3(),
                bucket: location.bucket,
                key: artifactKey(location, name),
                encryption,
                env,
                stderr,
                settled: dropMarker,
            }).catch(async (err) => {
                await dropMarker();
                throw err;
            });
        },
        putSmall: async (name, text) => {
            const key = artifactKey(location, name);
            await putOnce(key, text);
            return objectUrl(key);
        },
        records: () => readS3Records(s3(), location, env),
        appendRecord: async (record: BackupRecord) => {
            await putOnce(recordKey(location, record.id), `${JSON.stringify(record)}\n`, "S3 PutObject (If-None-Match) of the record");
        },
        fetch: async (objectLocation, stderr) => {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "safe-release-download-"));
            const file = path.join(dir, path.basename(parseObjectUrl(objectLocation).key));
            const cleanup = () => fs.rmSync(dir, { recursive: true, force: true });
            try {
                const meter = new ProgressMeter("downloaded", stderr);
                const hash = new HashingCounter((bytes) => meter.update(bytes));
                const body = (await getBody(objectLocation)) as Readable;
                await awsCall(`S3 download of ${objectLocation}`, env, () =>
                    pipeline(body, hash, fs.createWriteStream(file, { flags: "wx" })),
                );
                meter.finish(hash.bytes);
                return { file, sha256: hash.digest(), bytes: hash.bytes, cleanup };
            } catch (err) {
                cleanup();
                throw err;
            }
        },
        read: async (objectLocation) => (await getBody(objectLocation)) as Readable,
        removeArtifact: async (objectLocation) => {
            await remove(objectLocation);
        },
        readText: async (objectLocation) => (await getBody(objectLocation)).transformToString("utf8"),
        prune: async (removed) => {
            // Records first: a record never names a deleted artifact, even if the deletions stop half-way.
            for (const { record } of removed) await remove(objectUrl(recordKey(location, record.id)));
            for (const { files } of removed) for (const file of files) await remove(file);
        },
        probe,
        close: () => client?.destroy(),
    };
}
