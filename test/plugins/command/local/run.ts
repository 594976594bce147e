import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import { exitCause, failureMessage, goQuote, maskSecrets, trimOutput } from "../output";
import { commandArgv, commandEnvironment, loggedStreams, PreviousOutput } from "./environment";
import { LocalCommandInputs } from "./inputs";

export interface LocalRun {
    readonly command: string;
    readonly inputs: LocalCommandInputs;
    /** The previous create/update's output, for `PULUMI_COMMAND_STDOUT`/`STDERR`. */
    readonly previous: PreviousOutput;
    /** Where logged lines go (the engine's log, as ephemeral info for the resource). */
    readonly log: (line: string) => void;
    /** Secret input values, masked in logged lines and in the failure message. */
    readonly secrets: readonly string[];
}

export interface CommandOutput {
    readonly stdout: string;
    readonly stderr: string;
}

/** Processes still running, so a cancelled update (Ctrl-C) ends them as upstream's cancelled context does. */
const running = new Set<ChildProcess>();

export function killRunningCommands(): void {
    for (const child of running) child.kill("SIGKILL");
}

/**
 * Runs one command as upstream's `run` does: `interpreter` + command in `dir`
 * (the plugin's cwd, which is the program's directory, when unset), `stdin` when
 * non-empty, both streams captured whole and logged line by line as `logging` says.
 * Resolves with the trimmed output; rejects with upstream's message when the
 * command cannot start or does not exit 0.
 */
export function runLocalCommand(run: LocalRun): Promise<CommandOutput> {
    const { command, inputs } = run;
    // Masked part by part as well as whole: quoting the command could otherwise hide a secret from the mask.
    const mask = (part: string) => maskSecrets(part, run.secrets);
    const fail = (cause: string, combined: string) => new Error(mask(failureMessage(mask(cause), mask(command), mask(combined))));
    const cwd = inputs.dir ?? process.cwd();
    const dirProblem = directoryProblem(cwd);
    if (dirProblem !== undefined) return Promise.reject(fail(`chdir ${cwd}: ${dirProblem}`, ""));

    const [program, ...args] = commandArgv(command, inputs.interpreter);
    const hasStdin = inputs.stdin !== undefined && inputs.stdin.length > 0;
    return new Promise((resolve, reject) => {
        const child = spawn(program, args, {
            cwd,
            env: commandEnvironment(process.env, inputs, run.previous),
            stdio: [hasStdin ? "pipe" : "ignore", "pipe", "pipe"],
        });
        running.add(child);
        const stdout: Buffer[] = [];
        const stderr: Buffer[] = [];
        const combined: Buffer[] = [];
        const logged = loggedStreams(inputs.logging);
        const logLine = (line: string) => run.log(maskSecrets(line, run.secrets));
        const stdoutLines = new LineSplitter(logged.stdout ? logLine : undefined);
        const stderrLines = new LineSplitter(logged.stderr ? logLine : undefined);
        child.stdout!.on("data", (chunk: Buffer) => (stdout.push(chunk), combined.push(chunk), stdoutLines.push(chunk)));
        child.stderr!.on("data", (chunk: Buffer) => (stderr.push(chunk), combined.push(chunk), stderrLines.push(chunk)));
        child.on("error", (err: NodeJS.ErrnoException) => {
            running.delete(child);
            reject(fail(startFailure(program, err), ""));
        });
        child.on("close", (code, signal) => {
            running.delete(child);
            stdoutLines.end();
            stderrLines.end();
            if (code === 0) {
                resolve({ stdout: trimOutput(text(stdout)), stderr: trimOutput(text(stderr)) });
            } else if (code !== null || signal !== null) {
                reject(fail(exitCause(code, signal), text(combined)));
            }
        });
        if (hasStdin) {
            // Like Go's exec, a command that exits without reading its input is not an error.
            child.stdin!.on("error", () => undefined);
            child.stdin!.end(inputs.stdin);
        }
    });
}

function directoryProblem(dir: string): string | undefined {
    try {
        return fs.statSync(dir).isDirectory() ? undefined : "not a directory";
    } catch {
        return "no such file or directory";
    }
}

/** Go's text for a program that could not start. */
function startFailure(program: string, err: NodeJS.ErrnoException): string {
    if (err.code === "ENOENT" && !program.includes("/")) return `exec: ${goQuote(program)}: executable file not found in $PATH`;
    const reason = err.code === "ENOENT" ? "no such file or directory" : err.code === "EACCES" ? "permission denied" : err.message;
    return `fork/exec ${program}: ${reason}`;
}

function text(chunks: Buffer[]): string {
    return Buffer.concat(chunks).toString("utf8");
}

/** Splits a byte stream into lines (without `\n` or `\r\n`), as Go's `bufio.Scanner` does. */
class LineSplitter {
    private pending = Buffer.alloc(0);

    constructor(private readonly emit: ((line: string) => void) | undefined) {}

    push(chunk: Buffer): void {
        if (this.emit === undefined) return;
        this.pending = Buffer.concat([this.pending, chunk]);
        let newline: number;
        while ((newline = this.pending.indexOf(0x0a)) >= 0) {
            this.emit(stripCarriageReturn(this.pending.subarray(0, newline).toString("utf8")));
            this.pending = this.pending.subarray(newline + 1);
        }
    }

    end(): void {
        if (this.emit !== undefined && this.pending.length > 0) this.emit(stripCarriageReturn(this.pending.toString("utf8")));
        this.pending = Buffer.alloc(0);
    }
}

function stripCarriageReturn(line: string): string {
    return line.endsWith("\r") ? line.slice(0, -1) : line;
}
