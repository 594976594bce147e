import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";

/** How the ops programs reach the service manager; the same flags for every `host-*` command. */
export interface ManagerOptions {
    readonly manager: "supervisord" | "systemd";
    readonly supervisorctl: string;
    readonly supervisorConfig: string;
    /** Where program sections (supervisord) or units (systemd) are written. */
    readonly dir: string;
}

export class ServiceError extends Error {}

/** Runs a program and collects its output; resolves with the exit code (never rejects for a non-zero one). */
export function exec(command: string, args: string[], timeoutMs = 60_000): Promise<{ code: number; output: string }> {
    return new Promise((resolve, reject) => {
        const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
        let output = "";
        const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
        child.stdout.on("data", (chunk) => (output += chunk));
        child.stderr.on("data", (chunk) => (output += chunk));
        child.on("error", (err: NodeJS.ErrnoException) => {
            clearTimeout(timer);
            reject(err.code === "ENOENT" ? new ServiceError(missingTool(command)) : err);
        });
        child.on("close", (code) => {
            clearTimeout(timer);
            resolve({ code: code ?? 1, output: output.trim() });
        });
    });
}

function missingTool(command: string): string {
    const name = path.basename(command);
    const pkg = name.startsWith("supervisor")
        ? "supervisor"
        : name === "nginx"
          ? "nginx-light"
          : name === "systemctl"
            ? "systemd"
            : undefined;
    return `${command} is not installed${pkg !== undefined ? `: install the Debian package \`${pkg}\` (apt-get install ${pkg})` : ""}`;
}

function ctl(options: ManagerOptions, args: string[]): Promise<{ code: number; output: string }> {
    return exec(options.supervisorctl, ["-c", options.supervisorConfig, ...args]);
}

async function must(run: Promise<{ code: number; output: string }>, what: string): Promise<string> {
    const { code, output } = await run;
    if (code !== 0) throw new ServiceError(`${what} failed (exit ${code}): ${output}`);
    return output;
}

/** Writes a file by rename, so a reader never sees half of it; `mode` applies before any byte is written. */
export function writeAtomically(file: string, text: string, mode = 0o644): void {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const staging = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
    fs.writeFileSync(staging, text, { mode });
    fs.chmodSync(staging, mode);
    fs.renameSync(staging, file);
}

export function definitionPath(options: ManagerOptions, program: string): string {
    return path.join(options.dir, options.manager === "supervisord" ? `${program}.conf` : program);
}

/** Loads changed definitions and starts or restarts the named program (supervisord `reread` + `update <name>`). */
export async function applyDefinitions(options: ManagerOptions, program: string): Promise<void> {
    if (options.manager === "supervisord") {
        await must(ctl(options, ["reread"]), `\`${options.supervisorctl} reread\``);
        const output = await must(ctl(options, ["update", program]), `\`${options.supervisorctl} update ${program}\``);
        if (/ERROR/.test(output)) throw new ServiceError(`\`${options.supervisorctl} update ${program}\` failed: ${output}`);
        return;
    }
    await must(exec("systemctl", ["daemon-reload"]), "`systemctl daemon-reload`");
    await must(exec("systemctl", ["restart", program]), `\`systemctl restart ${program}\``);
}

/**
 * Restarts (or starts) a program whose definition did not change: the manager
 * then neither restarts it for a new env file nor starts it after a quiesce.
 */
export async function restartProgram(options: ManagerOptions, program: string): Promise<void> {
    if (options.manager === "systemd") {
        await must(exec("systemctl", ["restart", program]), `\`systemctl restart ${program}\``);
        return;
    }
    const output = await must(ctl(options, ["restart", program]), `\`${options.supervisorctl} restart ${program}\``);
    if (/ERROR/.test(output)) throw new ServiceError(`\`${options.supervisorctl} restart ${program}\` failed: ${output}`);
}

/** Stops the program and forgets it: its definition is removed, then the manager updated. */
export async function removeProgram(options: ManagerOptions, program: string): Promise<void> {
    if (options.manager === "systemd") {
        await exec("systemctl", ["stop", program]);
        return;
    }
    fs.rmSync(definitionPath(options, program), { force: true });
    await must(ctl(options, ["reread"]), `\`${options.supervisorctl} reread\``);
    await must(ctl(options, ["update", program]), `\`${options.supervisorctl} update ${program}\``);
}

/** `RUNNING`, `STARTING`, `BACKOFF`, `FATAL`… as supervisord reports it (systemd: `active`, `failed`…). */
export async function programState(options: ManagerOptions, program: string): Promise<string> {
    if (options.manager === "systemd") return (await exec("systemctl", ["is-active", program])).output;
    const { output } = await ctl(options, ["status", program]);
    return /^\S+\s+(\S+)/.exec(output)?.[1] ?? output;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface HealthWait {
    readonly program: string;
    /** How messages name the program (with its version, say). @default program */
    readonly label?: string;
    /** `http://127.0.0.1:<port><healthPath>` of a web program; a worker only has to stay running. */
    readonly url?: string;
    /** A response body must contain this (the router's config fingerprint). */
    readonly expect?: string;
    readonly timeoutMs: number;
}

/**
 * Waits until the program runs (supervisord counts `startsecs` before it says
 * RUNNING) and, for a web program, answers its health URL with 200. A program
 * that gives up (FATAL, failed) fails at once; silence fails at the deadline.
 */
export async function waitHealthy(options: ManagerOptions, wait: HealthWait): Promise<void> {
    const deadline = Date.now() + wait.timeoutMs;
    const label = wait.label ?? wait.program;
    let last = "no answer yet";
    while (Date.now() < deadline) {
        const state = await programState(options, wait.program);
        if (state === "FATAL" || state === "failed" || state === "EXITED") {
            throw new ServiceError(`${label} did not start: ${options.manager} reports ${state}; see its log`);
        }
        if (state === "RUNNING" || state === "active") {
            if (wait.url === undefined) return;
            last = await probe(wait.url, wait.expect);
            if (last === "ok") return;
        } else last = `${options.manager} reports ${state}`;
        await sleep(200);
    }
    const target = wait.url !== undefined ? `answer ${wait.url} with 200` : "run";
    throw new ServiceError(`${label} did not ${target} within ${Math.round(wait.timeoutMs / 1000)}s (last: ${last})`);
}

async function probe(url: string, expect: string | undefined): Promise<string> {
    try {
        const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
        const body = await response.text();
        if (response.status !== 200) return `HTTP ${response.status}`;
        if (expect !== undefined && !body.includes(expect)) return `the answer does not carry ${expect} yet`;
        return "ok";
    } catch (err) {
        const cause = (err as { cause?: { code?: string } }).cause?.code;
        return cause ?? (err as Error).message;
    }
}
