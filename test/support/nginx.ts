import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import { readConfigFingerprint } from "../../core/nginxConfig";
import { atTestEnd, isRoot, run, tempDir } from "./processes";

export { failed, failuresByMethod, percentServedBy, sendRequests, tally } from "./httpLoad";
export type { LoadMethod, LoadOptions, Outcome } from "./httpLoad";

export const NGINX_BINARY = "/usr/sbin/nginx";
const ACCESS_LOG_WAIT_MS = 2000;

/** A real nginx serving a generated config from its own temporary prefix. */
export interface TestNginx {
    readonly prefix: string;
    readonly configPath: string;
    readonly accessLogPath: string;
    readonly errorLogPath: string;
    /**
     * Writes `config`, checks it (`nginx -t`), signals a reload and resolves once the new config
     * answers and no old worker accepts connections any more; returns the milliseconds that took.
     */
    reload(config: string): Promise<number>;
    /** Lines of the access log written so far. */
    accessLog(): string[];
    /**
     * The lines after the first `start`, once there are `expected` of them (or after 2 s): nginx
     * writes a request's line just after the answer's last byte, so the client may see it first.
     */
    accessLogSince(start: number, expected: number): Promise<string[]>;
    stop(): Promise<void>;
}

/** Where a test nginx keeps its logs and buffers; pass these into the router spec. */
export interface NginxPaths {
    readonly prefix: string;
    readonly accessLogPath: string;
    readonly tempDirectory: string;
}

export async function nginxPaths(): Promise<NginxPaths> {
    const prefix = await tempDir("safe-release-nginx-");
    const tempDirectory = path.join(prefix, "temp");
    fs.mkdirSync(tempDirectory);
    return { prefix, accessLogPath: path.join(prefix, "access.log"), tempDirectory };
}

function globalDirectives(prefix: string): string {
    // Workers stay root so they can write the temp prefix that a root test created.
    const user = isRoot() ? " user root;" : "";
    return `daemon off; pid ${path.join(prefix, "nginx.pid")}; error_log ${path.join(prefix, "error.log")} notice;${user}`;
}

/** GET `http://127.0.0.1:<statusPort><healthPath>` on a fresh connection; the body's `config` field, or undefined when not answering. */
export function statusFingerprint(statusPort: number, healthPath = "/healthz"): Promise<string | undefined> {
    return new Promise((resolve) => {
        const request = http.get({ host: "127.0.0.1", port: statusPort, path: healthPath, agent: false }, (response) => {
            let body = "";
            response.on("data", (chunk) => (body += chunk));
            response.on("end", () => {
                try {
                    resolve(response.statusCode === 200 ? JSON.parse(body).config : undefined);
                } catch {
                    resolve(undefined);
                }
            });
        });
        request.on("error", () => resolve(undefined));
        request.setTimeout(1000, () => request.destroy());
    });
}

async function waitForFingerprint(statusPort: number, fingerprint: string, child: ChildProcess, deadlineMs: number): Promise<void> {
    const deadline = Date.now() + deadlineMs;
    for (;;) {
        if (child.exitCode !== null) throw new Error(`nginx exited ${child.exitCode} before serving config ${fingerprint}`);
        if ((await statusFingerprint(statusPort)) === fingerprint) return;
        if (Date.now() > deadline) throw new Error(`nginx did not serve config ${fingerprint} within ${deadlineMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 5));
    }
}

/**
 * Starts nginx in the foreground with `config` (rendered with `paths`), waits until its
 * status port reports that config's fingerprint, and stops it when the test run ends.
 */
export async function startNginx(config: string, paths: NginxPaths, statusPort: number): Promise<TestNginx> {
    const { prefix, accessLogPath } = paths;
    const configPath = path.join(prefix, "nginx.conf");
    const errorLogPath = path.join(prefix, "error.log");
    const baseArgs = ["-p", prefix, "-c", configPath, "-g", globalDirectives(prefix)];
    fs.writeFileSync(configPath, config);
    await run(NGINX_BINARY, ["-t", "-q", ...baseArgs]);
    const child = spawn(NGINX_BINARY, baseArgs, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (chunk) => (stderr += chunk));
    const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
    let stopped: Promise<void> | undefined;
    const stop = () => {
        stopped ??= (async () => {
            if (child.exitCode === null && child.signalCode === null) {
                child.kill("SIGQUIT");
                const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
                await exited;
                clearTimeout(timer);
            }
            fs.rmSync(prefix, { recursive: true, force: true });
        })();
        return stopped;
    };
    atTestEnd(stop);
    const accessLog = () =>
        readIfExists(accessLogPath)
            .split("\n")
            .filter((line) => line !== "");
    try {
        await waitForFingerprint(statusPort, readConfigFingerprint(config), child, 5000);
    } catch (err) {
        await stop();
        throw new Error(`${(err as Error).message}: ${stderr.trim()} ${readIfExists(errorLogPath).trim()}`);
    }
    return {
        prefix,
        configPath,
        accessLogPath,
        errorLogPath,
        async reload(newConfig: string): Promise<number> {
            const oldWorkers = workersOf(child.pid!);
            const started = process.hrtime.bigint();
            fs.writeFileSync(configPath, newConfig);
            // A config nginx refuses would leave the old one serving; fail here with nginx's own words.
            await run(NGINX_BINARY, ["-t", "-q", ...baseArgs]);
            await run(NGINX_BINARY, [...baseArgs, "-s", "reload"]);
            await waitForFingerprint(statusPort, readConfigFingerprint(newConfig), child, 5000);
            await waitUntilRetired(oldWorkers, 5000);
            return Number(process.hrtime.bigint() - started) / 1e6;
        },
        accessLog,
        async accessLogSince(start: number, expected: number): Promise<string[]> {
            const deadline = Date.now() + ACCESS_LOG_WAIT_MS;
            while (accessLog().length < start + expected && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
            return accessLog().slice(start);
        },
        stop,
    };
}

/** Process ids of nginx workers under `masterPid` that still accept connections. */
function workersOf(masterPid: number): number[] {
    return fs
        .readdirSync("/proc")
        .filter((entry) => /^\d+$/.test(entry))
        .map(Number)
        .filter((pid) => {
            const stat = readIfExists(`/proc/${pid}/stat`);
            // Fields after the parenthesised command: state, then the parent's pid.
            const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
            return parent === masterPid && readIfExists(`/proc/${pid}/cmdline`).startsWith("nginx: worker process\0");
        });
}

/**
 * The master starts the new workers, sleeps 100 ms, and only then tells the old ones to quit;
 * until an old worker retitles itself "worker process is shutting down" (it closes its listening
 * sockets at that moment) it may still take new connections under the old weights.
 */
async function waitUntilRetired(workers: readonly number[], deadlineMs: number): Promise<void> {
    const deadline = Date.now() + deadlineMs;
    const accepting = (pid: number) => readIfExists(`/proc/${pid}/cmdline`).startsWith("nginx: worker process\0");
    while (workers.some(accepting)) {
        if (Date.now() > deadline)
            throw new Error(`old nginx workers ${workers.filter(accepting).join(", ")} still accept after ${deadlineMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 2));
    }
}

/** The file's text, or "" when it is missing or vanishes while read (a /proc entry of a process that exits). */
function readIfExists(file: string): string {
    try {
        return fs.readFileSync(file, "utf8");
    } catch (err) {
        if (["ENOENT", "ESRCH"].includes((err as NodeJS.ErrnoException).code ?? "")) return "";
        throw err;
    }
}
