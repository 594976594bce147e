import { GetObjectCommand, paginateListObjectsV2, S3Client } from "@aws-sdk/client-s3";
import * as path from "path";
import { UsageError } from "./args";
import { awsCall, awsClientConfig, withClient } from "./awsClient";
import { BackupRecord, parseRecordLine, readLog } from "./backupLog";

/**
 * Where backups and their records live: a local directory (its log a JSON-lines file,
 * `<dir>/backups.log` unless `--log` puts it elsewhere) or an S3 prefix whose records are
 * one object each under `<prefix>/records/`. S3 has no append: a log kept as one object
 * would be read, extended and written back, and two writers doing that at once keep only
 * one line. One object per record means writers never contend for an object at all.
 */
export type StoreLocation =
    | { readonly kind: "directory"; readonly dir: string; readonly log: string }
    | { readonly kind: "s3"; readonly bucket: string; readonly prefix: string };

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** `s3://bucket/prefix` (a prefix is required: the store's records and artifacts share it) or a directory. */
export function parseStore(text: string, option = "store"): StoreLocation {
    if (text.trim() === "") throw new UsageError(`\`--${option}\` must be a directory or s3://<bucket>/<prefix>; got nothing`);
    if (!/^s3:\/\//i.test(text)) {
        const dir = path.resolve(text);
        return { kind: "directory", dir, log: path.join(dir, "backups.log") };
    }
    const rest = text.slice("s3://".length);
    const slash = rest.indexOf("/");
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    const prefix = slash < 0 ? "" : rest.slice(slash + 1).replace(/^\/+|\/+$/g, "");
    if (!BUCKET.test(bucket) || prefix === "") {
        throw new UsageError(
            `\`--${option}\` must be s3://<bucket>/<prefix> with a valid bucket name and a prefix of the store's own; got \`${text}\``,
        );
    }
    return { kind: "s3", bucket, prefix };
}

/** `s3://bucket/prefix/`, or the directory: how messages and records name the store. */
export function storeUrl(store: StoreLocation): string {
    return store.kind === "s3" ? `s3://${store.bucket}/${store.prefix}/` : store.dir;
}

/** The key of a backup artifact or facts file named `name`. */
export function artifactKey(store: StoreLocation & { kind: "s3" }, name: string): string {
    return `${store.prefix}/${name}`;
}

export function recordsPrefix(store: StoreLocation & { kind: "s3" }): string {
    return `${store.prefix}/records/`;
}

/** `<prefix>/records/<id>.json`: a record's object, written once, never overwritten. */
export function recordKey(store: StoreLocation & { kind: "s3" }, id: string): string {
    return `${recordsPrefix(store)}${id}.json`;
}

/** Where a store keeps its records, as messages name it. */
export function recordsDescription(store: StoreLocation): string {
    return store.kind === "s3" ? `s3://${store.bucket}/${recordsPrefix(store)}` : store.log;
}

/** Records fetched at once from S3: enough to hide round trips, few enough not to be throttled. */
const READ_CONCURRENCY = 8;

async function readObjectText(s3: S3Client, bucket: string, key: string, env: NodeJS.ProcessEnv): Promise<string> {
    return awsCall(`S3 GetObject of s3://${bucket}/${key}`, env, async () => {
        const output = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        if (output.Body === undefined) throw new Error("the response has no body");
        return output.Body.transformToString("utf8");
    });
}

/** Every record under `<prefix>/records/`, oldest first (by `time`, then id), as a log file would list them. */
export async function readS3Records(s3: S3Client, store: StoreLocation & { kind: "s3" }, env: NodeJS.ProcessEnv): Promise<BackupRecord[]> {
    const keys: string[] = [];
    const where = `s3://${store.bucket}/${recordsPrefix(store)}`;
    await awsCall(`S3 ListObjectsV2 of ${where}`, env, async () => {
        for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: store.bucket, Prefix: recordsPrefix(store) })) {
            for (const item of page.Contents ?? []) if (item.Key?.endsWith(".json")) keys.push(item.Key);
        }
    });
    const records: BackupRecord[] = new Array(keys.length);
    let next = 0;
    const worker = async () => {
        while (next < keys.length) {
            const index = next++;
            const key = keys[index];
            records[index] = parseRecordLine(await readObjectText(s3, store.bucket, key, env), `s3://${store.bucket}/${key}`);
        }
    };
    await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, keys.length) }, worker));
    return records.sort((a, b) => Date.parse(a.time) - Date.parse(b.time) || a.id.localeCompare(b.id));
}

/** The S3 client a store is read and written with: region, endpoint and credentials from `env`. */
export function storeS3Client(env: NodeJS.ProcessEnv): S3Client {
    return new S3Client(awsClientConfig(env, "S3"));
}

/**
 * The records of the store `store` names (`--store`, `release:backup.store`): a directory's
 * `backups.log` (none yet: `[]`) or the record objects of an S3 prefix (none yet: `[]`;
 * a bucket that cannot be read: an error naming it). What restore, verify, prune and the
 * program's last-release read all see.
 */
export async function readStoreRecords(store: string | StoreLocation, env: NodeJS.ProcessEnv): Promise<BackupRecord[]> {
    const location = typeof store === "string" ? parseStore(store) : store;
    if (location.kind === "directory") return readLog(location.log);
    return withClient(storeS3Client(env), (s3) => readS3Records(s3, location, env));
}
