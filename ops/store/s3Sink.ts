import { DeleteObjectCommand, HeadObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Writable } from "stream";
import { awsCall, awsErrorText } from "../../core/awsClient";
import { HashingCounter, ProgressMeter } from "../checksum";
import { ArtifactSink } from "./artifact";

/**
 * 16 MiB parts: S3 allows 10,000 parts, so an artifact of up to 156 GiB; lib-storage keeps
 * `UPLOAD_QUEUE` parts in memory while they are sent.
 */
export const UPLOAD_PART_BYTES = 16 * 1024 * 1024;
const UPLOAD_QUEUE = 4;

/** What every object the store writes is encrypted with. */
export interface Encryption {
    readonly ServerSideEncryption: "aws:kms" | "AES256";
    readonly SSEKMSKeyId?: string;
}

export interface S3SinkRequest {
    readonly s3: S3Client;
    readonly bucket: string;
    readonly key: string;
    readonly encryption: Encryption;
    readonly env: NodeJS.ProcessEnv;
    readonly stderr: Writable;
    /** Called once the artifact is committed or aborted: the upload's marker goes. */
    readonly settled: () => Promise<void>;
}

/** A pipe in a private (0700) directory: its write end is the producer's fd, its read end feeds the upload. */
function privateFifo(): { dir: string; writeFd: number; readFd: number } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "safe-release-upload-"));
    const fifo = path.join(dir, "artifact");
    execFileSync("mkfifo", ["-m", "600", fifo]);
    // As in fifoCopy.ts: a non-blocking read end lets the write-only end open at once, and the
    // write end is write-only, so a producer whose reader (this process) dies gets EPIPE, never a hang.
    const opening = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    try {
        const writeFd = fs.openSync(fifo, fs.constants.O_WRONLY);
        const readFd = fs.openSync(fifo, fs.constants.O_RDONLY);
        return { dir, writeFd, readFd };
    } finally {
        fs.closeSync(opening);
    }
}

/**
 * An S3 object written while it is produced: the producer writes to a pipe whose other end
 * streams into a multipart upload (`@aws-sdk/lib-storage`), so the upload overlaps the dump
 * and the bytes are hashed a second time as they are sent. The upload completes only inside
 * `commit`, once the producer's byte count and SHA-256 are known and equal the sent ones;
 * `abort` aborts the multipart upload, so no object appears under the key.
 */
export async function s3ArtifactSink(request: S3SinkRequest): Promise<ArtifactSink> {
    const { s3, bucket, key, env } = request;
    const url = `s3://${bucket}/${key}`;
    const existing = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).then(
        () => true,
        (err: { $metadata?: { httpStatusCode?: number } }) => {
            if (err.$metadata?.httpStatusCode === 404) return false;
            throw new Error(`S3 HeadObject of ${url} failed: ${(err as Error).message}`);
        },
    );
    if (existing) throw new Error(`\`${url}\` already exists; a backup never overwrites an object`);
    const { dir, writeFd, readFd } = privateFifo();
    const source = fs.createReadStream("", { fd: readFd, highWaterMark: 1024 * 1024 });
    const meter = new ProgressMeter("uploaded", request.stderr);
    const sent = new HashingCounter();
    source.pipe(sent);
    source.on("error", (err) => sent.destroy(err));
    const upload = new Upload({
        client: s3,
        params: { Bucket: bucket, Key: key, Body: sent, ...request.encryption },
        partSize: UPLOAD_PART_BYTES,
        queueSize: UPLOAD_QUEUE,
    });
    let announced = false;
    upload.on("httpUploadProgress", (progress) => {
        // Only a multipart upload reports a whole part done; a small artifact is one PutObject on commit.
        if (!announced && (progress.loaded ?? 0) >= UPLOAD_PART_BYTES) {
            announced = true;
            request.stderr.write(`multipart upload of ${url} under way (${UPLOAD_PART_BYTES / 1024 / 1024} MiB parts)\n`);
        }
        meter.update(progress.loaded ?? 0);
    });
    const uploading = upload.done();
    let failed: Error | undefined;
    // A failure is reported by `commit` (or `failure`); until then it must not count as unhandled.
    uploading.catch((err: Error) => {
        failed ??= new Error(awsErrorText(`S3 upload of ${url}`, err, env));
    });
    // A refused upload stops reading; closing the read end makes the producer's next write fail (EPIPE) instead of blocking.
    uploading.catch(() => source.destroy());
    let writerOpen = true;
    let finished = false;
    const closeWriter = () => {
        if (!writerOpen) return;
        writerOpen = false;
        fs.closeSync(writeFd);
    };
    const finish = async () => {
        if (finished) return;
        finished = true;
        fs.rmSync(dir, { recursive: true, force: true });
        await request.settled();
    };
    const abort = async () => {
        closeWriter();
        // Ends the body with an error: lib-storage then aborts the multipart upload it began.
        sent.destroy(new Error(`the backup writing ${url} stopped`));
        source.destroy();
        await uploading.catch(() => undefined);
        await finish();
    };
    return {
        fd: writeFd,
        location: url,
        commit: async (written) => {
            closeWriter();
            try {
                await awsCall(`S3 upload of ${url}`, env, () => uploading);
                meter.finish(sent.bytes);
                const digest = sent.digest();
                const problem =
                    sent.bytes !== written.bytes
                        ? `${sent.bytes} bytes were uploaded; ${written.bytes} were written`
                        : digest !== written.sha256
                          ? `the uploaded bytes hash to ${digest}; ${written.sha256} was written`
                          : undefined;
                if (problem !== undefined) {
                    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })).catch(() => undefined);
                    throw new Error(`\`${url}\`: ${problem}; the object was deleted`);
                }
            } catch (err) {
                await abort();
                throw err;
            }
            await finish();
        },
        abort,
        failure: () => failed,
    };
}
