import { spawn } from "child_process";
import { Readable } from "stream";

export const TAIL_LINES = 50;
/** A single runaway line (a minified stack trace) must not fill the ledger row. */
export const MAX_LINE_LENGTH = 2000;
/** Output without a newline is still shown once this much has accumulated. */
const MAX_PENDING = 64 * 1024;

/** The last `limit` lines seen, each cut to `maxLineLength` characters. */
export class LineTail {
    private readonly kept: string[] = [];

    constructor(
        readonly limit = TAIL_LINES,
        readonly maxLineLength = MAX_LINE_LENGTH,
    ) {}

    push(line: string): void {
        this.kept.push(line.length > this.maxLineLength ? `${line.slice(0, this.maxLineLength - 1)}…` : line);
        if (this.kept.length > this.limit) this.kept.shift();
    }

    lines(): string[] {
        return [...this.kept];
    }
}

/** Turns chunks into whole lines (without `\n` or a trailing `\r`), holding back an unfinished one. */
export class LineSplitter {
    private pending = "";

    push(chunk: string): string[] {
        const parts = (this.pending + chunk).split("\n");
        this.pending = parts.pop()!;
        if (this.pending.length > MAX_PENDING) {
            parts.push(this.pending);
            this.pending = "";
        }
        return parts.map((line) => line.replace(/\r$/, ""));
    }

    /** The unfinished last line, if any, once the stream has ended. */
    end(): string[] {
        const rest = this.pending;
        this.pending = "";
        return rest === "" ? [] : [rest.replace(/\r$/, "")];
    }
}

export interface RunnerResult {
    /** False when the program could not be started at all (so it cannot have touched anything). */
    readonly started: boolean;
    readonly exitCode: number | null;
    readonly signal: NodeJS.Signals | null;
    /** Why it could not start, e.g. `spawn docker ENOENT`. */
    readonly startError?: string;
}

/**
 * Runs `argv` with `env` and hands every output line (stdout and stderr, in arrival
 * order) to `onLine`. Lines are passed whole so the caller can redact a secret that
 * a chunk boundary would otherwise split.
 */
export function runProgram(argv: readonly string[], env: NodeJS.ProcessEnv, onLine: (line: string) => void): Promise<RunnerResult> {
    return new Promise((resolve) => {
        let started = false;
        let startError: string | undefined;
        const child = spawn(argv[0], argv.slice(1), { env, stdio: ["ignore", "pipe", "pipe"] });
        child.on("spawn", () => (started = true));
        child.on("error", (err) => (startError = err.message));
        const pipe = (stream: Readable): void => {
            const splitter = new LineSplitter();
            stream.setEncoding("utf8");
            stream.on("data", (chunk: string) => splitter.push(chunk).forEach(onLine));
            stream.on("end", () => splitter.end().forEach(onLine));
        };
        pipe(child.stdout!);
        pipe(child.stderr!);
        // `close` waits for both pipes to drain, so no line arrives after the result.
        child.on("close", (code, signal) => {
            resolve({ started, exitCode: started ? code : null, signal, ...(startError !== undefined && !started ? { startError } : {}) });
        });
    });
}
