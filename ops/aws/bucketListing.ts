import { createHash } from "crypto";
import { UsageError } from "../command";
import { ListObjectsV2Output, paginateListObjectsV2, S3Client } from "@aws-sdk/client-s3";
import { awsCall, awsClientConfig, withClient } from "../../core/awsClient";

/** A bucket and a key prefix without leading or trailing `/` ("" for the whole bucket). */
export interface S3Location {
    readonly bucket: string;
    readonly prefix: string;
}

/** One object, its key relative to the listed prefix and its ETag without S3's quotes. */
export interface ListedObject {
    readonly key: string;
    readonly size: number;
    readonly etag: string;
}

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** `bucket`, `bucket/prefix` or `s3://bucket/prefix/`. */
export function parseS3Location(text: string, option: string, prefixRequired: boolean): S3Location {
    const shape = prefixRequired ? "<bucket>/<prefix>" : "<bucket>[/<prefix>]";
    const rest = text.replace(/^s3:\/\//, "");
    const slash = rest.indexOf("/");
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    const prefix = slash < 0 ? "" : rest.slice(slash + 1).replace(/^\/+|\/+$/g, "");
    if (!BUCKET.test(bucket)) throw new UsageError(`\`--${option}\` must be ${shape} with a valid bucket name; got \`${text}\``);
    if (prefixRequired && prefix === "") {
        throw new UsageError(`\`--${option}\` must be ${shape}: a backup gets a prefix of its own; got \`${text}\``);
    }
    return { bucket, prefix };
}

/** What `list-objects-v2 --prefix` takes: the prefix as a folder, so `data` does not also match `database/`. */
export function listingPrefix(location: S3Location): string {
    return location.prefix === "" ? "" : `${location.prefix}/`;
}

export function s3Url(location: S3Location): string {
    return `s3://${location.bucket}/${listingPrefix(location)}`;
}

/** Copying a prefix into itself or into one of its own sub-prefixes would copy the copy. */
export function checkSeparate(source: S3Location, target: S3Location): void {
    if (source.bucket !== target.bucket) return;
    const a = listingPrefix(source);
    const b = listingPrefix(target);
    if (a.startsWith(b) || b.startsWith(a)) {
        throw new UsageError(`\`--target\` must not overlap \`--source\` (${s3Url(source)}); got \`${s3Url(target)}\``);
    }
}

/** One page of `ListObjectsV2`: its objects (keys made relative) and the token of the next page, if any. */
export function readListingPage(output: ListObjectsV2Output, location: S3Location): { objects: ListedObject[]; next?: string } {
    const prefix = listingPrefix(location);
    const objects = (output.Contents ?? []).map((item) => {
        if (item.Key === undefined || item.Size === undefined)
            throw new Error(`${s3Url(location)} listing has an entry without \`Key\` and \`Size\``);
        return { key: item.Key.slice(prefix.length), size: item.Size, etag: (item.ETag ?? "").replace(/^"|"$/g, "") };
    });
    const next = output.NextContinuationToken;
    if (output.IsTruncated === true && next === undefined) {
        throw new Error(`${s3Url(location)} listing is truncated but has no \`NextContinuationToken\``);
    }
    return next !== undefined ? { objects, next } : { objects };
}

/** S3's ETag is the content's MD5 only for single-part uploads without SSE-KMS; multipart ones end in `-<parts>`. */
export function isPlainMd5Etag(etag: string): boolean {
    return /^[0-9a-f]{32}$/i.test(etag);
}

/** Sorted by the UTF-8 bytes of the key, the order S3 lists in. */
export function sortByKey(objects: readonly ListedObject[]): ListedObject[] {
    return [...objects].sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
}

/** SHA-256 of the `key\tsize\tetag\n` lines in key order: names the content without reading it. */
export function listingChecksum(objects: readonly ListedObject[]): string {
    const hash = createHash("sha256");
    for (const object of sortByKey(objects)) hash.update(`${object.key}\t${object.size}\t${object.etag}\n`);
    return hash.digest("hex");
}

export interface ListingTotals {
    readonly objects: number;
    readonly bytes: number;
}

export function totals(objects: readonly ListedObject[]): ListingTotals {
    return { objects: objects.length, bytes: objects.reduce((sum, object) => sum + object.size, 0) };
}

export interface ListingComparison {
    readonly source: ListingTotals;
    readonly target: ListingTotals;
    /** The first `limit` differences in key order; empty when the copy matches. */
    readonly differences: string[];
    /** How many differences there are in all. */
    readonly differenceCount: number;
}

/**
 * Compares the copy with its source key by key: presence and size always, the ETag
 * when both are plain MD5s (a multipart copy gets a different, composite ETag), unless
 * `compareEtags` is off (SSE-KMS objects have ETags that differ between copies).
 */
export function compareListings(
    source: readonly ListedObject[],
    target: readonly ListedObject[],
    options: { limit?: number; compareEtags?: boolean } = {},
): ListingComparison {
    const limit = options.limit ?? 10;
    const compareEtags = options.compareEtags ?? true;
    const targetByKey = new Map(target.map((object) => [object.key, object]));
    const sourceKeys = new Set(source.map((object) => object.key));
    const found: Array<{ key: string; text: string }> = [];
    for (const object of source) {
        const copy = targetByKey.get(object.key);
        if (copy === undefined) found.push({ key: object.key, text: `only in source: ${object.key}` });
        else if (copy.size !== object.size)
            found.push({ key: object.key, text: `size differs: ${object.key} (${object.size} vs ${copy.size} bytes)` });
        else if (compareEtags && isPlainMd5Etag(object.etag) && isPlainMd5Etag(copy.etag) && object.etag !== copy.etag) {
            found.push({ key: object.key, text: `ETag differs: ${object.key} (${object.etag} vs ${copy.etag})` });
        }
    }
    for (const object of target) {
        if (!sourceKeys.has(object.key)) found.push({ key: object.key, text: `only in target: ${object.key}` });
    }
    found.sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
    return {
        source: totals(source),
        target: totals(target),
        differences: found.slice(0, limit).map((d) => d.text),
        differenceCount: found.length,
    };
}

/** A listing that keeps handing out tokens past this many pages is a loop, not a bucket. */
export const MAX_LISTING_PAGES = 100_000;

/** The S3 client of one run: region, endpoint and credentials as `env` names them (core/awsClient.ts). */
export function s3Client(env: NodeJS.ProcessEnv): S3Client {
    return new S3Client(awsClientConfig(env, "S3"));
}

/** Every object under `location`, page by page (the SDK's paginator); says the totals through `say` when done. */
export async function listObjects(
    s3: S3Client,
    location: S3Location,
    env: NodeJS.ProcessEnv,
    say: (line: string) => void,
): Promise<ListedObject[]> {
    const objects: ListedObject[] = [];
    const pages = paginateListObjectsV2({ client: s3 }, { Bucket: location.bucket, Prefix: listingPrefix(location) });
    await awsCall(`S3 ListObjectsV2 of ${s3Url(location)}`, env, async () => {
        let previous: string | undefined;
        let count = 0;
        for await (const output of pages) {
            if (++count > MAX_LISTING_PAGES) throw new Error(`${s3Url(location)} listing did not end after ${MAX_LISTING_PAGES} pages`);
            const page = readListingPage(output, location);
            objects.push(...page.objects);
            if (page.next !== undefined && page.next === previous) {
                throw new Error(`${s3Url(location)} listing returned the same \`NextContinuationToken\` twice`);
            }
            previous = page.next;
        }
    });
    const { objects: count, bytes } = totals(objects);
    say(`${s3Url(location)}: ${count} objects, ${bytes} bytes`);
    return objects;
}

/** `listObjects` with a client of its own, for a caller that makes no other S3 call. */
export function listAllObjects(location: S3Location, env: NodeJS.ProcessEnv, say: (line: string) => void): Promise<ListedObject[]> {
    return withClient(s3Client(env), (s3) => listObjects(s3, location, env, say));
}
