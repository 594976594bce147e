import { spawn } from "child_process";
import { Writable } from "stream";
import { envRedactor } from "./mask";

/**
 * The AWS CLI v2, driven as a child process: the ops programs carry no SDK, and the
 * operator's own credentials chain (profile, SSO, instance role) applies unchanged.
 * Region and profile travel in the environment (`AWS_REGION`, `AWS_PROFILE`), never
 * as arguments, and nothing secret is ever put on its command line.
 */
export const AWS_CLI_VARIABLE = "SAFE_RELEASE_AWS_CLI";

/** The program to run: `SAFE_RELEASE_AWS_CLI` when set, else `aws` from PATH. */
export function awsProgram(env: NodeJS.ProcessEnv): string {
    const configured = env[AWS_CLI_VARIABLE];
    return configured !== undefined && configured !== "" ? configured : "aws";
}

/** Every call asks for JSON; `--output` is the CLI's global option, so it goes last. */
export function awsArgv(args: readonly string[]): string[] {
    return [...args, "--output", "json"];
}

/**
 * The CLI's environment: the caller's, with the pager off (v2 would otherwise hold
 * its output for `less` when a terminal is attached) and, when given, the region of
 * one call (a log group may live in another region than the cluster).
 */
export function awsEnv(env: NodeJS.ProcessEnv, region?: string): NodeJS.ProcessEnv {
    return { ...env, AWS_PAGER: "", ...(region !== undefined ? { AWS_REGION: region } : {}) };
}

/** A call that ran and failed (the CLI's own exit status and its last error line), or could not start. */
export class AwsCliError extends Error {
    constructor(
        message: string,
        readonly exitCode: number | null,
    ) {
        super(message);
    }
}

/** The last non-empty line of the CLI's stderr: `An error occurred (X) when calling the Y operation: …`. */
export function lastErrorLine(stderr: string): string {
    const lines = stderr
        .split("\n")
        .map((line) => line.trim())
        .filter((line) => line !== "");
    return lines.length > 0 ? lines[lines.length - 1] : "no error text";
}

export interface AwsCallOptions {
    /** Overrides the region for this one call. */
    readonly region?: string;
    /** For `aws s3 …`, which prints text, not JSON: resolve with stdout as it is. */
    readonly text?: boolean;
}

/** Runs `aws <args> --output json` and parses its stdout; empty output is `{}`. */
export function callAws(args: readonly string[], env: NodeJS.ProcessEnv, options: AwsCallOptions = {}): Promise<unknown> {
    const program = awsProgram(env);
    const redact = envRedactor(env);
    const what = `aws ${args.slice(0, 2).join(" ")}`;
    return new Promise((resolve, reject) => {
        const child = spawn(program, awsArgv(args), { env: awsEnv(env, options.region), stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        let startError: NodeJS.ErrnoException | undefined;
        child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
        child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
        child.on("error", (err: NodeJS.ErrnoException) => (startError = err));
        child.on("close", (code) => {
            if (startError !== undefined) {
                const hint =
                    startError.code === "ENOENT"
                        ? `the AWS CLI v2 (\`${program}\`) was not found; install it or set \`${AWS_CLI_VARIABLE}\` to its path`
                        : `could not start \`${program}\`: ${startError.message}`;
                reject(new AwsCliError(`${what}: ${hint}`, null));
                return;
            }
            if (code !== 0) {
                reject(new AwsCliError(`${what} failed (exit ${code}): ${redact(lastErrorLine(stderr))}`, code));
                return;
            }
            if (options.text === true) {
                resolve(stdout);
                return;
            }
            if (stdout.trim() === "") {
                resolve({});
                return;
            }
            try {
                resolve(JSON.parse(stdout));
            } catch {
                reject(new AwsCliError(`${what} printed output that is not JSON: ${redact(stdout.slice(0, 200))}`, code));
            }
        });
    });
}

export function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Progress lines on stderr, scrubbed of environment secrets. */
export function progress(name: string, stderr: Writable, env: NodeJS.ProcessEnv): (line: string) => void {
    const redact = envRedactor(env);
    return (line) => stderr.write(`${redact(`${name}: ${line}`)}\n`);
}

/** `12s`, `4m05s`: elapsed time as an operator reads it in a progress line. */
export function formatElapsed(ms: number): string {
    const seconds = Math.floor(ms / 1000);
    if (seconds < 60) return `${seconds}s`;
    return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, "0")}s`;
}

/** A field of a JSON object the CLI printed, or undefined when it is absent or not an object. */
export function field(value: unknown, name: string): unknown {
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>)[name] : undefined;
}

export function asArray(value: unknown): unknown[] {
    return Array.isArray(value) ? value : [];
}

export function asString(value: unknown): string | undefined {
    return typeof value === "string" ? value : undefined;
}
