import { Client, ClientChannel } from "ssh2";
import { failureMessage, maskSecrets, trimOutput } from "../output";
import { loggedStreams, PREVIOUS_STDERR_VARIABLE, PREVIOUS_STDOUT_VARIABLE, PreviousOutput } from "../local/environment";
import { CommandOutput } from "../local/run";
import { connectionSecrets, dial } from "./connection";
import { RemoteCommandInputs } from "./inputs";

export interface RemoteRun {
    readonly command: string;
    readonly inputs: RemoteCommandInputs;
    readonly previous: PreviousOutput;
    readonly log: (line: string) => void;
    /** Secret input values besides the connection's credentials, masked in log lines and failures. */
    readonly secrets: readonly string[];
}

/** Connections with a command still running, so a cancelled update ends them. */
const open = new Set<Client>();

export function closeRemoteConnections(): void {
    for (const client of open) client.destroy();
}

/**
 * The environment sent with SSH `setenv`, as upstream does: `environment`, then
 * the previous run's output as `PULUMI_COMMAND_STDOUT`/`STDERR` when non-empty.
 * Nothing of the plugin's own environment goes along. The server keeps only the
 * names its `AcceptEnv` lists; `ssh2` does not ask for a reply, so a refused
 * variable is absent on the remote rather than an error here (upstream fails the
 * step with "could not set environment variable"): the ops programs check for
 * the variables they need and name the `AcceptEnv` line.
 */
export function remoteEnvironment(inputs: Pick<RemoteCommandInputs, "environment" | "addPreviousOutputInEnv">, previous: PreviousOutput) {
    const env: Record<string, string> = { ...(inputs.environment ?? {}) };
    if (inputs.addPreviousOutputInEnv ?? true) {
        if (previous.stdout !== "") env[PREVIOUS_STDOUT_VARIABLE] = previous.stdout;
        if (previous.stderr !== "") env[PREVIOUS_STDERR_VARIABLE] = previous.stderr;
    }
    return env;
}

/**
 * Runs one command in a new session of a new connection: the remote user's
 * login shell runs it (SSH `exec`), `stdin` is sent then closed, both streams
 * are captured whole and logged line by line as `logging` says. Rejects with
 * upstream's message (`Process exited with status 2: running "…":\n<output>`).
 */
export async function runRemoteCommand(run: RemoteRun): Promise<CommandOutput> {
    const secrets = [...run.secrets, ...connectionSecrets(run.inputs.connection)];
    const mask = (text: string) => maskSecrets(text, secrets);
    const fail = (cause: string, combined: string) => new Error(mask(failureMessage(mask(cause), mask(run.command), mask(combined))));
    let client: Client;
    try {
        client = await dial(run.inputs.connection, (line) => run.log(mask(line)));
    } catch (err) {
        throw new Error(mask((err as Error).message));
    }
    open.add(client);
    try {
        const channel = await new Promise<ClientChannel>((resolve, reject) =>
            client.exec(run.command, { env: remoteEnvironment(run.inputs, run.previous) }, (err, ch) => (err ? reject(err) : resolve(ch))),
        ).catch((err: Error) => {
            throw fail(`ssh: ${err.message}`, "");
        });
        return await collect(channel, run, mask, fail);
    } finally {
        open.delete(client);
        client.end();
    }
}

function collect(
    channel: ClientChannel,
    run: RemoteRun,
    mask: (text: string) => string,
    fail: (cause: string, combined: string) => Error,
): Promise<CommandOutput> {
    return new Promise((resolve, reject) => {
        const stdout: Buffer[] = [];
        const stderr: Buffer[] = [];
        const combined: Buffer[] = [];
        const logged = loggedStreams(run.inputs.logging);
        const logLine = (line: string) => run.log(mask(line));
        const outLines = lineSplitter(logged.stdout ? logLine : undefined);
        const errLines = lineSplitter(logged.stderr ? logLine : undefined);
        let exit: { code?: number; signal?: string } | undefined;
        channel.on("data", (chunk: Buffer) => (stdout.push(chunk), combined.push(chunk), outLines.push(chunk)));
        channel.stderr.on("data", (chunk: Buffer) => (stderr.push(chunk), combined.push(chunk), errLines.push(chunk)));
        channel.on("exit", (code: number | null, signal?: string) => {
            exit = code !== null && code !== undefined ? { code } : { signal: signal ?? "" };
        });
        channel.on("close", () => {
            outLines.end();
            errLines.end();
            const text = (chunks: Buffer[]) => Buffer.concat(chunks).toString("utf8");
            if (exit?.code === 0) resolve({ stdout: trimOutput(text(stdout)), stderr: trimOutput(text(stderr)) });
            else reject(fail(exitCause(exit), text(combined)));
        });
        // Go's session with no stdin sends an empty one: the command sees end of input at once.
        channel.end(run.inputs.stdin !== undefined && run.inputs.stdin.length > 0 ? run.inputs.stdin : undefined);
    });
}

/** Go's `*ssh.ExitError` / `*ssh.ExitMissingError` text. */
function exitCause(exit: { code?: number; signal?: string } | undefined): string {
    if (exit === undefined) return "wait: remote command exited without exit status or exit signal";
    if (exit.code !== undefined) return `Process exited with status ${exit.code}`;
    return `Process exited with status 0 from signal ${exit.signal}`;
}

/** Splits a byte stream into lines without `\n` or `\r\n`, as Go's `bufio.Scanner` does. */
function lineSplitter(emit: ((line: string) => void) | undefined) {
    let pending = Buffer.alloc(0);
    const strip = (line: string) => (line.endsWith("\r") ? line.slice(0, -1) : line);
    return {
        push(chunk: Buffer) {
            if (emit === undefined) return;
            pending = Buffer.concat([pending, chunk]);
            let newline: number;
            while ((newline = pending.indexOf(0x0a)) >= 0) {
                emit(strip(pending.subarray(0, newline).toString("utf8")));
                pending = pending.subarray(newline + 1);
            }
        },
        end() {
            if (emit !== undefined && pending.length > 0) emit(strip(pending.toString("utf8")));
            pending = Buffer.alloc(0);
        },
    };
}
