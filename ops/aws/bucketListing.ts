import { createHash } from "crypto";
import { UsageError } from "../command";
import { asArray, asString, callAws, field } from "../../core/awsCli";

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

export function listObjectsArgs(location: S3Location, continuationToken?: string): string[] {
    const prefix = listingPrefix(location);
    return [
        "s3api",
        "list-objects-v2",
        "--bucket",
        location.bucket,
        ...(prefix !== "" ? ["--prefix", prefix] : []),
        // One page per call: the token handling below stays visible and each call stays small.
        "--no-paginate",
        ...(continuationToken !== undefined ? ["--continuation-token", continuationToken] : []),
    ];
}

/** One page of `aws s3api list-objects-v2`: its objects (keys made relative) and the token of the next page, if any. */
export function readListingPage(output: unknown, location: S3Location): { objects: ListedObject[]; next?: string } {
    const prefix = listingPrefix(location);
    const objects = asArray(field(output, "Contents")).map((item) => {
        const key = asString(field(item, "Key"));
        const size = field(item, "Size");
        if (key === undefined || typeof size !== "number")
            throw new Error(`${s3Url(location)} listing has an entry without \`Key\` and \`Size\``);
        return { key: key.slice(prefix.length), size, etag: (asString(field(item, "ETag")) ?? "").replace(/^"|"$/g, "") };
    });
    const next = asString(field(output, "NextContinuationToken"));
    if (field(output, "IsTruncated") === true && next === undefined) {
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

/** Every object under `location`, page by page; says the totals through `say` when done. */
export async function listAllObjects(location: S3Location, env: NodeJS.ProcessEnv, say: (line: string) => void): Promise<ListedObject[]> {
    const objects: ListedObject[] = [];
    let token: string | undefined;
    for (let page = 1; ; page++) {
        if (page > MAX_LISTING_PAGES) throw new Error(`${s3Url(location)} listing did not end after ${MAX_LISTING_PAGES} pages`);
        const result = readListingPage(await callAws(listObjectsArgs(location, token), env), location);
        objects.push(...result.objects);
        if (result.next === undefined) break;
        if (result.next === token) throw new Error(`${s3Url(location)} listing returned the same \`NextContinuationToken\` twice`);
        token = result.next;
    }
    const { objects: count, bytes } = totals(objects);
    say(`${s3Url(location)}: ${count} objects, ${bytes} bytes`);
    return objects;
}
