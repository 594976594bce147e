import { ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Readable, Transform } from "stream";
import { pipeline } from "stream/promises";
import { findOnPath } from "../checksum";

/** The first four bytes of every zstd frame (RFC 8878): how restore and verify tell a compressed archive. */
export const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

/**
 * The zstd program on the environment's PATH. `purpose` says what needed it and
 * `otherwise` what else would do, for the message when it is missing.
 */
export function zstdBinary(env: NodeJS.ProcessEnv, purpose: string, otherwise?: string): string {
    const found = findOnPath("zstd", env);
    if (found === undefined) {
        throw new Error(
            `\`zstd\` was not found on PATH, and ${purpose}: install the Debian package \`zstd\` (apt-get install zstd)` +
                (otherwise === undefined ? "" : `, or ${otherwise}`),
        );
    }
    return found;
}

/**
 * By content, not by name: a `.dump.zst` renamed or copied as `.dump` still restores and
 * verifies. Older backups (pg_dump's own archive, `PGDMP…`) are read as they are.
 */
export function isZstdFile(file: string): boolean {
    const head = Buffer.alloc(ZSTD_MAGIC.length);
    const fd = fs.openSync(file, "r");
    try {
        return isZstdHead(head.subarray(0, fs.readSync(fd, head, 0, head.length, 0)));
    } finally {
        fs.closeSync(fd);
    }
}

/** Whether an archive's first bytes are a zstd frame's. */
export function isZstdHead(head: Buffer): boolean {
    return head.length >= ZSTD_MAGIC.length && head.subarray(0, ZSTD_MAGIC.length).equals(ZSTD_MAGIC);
}

/** The stream's first `bytes` bytes (fewer if it is shorter), and a stream of all of it, those included. */
export async function peek(body: Readable, bytes: number): Promise<{ head: Buffer; stream: Readable }> {
    const chunks = body[Symbol.asyncIterator]();
    const read: Buffer[] = [];
    let length = 0;
    while (length < bytes) {
        const next = await chunks.next();
        if (next.done) break;
        const chunk = Buffer.from(next.value);
        read.push(chunk);
        length += chunk.length;
    }
    async function* all(): AsyncGenerator<Buffer> {
        yield* read;
        for (let next = await chunks.next(); !next.done; next = await chunks.next()) yield next.value;
    }
    return { head: Buffer.concat(read).subarray(0, bytes), stream: Readable.from(all(), { objectMode: false }) };
}

/** How long a producer whose consumer has ended may take to end by itself. */
const STOP_GRACE_MS = 5000;

export interface PipeStage {
    readonly command: string;
    readonly args: string[];
    readonly env: NodeJS.ProcessEnv;
    /** The program named in a failure ("zstd was killed by SIGKILL"). */
    readonly label: string;
}

export interface PipeRun {
    /** Writes to `consumer`'s stdin: the two share one kernel pipe, so the bytes never pass through this process. */
    readonly producer: PipeStage;
    readonly consumer: PipeStage;
    /** Streamed into the producer's stdin (a file, through a hashing counter); none when absent. */
    readonly input?: [Readable, ...Transform[]];
    /** The consumer's stdout is this descriptor (a pipe another thread reads); collected as text when absent. */
    readonly consumerStdoutFd?: number;
    /**
     * The consumer reads only the head of the stream (`pg_restore --list`): once it has
     * succeeded, the producer is stopped and how it ended does not matter.
     */
    readonly consumerReadsHead?: boolean;
    /** Applied to stderr before it goes into an error message (removes secrets). */
    readonly redact: (text: string) => string;
}

interface Ending {
    readonly label: string;
    /** -1 when it was killed by a signal or could not be started. */
    readonly code: number;
    readonly signal: NodeJS.Signals | null;
    readonly stderr: string;
}

/**
 * Runs `producer | consumer` with the pipe between them held by the two programs alone:
 * this process keeps no end of it, so if either dies (or this process is killed) the other
 * sees end-of-file or EPIPE instead of blocking for ever. A failure of one stops the other;
 * the error names the one that caused it.
 */
export async function runPipe(run: PipeRun): Promise<{ stdout: string }> {
    const between = namedPipe();
    let consumer: ChildProcess;
    let producer: ChildProcess;
    try {
        consumer = spawn(run.consumer.command, run.consumer.args, {
            env: run.consumer.env,
            stdio: [between.reader, run.consumerStdoutFd ?? "pipe", "pipe"],
        });
        producer = spawn(run.producer.command, run.producer.args, {
            env: run.producer.env,
            stdio: [run.input ? "pipe" : "ignore", between.writer, "pipe"],
        });
    } finally {
        // The programs hold their ends now; ours would keep either waiting for the other.
        fs.closeSync(between.reader);
        fs.closeSync(between.writer);
    }
    const consumerEnded = ending(consumer, run.consumer.label);
    const producerEnded = ending(producer, run.producer.label);
    let stdout = "";
    consumer.stdout?.on("data", (chunk) => (stdout += chunk));
    let stopped = false;
    const stopProducer = () => {
        if (producer.exitCode !== null || producer.signalCode !== null) return;
        stopped = true;
        // SIGKILL: pg_dump answers SIGTERM with an exit code of its own, which would read as a failure of its own.
        producer.kill("SIGKILL");
    };
    void consumerEnded.then((end) => {
        if (end.code === 0 && !run.consumerReadsHead) return;
        // A producer still writing ends by itself at its next write (EPIPE), saying why if it
        // failed for a reason of its own; one that is not writing (pg_dump waiting for a lock)
        // would wait for ever, so after a grace it is stopped.
        const timer = setTimeout(stopProducer, STOP_GRACE_MS);
        void producerEnded.then(() => clearTimeout(timer));
    });
    let inputError: Error | undefined;
    if (run.input && producer.pid === undefined) run.input[0].destroy();
    else if (run.input) {
        // The producer may exit early (damaged input); its exit code tells why, not EPIPE.
        producer.stdin!.on("error", () => undefined);
        await pipeline([...run.input, producer.stdin!]).catch((err: NodeJS.ErrnoException) => {
            if (err.code === "EPIPE" || err.code === "ERR_STREAM_PREMATURE_CLOSE") return;
            inputError = err;
            stopProducer();
        });
    }
    const [producerEnd, consumerEnd] = await Promise.all([producerEnded, consumerEnded]);
    if (inputError !== undefined) throw inputError;
    if (consumerEnd.code === 0 && run.consumerReadsHead) return { stdout };
    if (producerEnd.code === 0 && consumerEnd.code === 0) return { stdout };
    // A producer that failed by itself cut the consumer's input short: it is the cause. One
    // that met a broken pipe, or that was stopped here, only followed the consumer's failure.
    const producerFailedByItself = producerEnd.code !== 0 && !metBrokenPipe(producerEnd) && !(stopped && producerEnd.signal === "SIGKILL");
    const cause = producerFailedByItself || consumerEnd.code === 0 ? producerEnd : consumerEnd;
    throw new Error(describeFailure(cause, run.redact));
}

/**
 * A pipe between two programs, as a named pipe opened at both ends and then unlinked (with
 * its private directory), so nothing of it is left on disk. A FIFO rather than the socket
 * pair Node gives a child's stdio: pg_dump into zstd ran up to 15% faster through it here.
 */
function namedPipe(): { reader: number; writer: number } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "safe-release-pipe-"));
    try {
        const fifo = path.join(dir, "pipe");
        execFileSync("mkfifo", ["-m", "600", fifo]);
        // A non-blocking read end opens at once; the write end then finds a reader, and the
        // blocking read end the consumer gets finds a writer.
        const opening = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
        try {
            const writer = fs.openSync(fifo, fs.constants.O_WRONLY);
            return { writer, reader: fs.openSync(fifo, fs.constants.O_RDONLY) };
        } finally {
            fs.closeSync(opening);
        }
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** Settles once the program has ended and its output is read, or at once if it could not be started. */
function ending(child: ChildProcess, label: string): Promise<Ending> {
    let stderr = "";
    // Keep the tail: the cause of a failure is printed last.
    child.stderr?.on("data", (chunk) => (stderr = (stderr + chunk).slice(-8000)));
    return new Promise((resolve) => {
        child.once("error", (err) => {
            if (child.pid === undefined) resolve({ label, code: -1, signal: null, stderr: `could not be started: ${err.message}` });
        });
        child.once("close", (code, signal) => resolve({ label, code: code ?? -1, signal, stderr }));
    });
}

/** A program that failed only because its partner had already gone (EPIPE, or a reset of the pipe). */
function metBrokenPipe(end: Ending): boolean {
    return end.signal === "SIGPIPE" || /Broken pipe|Connection reset by peer|EPIPE/i.test(end.stderr);
}

function describeFailure(end: Ending, redact: (text: string) => string): string {
    const said = redact(end.stderr.trim());
    if (end.signal !== null) return `${end.label} was killed by ${end.signal}${said === "" ? "" : `: ${said}`}`;
    if (end.code === -1) return `${end.label} ${said}`;
    return `${end.label} exited ${end.code}: ${said}`;
}
