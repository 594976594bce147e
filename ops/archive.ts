import * as fs from "fs";
import * as path from "path";
import { Transform, TransformCallback, Writable } from "stream";
import { pipeline } from "stream/promises";
import * as zlib from "zlib";
import { fsyncPath, HashingCounter, ProgressMeter, runChild } from "./checksum";

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

function headerSize(header: Buffer): number {
    if (header[124] & 0x80) {
        // GNU base-256 for sizes of 8 GiB and more.
        let size = 0;
        for (let i = 125; i < 136; i++) size = size * 256 + header[i];
        return size;
    }
    const octal = header.toString("latin1", 124, 136).replace(/[\0 ]/g, "");
    return octal === "" ? 0 : parseInt(octal, 8);
}

function headerChecksumValid(header: Buffer): boolean {
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i];
    const recorded = parseInt(header.toString("latin1", 148, 156).replace(/[\0 ]/g, ""), 8);
    return recorded === sum;
}

/**
 * Passes a tar stream through unchanged while reading its headers, so the
 * archive's file count and bytes come from the same pass that writes it, and a
 * damaged header (bad checksum) or a truncated archive is detected while reading.
 */
export class TarCounter extends Transform {
    files = 0;
    contentBytes = 0;
    private pending = Buffer.alloc(0);
    /** Bytes of entry data (padded to whole blocks) still to skip. */
    private skip = 0;
    /** Entry data being collected (pax headers), and the size it overrides for the next entry. */
    private paxData: Buffer[] | undefined;
    private paxSize: number | undefined;
    private ended = false;

    _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
        try {
            this.consume(chunk);
            callback(null, chunk);
        } catch (err) {
            callback(err as Error);
        }
    }

    _flush(callback: TransformCallback): void {
        if (!this.ended || this.skip > 0) callback(new Error("tar archive is truncated: it ends before its end-of-archive marker"));
        else callback();
    }

    private consume(chunk: Buffer): void {
        let offset = 0;
        while (offset < chunk.length) {
            if (this.skip > 0) {
                const n = Math.min(this.skip, chunk.length - offset);
                this.paxData?.push(chunk.subarray(offset, offset + n));
                this.skip -= n;
                offset += n;
                if (this.skip === 0 && this.paxData) this.readPax();
                continue;
            }
            const need = BLOCK - this.pending.length;
            const piece = chunk.subarray(offset, offset + need);
            offset += piece.length;
            this.pending = this.pending.length === 0 ? Buffer.from(piece) : Buffer.concat([this.pending, piece]);
            if (this.pending.length < BLOCK) return;
            const header = this.pending;
            this.pending = Buffer.alloc(0);
            if (this.ended) continue;
            this.readHeader(header);
        }
    }

    private readHeader(header: Buffer): void {
        if (header.every((b) => b === 0)) {
            this.ended = true;
            return;
        }
        if (!headerChecksumValid(header)) throw new Error(`tar archive is damaged: header checksum mismatch after ${this.files} files`);
        const type = String.fromCharCode(header[156]);
        const size = this.paxSize ?? headerSize(header);
        this.paxSize = undefined;
        if (type === "x") this.paxData = [];
        // Regular files ("0", old-style NUL, contiguous "7"); hard links ("1") carry no data and are not counted.
        if (type === "0" || type === "\0" || type === "7") {
            this.files += 1;
            this.contentBytes += size;
        }
        this.skip = Math.ceil(size / BLOCK) * BLOCK;
        if (this.skip === 0 && this.paxData) this.readPax();
    }

    private readPax(): void {
        const text = Buffer.concat(this.paxData!).toString("utf8");
        this.paxData = undefined;
        const match = /(?:^|\n)\d+ size=(\d+)\n/.exec(text);
        if (match) this.paxSize = Number(match[1]);
    }
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
    const fd = fs.openSync(file, "wx");
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
        fsyncPath(file);
        return {
            sha256: hash.digest(),
            size: hash.bytes,
            files: tarCounter.files,
            contentBytes: tarCounter.contentBytes,
            changedDuringRead: code === 1,
        };
    } catch (err) {
        fs.rmSync(file, { force: true });
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
