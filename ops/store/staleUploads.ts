import {
    AbortMultipartUploadCommand,
    DeleteObjectCommand,
    GetObjectCommand,
    ListMultipartUploadsCommand,
    ListObjectsV2Command,
    MultipartUpload,
    S3Client,
} from "@aws-sdk/client-s3";
import * as os from "os";
import { Writable } from "stream";
import { awsCall } from "../../core/awsClient";
import { StoreLocation } from "../../core/storeRecords";
import { isRunning } from "../partialFiles";

/**
 * How a killed backup's multipart upload is told from one in progress. S3 lists an upload's
 * key and `Initiated` time only (no metadata), and the time alone cannot say whether its
 * writer is gone (a writer may be slow; some S3-compatible servers report a fixed time).
 * So before it starts an upload a backup writes a marker, `<prefix>/uploads/<name>.json`,
 * naming its host and pid: an upload whose marker names THIS host and a pid that no longer
 * runs is stale at once, as `removeStalePartials` judges partial files. A marker of another
 * host (a CI runner that is gone) cannot be checked from here: such an upload, or one with no
 * marker, is stale once older than `STALE_AFTER_MS`, longer than any backup runs.
 */
export const STALE_AFTER_MS = 24 * 60 * 60 * 1000;

interface Marker {
    readonly host: string;
    readonly pid: number;
    readonly key: string;
    readonly started: string;
}

function markersPrefix(location: StoreLocation & { kind: "s3" }): string {
    return `${location.prefix}/uploads/`;
}

/** The marker a backup writes before it uploads the artifact `name`. */
export function uploadMarker(location: StoreLocation & { kind: "s3" }, name: string): { key: string; body: string } {
    const marker: Marker = { host: os.hostname(), pid: process.pid, key: `${location.prefix}/${name}`, started: new Date().toISOString() };
    return { key: `${markersPrefix(location)}${name}.json`, body: `${JSON.stringify(marker)}\n` };
}

/** Whether the writer of an upload is gone, and the words that say why; undefined while it may still be writing. */
export function staleBecause(marker: Marker | undefined, initiated: Date | undefined, now: Date, host = os.hostname()): string | undefined {
    if (marker !== undefined && marker.host === host) {
        if (marker.pid !== process.pid && isRunning(marker.pid)) return undefined;
        return `process ${marker.pid} on ${marker.host} is gone`;
    }
    const since = marker !== undefined ? Date.parse(marker.started) : initiated?.getTime();
    if (since === undefined || !Number.isFinite(since) || now.getTime() - since < STALE_AFTER_MS) return undefined;
    const who = marker !== undefined ? `process ${marker.pid} on ${marker.host}` : "a writer that left no marker";
    return `begun by ${who} more than ${STALE_AFTER_MS / 3600000} h ago`;
}

async function listUploads(s3: S3Client, location: StoreLocation & { kind: "s3" }): Promise<MultipartUpload[]> {
    const uploads: MultipartUpload[] = [];
    let KeyMarker: string | undefined;
    let UploadIdMarker: string | undefined;
    for (let page = 0; page < 10_000; page++) {
        const output = await s3.send(
            new ListMultipartUploadsCommand({ Bucket: location.bucket, Prefix: `${location.prefix}/`, KeyMarker, UploadIdMarker }),
        );
        uploads.push(...(output.Uploads ?? []));
        if (output.IsTruncated !== true) return uploads;
        KeyMarker = output.NextKeyMarker;
        UploadIdMarker = output.NextUploadIdMarker;
    }
    throw new Error(`the multipart uploads of s3://${location.bucket}/${location.prefix}/ did not end after 10000 pages`);
}

async function readMarkers(s3: S3Client, location: StoreLocation & { kind: "s3" }): Promise<Map<string, { marker: Marker; key: string }>> {
    const markers = new Map<string, { marker: Marker; key: string }>();
    let ContinuationToken: string | undefined;
    do {
        const page = await s3.send(
            new ListObjectsV2Command({ Bucket: location.bucket, Prefix: markersPrefix(location), ContinuationToken }),
        );
        for (const item of page.Contents ?? []) {
            if (item.Key === undefined) continue;
            // Listed a moment ago, it may be gone now: its backup finished (or aborted) and removed it.
            const output = await s3.send(new GetObjectCommand({ Bucket: location.bucket, Key: item.Key })).catch((err) => {
                if (err.$metadata?.httpStatusCode === 404) return undefined;
                throw err;
            });
            if (output === undefined) continue;
            try {
                const marker = JSON.parse((await output.Body?.transformToString("utf8")) ?? "") as Marker;
                markers.set(marker.key, { marker, key: item.Key });
            } catch {
                // A marker that is not ours, or cut short: the upload is then judged by its age alone.
            }
        }
        ContinuationToken = page.NextContinuationToken;
    } while (ContinuationToken !== undefined);
    return markers;
}

export interface StaleUploadsRequest {
    readonly s3: S3Client;
    readonly location: StoreLocation & { kind: "s3" };
    readonly env: NodeJS.ProcessEnv;
    readonly program: string;
    readonly stderr: Writable;
    readonly now?: Date;
}

/**
 * Aborts the store's unfinished multipart uploads whose writers are gone (S3 bills their
 * parts until then) and drops their markers, saying so on stderr; one whose writer may still
 * run is left and named. No record ever names an unfinished upload, so nothing restorable goes.
 */
export async function removeStaleUploads(request: StaleUploadsRequest): Promise<string[]> {
    const { s3, location, env, program, stderr } = request;
    const now = request.now ?? new Date();
    const where = `s3://${location.bucket}/${location.prefix}/`;
    const [uploads, markers] = await awsCall(`S3 ListMultipartUploads of ${where}`, env, () =>
        Promise.all([listUploads(s3, location), readMarkers(s3, location)]),
    );
    const aborted: string[] = [];
    for (const upload of uploads) {
        if (upload.Key === undefined || upload.UploadId === undefined) continue;
        const found = markers.get(upload.Key);
        markers.delete(upload.Key);
        const url = `s3://${location.bucket}/${upload.Key}`;
        const why = staleBecause(found?.marker, upload.Initiated, now);
        if (why === undefined) {
            stderr.write(`${program}: left the unfinished upload of \`${url}\`: its backup may still be running\n`);
            continue;
        }
        await awsCall(`S3 AbortMultipartUpload of ${url}`, env, () =>
            s3.send(new AbortMultipartUploadCommand({ Bucket: location.bucket, Key: upload.Key, UploadId: upload.UploadId })),
        );
        if (found !== undefined) await s3.send(new DeleteObjectCommand({ Bucket: location.bucket, Key: found.key }));
        aborted.push(url);
        stderr.write(`${program}: aborted the unfinished multipart upload of \`${url}\`: a backup that did not finish (${why})\n`);
    }
    // Markers without an upload: a killed backup that had not begun one, or whose upload was aborted.
    for (const { marker, key } of markers.values()) {
        if (staleBecause(marker, undefined, now) !== undefined)
            await s3.send(new DeleteObjectCommand({ Bucket: location.bucket, Key: key }));
    }
    return aborted;
}
