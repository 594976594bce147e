import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Worker } from "worker_threads";

export interface CopyResult {
    readonly sha256: string;
    readonly bytes: number;
}

/** What the worker posts: progress (bytes so far), then once the result with its checksum. */
interface CopyMessage {
    readonly bytes: number;
    readonly sha256?: string;
}

interface CopyJob {
    /** The read end, opened before the worker starts (the writer may be gone by the time it runs). */
    readonly sourceFd: number;
    readonly targetFd: number;
    readonly blockBytes: number;
    readonly reportEvery: number;
}

/**
 * The worker's body. It is shipped as source text (`eval`), so it runs the same under
 * ts-node and compiled, and must use nothing from outside its own body.
 *
 * A pipe hands over at most its capacity (64 KiB) per read, and a program writing
 * through stdio fills it 4–8 KiB at a time: copied chunk by chunk through Node
 * streams, a 1 GB dump costs ~140,000 event-loop turns, more than pg_dump itself.
 * A blocking read loop fills a large block, then hashes it and writes it at once:
 * one hash update and one write per block, off the main thread.
 */
function copyLoop(): void {
    const { parentPort, workerData } = require("worker_threads");
    const fs = require("fs");
    const { createHash } = require("crypto");
    const job = workerData as CopyJob;
    const input = job.sourceFd;
    const hash = createHash("sha256");
    const block = Buffer.allocUnsafe(job.blockBytes);
    let used = 0;
    let bytes = 0;
    let reported = 0;
    const flush = () => {
        hash.update(block.subarray(0, used));
        for (let offset = 0; offset < used;) offset += fs.writeSync(job.targetFd, block, offset, used - offset);
        used = 0;
    };
    for (;;) {
        const got: number = fs.readSync(input, block, used, job.blockBytes - used, null);
        if (got === 0) break;
        used += got;
        bytes += got;
        if (used === job.blockBytes) flush();
        if (bytes - reported >= job.reportEvery) {
            reported = bytes;
            parentPort.postMessage({ bytes });
        }
    }
    flush();
    parentPort.postMessage({ bytes, sha256: hash.digest("hex") });
}

/**
 * A named pipe that a program writes its output to (its stdout), copied to `targetFd`
 * and hashed (SHA-256) in the same pass by a worker thread. The pipe lives in a
 * private directory (0700), so no other user can open it.
 */
export class FifoCopy {
    readonly fifo: string;
    /** The write end, for the program's stdout; ours is closed by `closeWriter`. */
    readonly writerFd: number;
    private writer: number | undefined;
    /** Settles once the writer has closed the pipe and every byte is written to the target. */
    readonly done: Promise<CopyResult>;
    private readonly dir: string;

    constructor(targetFd: number, onBytes?: (bytes: number) => void, blockBytes = 4 * 1024 * 1024) {
        this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "safe-release-copy-"));
        this.fifo = path.join(this.dir, "output");
        // Node has no mkfifo; coreutils' is wherever pg_dump is.
        execFileSync("mkfifo", ["-m", "600", this.fifo]);
        // The write end is write-only, and this process holds the only read end: if it dies,
        // even by SIGKILL, the kernel closes that end and the program's next write fails with
        // SIGPIPE/EPIPE, so it cannot outlive the copy blocked on a full pipe (holding its
        // database locks). A read-write end would count as a reader and keep it blocked for ever.
        // Opening without blocking: a non-blocking read end opens at once, the write end then
        // finds a reader, and the blocking read end the worker uses then finds a writer.
        const opening = fs.openSync(this.fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
        let sourceFd: number;
        try {
            this.writerFd = this.writer = fs.openSync(this.fifo, fs.constants.O_WRONLY);
            sourceFd = fs.openSync(this.fifo, fs.constants.O_RDONLY);
        } finally {
            fs.closeSync(opening);
        }
        const job: CopyJob = { sourceFd, targetFd, blockBytes, reportEvery: 16 * 1024 * 1024 };
        // No execArgv: the loop needs only Node's own modules, and a worker inherits the parent's
        // (`-r ts-node/register` in a test or a bench: a TypeScript start-up of up to a second, while the
        // pipe it should drain is full and the dump waits).
        const worker = new Worker(`(${copyLoop.toString()})()`, { eval: true, workerData: job, execArgv: [] });
        this.done = new Promise<CopyResult>((resolve, reject) => {
            worker.on("message", (message: CopyMessage) => {
                if (message.sha256 !== undefined) resolve({ sha256: message.sha256, bytes: message.bytes });
                else onBytes?.(message.bytes);
            });
            worker.on("error", reject);
            worker.on("exit", (code) => {
                // Closed here, not in the worker: the main thread opened it. If the worker died
                // mid-copy, the writer then fails with EPIPE instead of waiting for a reader.
                fs.closeSync(sourceFd);
                // After a result this rejection is ignored; without one the worker died mid-copy.
                reject(new Error(`the copy of \`${this.fifo}\` stopped (worker exit ${code}) before its end`));
            });
        });
    }

    /** Closes this process's write end: call it once the program has been started with `writerFd`. */
    closeWriter(): void {
        if (this.writer === undefined) return;
        fs.closeSync(this.writer);
        this.writer = undefined;
    }

    /** Removes the pipe and its directory. */
    remove(): void {
        this.closeWriter();
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}
