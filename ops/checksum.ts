import { spawn } from "child_process";
import { createHash, Hash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { Readable, Transform, TransformCallback, Writable } from "stream";
import { pipeline } from "stream/promises";

const MiB = 1024 * 1024;

/** "412 MiB (38 MiB/s)": sizes in whole MiB read better in a log than exact bytes. */
export function formatProgress(verb: string, bytes: number, elapsedMs: number): string {
    const rate = elapsedMs > 0 ? bytes / MiB / (elapsedMs / 1000) : 0;
    return `${verb} ${Math.floor(bytes / MiB)} MiB (${Math.round(rate)} MiB/s)`;
}

/** Writes a progress line at most once per `intervalMs`, so a fast stream cannot flood stderr. */
export class ProgressMeter {
    private readonly started: number;
    private lastReport: number;

    constructor(
        private readonly verb: string,
        private readonly out: Writable,
        private readonly intervalMs = 1000,
        private readonly now: () => number = Date.now,
    ) {
        this.started = now();
        this.lastReport = this.started;
    }

    update(bytes: number): void {
        const at = this.now();
        if (at - this.lastReport < this.intervalMs) return;
        this.lastReport = at;
        this.out.write(`${formatProgress(this.verb, bytes, at - this.started)}\n`);
    }

    finish(bytes: number): void {
        this.out.write(`${formatProgress(this.verb, bytes, this.now() - this.started)}\n`);
    }
}

/**
 * Passes bytes through unchanged while hashing and counting them, so a backup's
 * checksum comes from the same pass that writes or reads it (no second read of the file).
 */
export class HashingCounter extends Transform {
    private readonly hash: Hash = createHash("sha256");
    bytes = 0;

    constructor(private readonly onBytes?: (total: number) => void) {
        super();
    }

    _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
        this.hash.update(chunk);
        this.bytes += chunk.length;
        this.onBytes?.(this.bytes);
        callback(null, chunk);
    }

    /** Only valid once the stream has ended. */
    digest(): string {
        return this.hash.digest("hex");
    }
}

export async function sha256OfFile(file: string, onBytes?: (total: number) => void): Promise<{ sha256: string; bytes: number }> {
    const counter = new HashingCounter(onBytes);
    // Large reads: hashing is bound by syscalls per chunk at the default 64 KiB.
    await pipeline(fs.createReadStream(file, { highWaterMark: 4 * MiB }), counter, new Writable({ write: (_c, _e, cb) => cb() }));
    return { sha256: counter.digest(), bytes: counter.bytes };
}

export function checksumMismatch(file: string, expected: string, actual: string): string {
    return `checksum mismatch for \`${file}\`: expected sha256 ${expected}, got ${actual}`;
}

/** Writes data to disk durably: the backup record must never point at bytes still in the page cache. */
export function fsyncPath(target: string): void {
    const fd = fs.openSync(target, "r");
    try {
        fs.fsyncSync(fd);
    } finally {
        fs.closeSync(fd);
    }
}

export interface ChildRun {
    readonly command: string;
    /** The program named in a failure ("pg_dump exited 1: …"); the command's base name when absent. */
    readonly label?: string;
    readonly args: string[];
    readonly env?: NodeJS.ProcessEnv;
    /** Streamed into the child's stdin: a source, then any transforms (hashing, counting). */
    readonly input?: [Readable, ...Transform[]];
    /** The child's stdout flows through these (transforms, then a sink); collected as text when absent. */
    readonly output?: [...Transform[], Writable];
    /** The child's stdout is this file descriptor itself (a pipe another thread reads), instead of `output`. */
    readonly stdoutFd?: number;
    /** Exit codes besides 0 that are not failures (tar's 1 = "file changed as we read it"). */
    readonly tolerated?: number[];
    /** Applied to stderr before it goes into an error message (removes secrets). */
    readonly redact?: (text: string) => string;
}

/** Runs a program with streamed stdin/stdout; rejects with its (redacted) stderr when it fails. */
export async function runChild(run: ChildRun): Promise<{ code: number; stdout: string; stderr: string }> {
    const child = spawn(run.command, run.args, {
        env: run.env ?? process.env,
        stdio: [run.input ? "pipe" : "ignore", run.stdoutFd ?? "pipe", "pipe"],
    });
    let stderr = "";
    let stdout = "";
    child.stderr!.on("data", (chunk) => {
        // Keep the tail: the cause of a failure is printed last.
        stderr = (stderr + chunk).slice(-8000);
    });
    const exited = new Promise<number>((resolve, reject) => {
        child.on("error", reject);
        child.on("close", (code, signal) => resolve(code ?? (signal ? 128 : 1)));
    });
    const redact = run.redact ?? ((text: string) => text);
    const flows: Array<Promise<unknown>> = [];
    if (run.input) {
        // The child may exit early (bad archive); its exit code tells why, not EPIPE.
        child.stdin!.on("error", () => undefined);
        flows.push(
            pipeline([...run.input, child.stdin!]).catch((err: NodeJS.ErrnoException) => {
                if (err.code !== "EPIPE" && err.code !== "ERR_STREAM_PREMATURE_CLOSE") throw err;
            }),
        );
    }
    if (run.output) flows.push(pipeline([child.stdout!, ...run.output]));
    else child.stdout?.on("data", (chunk) => (stdout += chunk));
    let code: number;
    try {
        [code] = await Promise.all([exited, ...flows]);
    } catch (err) {
        child.kill();
        throw err;
    }
    if (code !== 0 && !(run.tolerated ?? []).includes(code)) {
        throw new Error(`${run.label ?? path.basename(run.command)} exited ${code}: ${redact(stderr.trim())}`);
    }
    return { code, stdout, stderr: redact(stderr) };
}

/** The first executable `name` in the environment's PATH, or undefined. */
export function findOnPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
    for (const dir of (env.PATH ?? "").split(path.delimiter)) {
        if (dir === "") continue;
        const candidate = path.join(dir, name);
        try {
            fs.accessSync(candidate, fs.constants.X_OK);
            return candidate;
        } catch {
            // Not here.
        }
    }
    return undefined;
}
