import {
    AbortMultipartUploadCommand,
    CompletedPart,
    CompleteMultipartUploadCommand,
    CopyObjectCommand,
    CreateMultipartUploadCommand,
    S3Client,
    UploadPartCopyCommand,
} from "@aws-sdk/client-s3";
import { awsCall } from "../../core/awsClient";
import { isPlainMd5Etag, ListedObject, listingPrefix, S3Location, s3Url } from "./bucketListing";

/** `CopyObject` copies at most 5 GiB in one request; larger objects are copied part by part. */
export const SINGLE_COPY_LIMIT = 5 * 1024 ** 3;
/** 512 MiB parts: a 5 TiB object (S3's maximum) stays under the 10 000-part limit. */
export const COPY_PART_BYTES = 512 * 1024 ** 2;
/** Copies run server-side; a few at once keeps a bucket of small objects from taking one round trip each in turn. */
export const COPY_CONCURRENCY = 8;

/**
 * What `aws s3 sync` would copy: objects missing from the target, of another size, or,
 * where both ETags are plain MD5s, of other content. An object already copied by an
 * earlier, interrupted run is left as it is.
 */
export function objectsToCopy(source: readonly ListedObject[], target: readonly ListedObject[]): ListedObject[] {
    const targetByKey = new Map(target.map((object) => [object.key, object]));
    return source.filter((object) => {
        const copy = targetByKey.get(object.key);
        if (copy === undefined || copy.size !== object.size) return true;
        return isPlainMd5Etag(object.etag) && isPlainMd5Etag(copy.etag) && object.etag !== copy.etag;
    });
}

/** `bucket/key`, URI-encoded per segment, as `CopySource` takes it. */
export function copySource(location: S3Location, key: string): string {
    const full = `${listingPrefix(location)}${key}`;
    return `${location.bucket}/${full.split("/").map(encodeURIComponent).join("/")}`;
}

interface CopyJob {
    readonly s3: S3Client;
    readonly source: S3Location;
    readonly target: S3Location;
    readonly env: NodeJS.ProcessEnv;
}

/** Copies the objects server-side, `COPY_CONCURRENCY` at a time; the first failure rejects once the running copies end. */
export async function copyObjects(job: CopyJob, objects: readonly ListedObject[]): Promise<void> {
    let next = 0;
    let failure: unknown;
    const worker = async (): Promise<void> => {
        while (failure === undefined && next < objects.length) {
            const object = objects[next++];
            try {
                await copyObject(job, object);
            } catch (err) {
                failure ??= err;
            }
        }
    };
    await Promise.all(Array.from({ length: Math.min(COPY_CONCURRENCY, objects.length) }, worker));
    if (failure !== undefined) throw failure;
}

async function copyObject(job: CopyJob, object: ListedObject): Promise<void> {
    const Bucket = job.target.bucket;
    const Key = `${listingPrefix(job.target)}${object.key}`;
    const CopySource = copySource(job.source, object.key);
    const what = `S3 copy of ${s3Url(job.source)}${object.key} to ${s3Url(job.target)}${object.key}`;
    if (object.size <= SINGLE_COPY_LIMIT) {
        await awsCall(what, job.env, () => job.s3.send(new CopyObjectCommand({ Bucket, Key, CopySource })));
        return;
    }
    const { UploadId } = await awsCall(what, job.env, () => job.s3.send(new CreateMultipartUploadCommand({ Bucket, Key })));
    try {
        const parts: CompletedPart[] = [];
        for (let start = 0, PartNumber = 1; start < object.size; start += COPY_PART_BYTES, PartNumber++) {
            const end = Math.min(start + COPY_PART_BYTES, object.size) - 1;
            const part = await awsCall(what, job.env, () =>
                job.s3.send(
                    new UploadPartCopyCommand({ Bucket, Key, UploadId, PartNumber, CopySource, CopySourceRange: `bytes=${start}-${end}` }),
                ),
            );
            parts.push({ PartNumber, ETag: part.CopyPartResult?.ETag });
        }
        await awsCall(what, job.env, () =>
            job.s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } })),
        );
    } catch (err) {
        // An abandoned multipart upload is billed until aborted.
        await job.s3.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId })).catch(() => undefined);
        throw err;
    }
}
