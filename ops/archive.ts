import * as fs from "fs";
import * as path from "path";
import { Transform, TransformCallback, Writable } from "stream";
import { pipeline } from "stream/promises";
import { extract, Extract, Header } from "tar-stream";
import * as zlib from "zlib";
import { fsyncPath, HashingCounter, ProgressMeter, runChild } from "./checksum";
import { commitPartial, partialName } from "./partialFiles";

/**
 * Directory backups (a Pebble `--db` directory, any data volume) as tar archives.
 *
 * Consistency: archiving a directory that a live process writes gives a copy that
 * is crash-consistent at best — as if the machine lost power at some instant
 * during the copy — and only if the store tolerates files copied at slightly
 * different instants (Pebble's WAL + immutable SSTs mostly do; a file rewritten
 * mid-copy is torn). tar reports such files ("file changed as we read it"); the
 * record then says `crash-consistent-at-best`. Stop the writers first and pass
 * `--quiesced` for a consistent copy: the record says `quiesced`, and a file
 * changing during the copy then fails the backup, since the promise was broken.
 */
export type Compression = "none" | "gzip";

export const ARCHIVE_EXTENSIONS: Record<Compression, string> = { none: ".tar", gzip: ".tar.gz" };

export function compressionOf(file: string): Compression {
    return file.endsWith(".tar.gz") ? "gzip" : "none";
}

/** Regular files and their bytes, as counted from tar headers or by walking a directory. */
export interface TreeCount {
    readonly files: number;
    readonly contentBytes: number;
}

const BLOCK = 512;

/**
 * Passes a tar stream through unchanged while tar-stream reads its headers, so the
 * archive's file count and bytes come from the same pass that writes it, and a
 * damaged header or a truncated archive is detected while reading. A hard link
 * counts as a file of its target's size, as a walk of the extracted tree sees it.
 */
export class TarCounter extends Transform {
    files = 0;
    contentBytes = 0;
    private readonly reader: Extract = extract();
    /** Entry name → size, for the hard links that name an earlier entry. */
    private readonly sizes = new Map<string, number>();
    private readonly headersRead: Promise<void>;
    /** The stream's last 512 bytes: the end-of-archive marker is zeros. */
    private tail = Buffer.alloc(0);

    constructor() {
        super();
        this.reader.on("entry", (header: Header, body, next) => {
            this.count(header);
            body.on("end", () => next());
            body.resume();
        });
        this.headersRead = new Promise((resolve, reject) => {
            this.reader.on("finish", resolve);
            this.reader.on("error", (err: Error) => reject(this.explain(err)));
        });
        // Settled here too, so a failure is never an unhandled rejection before `_flush` awaits it.
        this.headersRead.catch((err: Error) => this.destroy(err));
    }

    _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
        this.tail = Buffer.concat([this.tail, chunk]).subarray(-BLOCK);
        if (this.reader.write(chunk)) callback(null, chunk);
        else this.reader.once("drain", () => callback(null, chunk));
    }

    _flush(callback: TransformCallback): void {
        this.reader.end(undefined);
        this.headersRead.then(
            () => callback(this.tail.length === BLOCK && this.tail.every((b) => b === 0) ? null : truncated()),
            (err: Error) => callback(err),
        );
    }

    private count(header: Header): void {
        if (header.type === "file" || header.type === "contiguous-file") {
            this.sizes.set(header.name, header.size ?? 0);
            this.files += 1;
            this.contentBytes += header.size ?? 0;
        } else if (header.type === "link") {
            this.files += 1;
            this.contentBytes += this.sizes.get(header.linkname ?? "") ?? 0;
        }
    }

    private explain(err: Error): Error {
        if (/Unexpected end of data/.test(err.message)) return truncated();
        if (/Invalid tar header/.test(err.message))
            return new Error(`tar archive is damaged: header checksum mismatch after ${this.files} files`);
        return err;
    }
}

function truncated(): Error {
    return new Error("tar archive is truncated: it ends before its end-of-archive marker");
}

/** Regular files under `dir` and their total bytes; symlinks are not followed. */
export function countTree(dir: string): TreeCount {
    let files = 0;
    let contentBytes = 0;
    const walk = (current: string) => {
        for (const entry of fs.readdirSync(current, { withFileTypes: true })) {
            const full = path.join(current, entry.name);
            if (entry.isDirectory()) walk(full);
            else if (entry.isFile()) {
                files += 1;
                contentBytes += fs.lstatSync(full).size;
            }
        }
    };
    walk(dir);
    return { files, contentBytes };
}

export interface ArchiveResult extends TreeCount {
    readonly sha256: string;
    readonly size: number;
    /** tar saw a file change while reading it (exit status 1). */
    readonly changedDuringRead: boolean;
}

/** zlib level 1: data stores are often already compressed, so higher levels cost time for little. */
function compressor(compression: Compression): Transform[] {
    return compression === "gzip" ? [zlib.createGzip({ level: 1 })] : [];
}

export async function archiveDirectory(
    source: string,
    file: string,
    options: { compression: Compression; quiesced: boolean; stderr: Writable },
): Promise<ArchiveResult> {
    if (!fs.statSync(source, { throwIfNoEntry: false })?.isDirectory()) {
        throw new Error(`\`--path\` must be an existing directory; got \`${source}\``);
    }
    if (fs.existsSync(file)) throw new Error(`\`${file}\` already exists; a backup never overwrites a file`);
    // Written under its partial name until whole: a backup killed part-way leaves no file a record could name.
    const partial = partialName(file);
    const fd = fs.openSync(partial, "wx");
    const meter = new ProgressMeter("archived", options.stderr);
    const tarCounter = new TarCounter();
    const hash = new HashingCounter((bytes) => meter.update(bytes));
    try {
        const { code, stderr } = await runChild({
            command: "tar",
            // Sorted names and relative paths: the same tree gives the same archive, extractable anywhere.
            args: ["--sort=name", "-C", source, "-cf", "-", "."],
            output: [tarCounter, ...compressor(options.compression), hash, fs.createWriteStream(file, { fd })],
            tolerated: options.quiesced ? [] : [1],
        });
        if (code === 1)
            options.stderr.write(`warning: files changed while being archived (copy is crash-consistent at best): ${stderr.trim()}\n`);
        meter.finish(hash.bytes);
        fsyncPath(partial);
        commitPartial(partial, file);
        return {
            sha256: hash.digest(),
            size: hash.bytes,
            files: tarCounter.files,
            contentBytes: tarCounter.contentBytes,
            changedDuringRead: code === 1,
        };
    } catch (err) {
        fs.rmSync(partial, { force: true });
        throw err;
    }
}

/** Reads an archive once: its checksum and, from its headers, the files it holds. */
export async function inspectArchive(file: string): Promise<TreeCount & { sha256: string; size: number }> {
    const hash = new HashingCounter();
    const tarCounter = new TarCounter();
    await pipeline([
        fs.createReadStream(file, { highWaterMark: 4 * 1024 * 1024 }),
        hash,
        ...(compressionOf(file) === "gzip" ? [zlib.createGunzip()] : []),
        tarCounter,
        new Writable({ write: (_c, _e, cb) => cb() }),
    ]);
    return { sha256: hash.digest(), size: hash.bytes, files: tarCounter.files, contentBytes: tarCounter.contentBytes };
}

/** Extracts into `into` (created, must not exist), hashing the archive in the same read. */
export async function extractArchive(file: string, into: string, stderr: Writable): Promise<{ sha256: string; size: number }> {
    fs.mkdirSync(into);
    const meter = new ProgressMeter("extracted", stderr);
    const hash = new HashingCounter((bytes) => meter.update(bytes));
    await runChild({
        command: "tar",
        args: ["-C", into, "-xf", "-"],
        input: [
            fs.createReadStream(file, { highWaterMark: 4 * 1024 * 1024 }),
            hash,
            ...(compressionOf(file) === "gzip" ? [zlib.createGunzip()] : []),
        ],
    });
    meter.finish(hash.bytes);
    return { sha256: hash.digest(), size: hash.bytes };
}

/**
 * Puts a verified extracted copy in place of `target`: the old directory is renamed to
 * `preRestore` (kept, the way back), the copy to `target`; if the second rename fails
 * the old directory goes back. Whether there was an old directory to keep.
 */
export function swapIn(scratch: string, target: string, preRestore: string): boolean {
    const hadTarget = fs.existsSync(target);
    if (hadTarget) fs.renameSync(target, preRestore);
    try {
        fs.renameSync(scratch, target);
    } catch (err) {
        if (hadTarget) fs.renameSync(preRestore, target);
        throw err;
    }
    return hadTarget;
}
