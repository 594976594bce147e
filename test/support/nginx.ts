import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import { readConfigFingerprint } from "../../components/dockerHost/nginxConfig";
import { atTestEnd, isRoot, run, tempDir } from "./processes";

export const NGINX_BINARY = "/usr/sbin/nginx";

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
        accessLog: () =>
            readIfExists(accessLogPath)
                .split("\n")
                .filter((line) => line !== ""),
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

/**
 * One request's outcome: the answer, or the client-side error (reset, refused …).
 * `retried` marks a GET sent a second time because the connection closed before any byte of an
 * answer: an idle keep-alive connection, or a fresh one, closed unread by a worker that a reload
 * retires. HTTP lets clients resend idempotent requests then, and browsers and proxies do.
 */
export type Outcome =
    | {
          readonly status: number;
          readonly body: string;
          readonly version: string | undefined;
          readonly retried: boolean;
          readonly error?: undefined;
      }
    | { readonly error: string };

export interface LoadOptions {
    readonly port: number;
    /** Requests to send in all; the run ends earlier once `stop()` returns true. */
    readonly count: number;
    readonly concurrency: number;
    readonly path?: string;
    readonly headers?: Readonly<Record<string, string>>;
    /** Keep-alive connections reused across requests, like a browser or a load balancer. */
    readonly agent: http.Agent;
    readonly stop?: () => boolean;
}

const RESEND_DELAY_MS = 20;

function getOnce(options: LoadOptions, retried = false): Promise<Outcome> {
    return new Promise((resolve) => {
        let answered = false;
        const request = http.get(
            { host: "127.0.0.1", port: options.port, path: options.path ?? "/", headers: options.headers, agent: options.agent },
            (response) => {
                answered = true;
                let body = "";
                response.setEncoding("utf8");
                response.on("data", (chunk) => (body += chunk));
                response.on("end", () => {
                    const version = response.headers["x-release-version"];
                    resolve({
                        status: response.statusCode ?? 0,
                        body,
                        version: typeof version === "string" ? version : undefined,
                        retried,
                    });
                });
                response.on("error", (err) => resolve({ error: err.message }));
            },
        );
        request.on("error", (err: NodeJS.ErrnoException) => {
            const closedUnanswered = !answered && (err.code === "ECONNRESET" || err.message === "socket hang up");
            // A short pause lets the retiring worker finish closing its listeners before the resend.
            if (closedUnanswered && !retried) setTimeout(() => void getOnce(options, true).then(resolve), RESEND_DELAY_MS);
            else resolve({ error: err.message });
        });
        request.setTimeout(5000, () => request.destroy(new Error("request timed out after 5000 ms")));
    });
}

/** Sends up to `count` GETs over `concurrency` parallel loops; outcomes in completion order. */
export async function sendRequests(options: LoadOptions): Promise<Outcome[]> {
    const outcomes: Outcome[] = [];
    let issued = 0;
    const loop = async () => {
        while (issued < options.count && !(options.stop?.() ?? false)) {
            issued += 1;
            outcomes.push(await getOnce(options));
        }
    };
    await Promise.all(Array.from({ length: options.concurrency }, loop));
    return outcomes;
}

/** How many outcomes carry each answer body (the backend's name) or error; keys sorted. */
export function tally(outcomes: readonly Outcome[]): Record<string, number> {
    const counts = new Map<string, number>();
    for (const outcome of outcomes) {
        const key = outcome.error !== undefined ? `error: ${outcome.error}` : `${outcome.status} ${outcome.body}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    return Object.fromEntries([...counts.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Percent of outcomes answered 200 by the backend named `body`. */
export function percentServedBy(outcomes: readonly Outcome[], body: string): number {
    const served = outcomes.filter((outcome) => outcome.error === undefined && outcome.status === 200 && outcome.body === body).length;
    return (100 * served) / outcomes.length;
}
