import * as fs from "fs";
import { Readable, Transform, Writable } from "stream";
import { pipeline } from "stream/promises";
import * as zlib from "zlib";
import { ArchiveResult, Compression, TarCounter, TreeCount } from "../archive";
import { HashingCounter, ProgressMeter, runChild } from "../checksum";
import { ArtifactSink } from "./artifact";

/** zlib level 1, as `archiveDirectory` uses: data stores are often compressed already. */
function compressor(compression: Compression): Transform[] {
    return compression === "gzip" ? [zlib.createGzip({ level: 1 })] : [];
}

/**
 * The producer's side of a sink as a stream that never closes the fd: the sink closes it in
 * `commit` or `abort`. (An `fs.WriteStream` on an fd closes it when destroyed, `autoClose: false`
 * or not, so a failed pipeline would close the sink's fd under it.)
 */
export function sinkStream(sink: ArtifactSink): Writable {
    const writeAll = (chunk: Buffer, offset: number, done: (err?: Error | null) => void): void => {
        fs.write(sink.fd, chunk, offset, chunk.length - offset, null, (err, written) => {
            if (err) done(err);
            else if (offset + written < chunk.length) writeAll(chunk, offset + written, done);
            else done();
        });
    };
    return new Writable({ highWaterMark: 4 * 1024 * 1024, write: (chunk: Buffer, _encoding, done) => writeAll(chunk, 0, done) });
}

/**
 * `archiveDirectory` into any sink (a local partial file, an upload): tar's stream is counted
 * (files, bytes, header checks), compressed and hashed in the one pass that writes it, then the
 * sink commits it; any failure aborts the sink, so nothing is left under the artifact's name.
 */
export async function archiveToSink(
    source: string,
    sink: ArtifactSink,
    options: { compression: Compression; quiesced: boolean; stderr: Writable },
): Promise<ArchiveResult> {
    try {
        if (!fs.statSync(source, { throwIfNoEntry: false })?.isDirectory()) {
            throw new Error(`\`--path\` must be an existing directory; got \`${source}\``);
        }
        const meter = new ProgressMeter("archived", options.stderr);
        const tarCounter = new TarCounter();
        const hash = new HashingCounter((bytes) => meter.update(bytes));
        const { code, stderr } = await runChild({
            command: "tar",
            // Sorted names and relative paths: the same tree gives the same archive, extractable anywhere.
            args: ["--sort=name", "-C", source, "-cf", "-", "."],
            output: [tarCounter, ...compressor(options.compression), hash, sinkStream(sink)],
            tolerated: options.quiesced ? [] : [1],
        });
        if (code === 1)
            options.stderr.write(`warning: files changed while being archived (copy is crash-consistent at best): ${stderr.trim()}\n`);
        meter.finish(hash.bytes);
        const written = { sha256: hash.digest(), bytes: hash.bytes };
        await sink.commit(written);
        return {
            ...written,
            size: hash.bytes,
            files: tarCounter.files,
            contentBytes: tarCounter.contentBytes,
            changedDuringRead: code === 1,
        };
    } catch (err) {
        await sink.abort();
        throw err;
    }
}

/** Reads a stored archive back in one pass: its checksum and, from its headers, the files it holds. */
export async function inspectArchiveStream(
    body: Readable,
    compression: Compression,
): Promise<TreeCount & { sha256: string; size: number }> {
    const hash = new HashingCounter();
    const tarCounter = new TarCounter();
    await pipeline([
        body,
        hash,
        ...(compression === "gzip" ? [zlib.createGunzip()] : []),
        tarCounter,
        new Writable({ write: (_c, _e, cb) => cb() }),
    ]);
    return { sha256: hash.digest(), size: hash.bytes, files: tarCounter.files, contentBytes: tarCounter.contentBytes };
}
