import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
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
    /** Writes `config`, signals a reload and resolves once the new config answers; returns the milliseconds that took. */
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
            const started = process.hrtime.bigint();
            fs.writeFileSync(configPath, newConfig);
            await run(NGINX_BINARY, [...baseArgs, "-s", "reload"]);
            await waitForFingerprint(statusPort, readConfigFingerprint(newConfig), child, 5000);
            return Number(process.hrtime.bigint() - started) / 1e6;
        },
        accessLog: () => readIfExists(accessLogPath).split("\n").filter((line) => line !== ""),
        stop,
    };
}

function readIfExists(file: string): string {
    return fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
}

/** Resolves once something accepts TCP connections on 127.0.0.1:`port`. */
export function canConnect(port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const socket = net.connect({ host: "127.0.0.1", port }, () => {
            socket.destroy();
            resolve(true);
        });
        socket.on("error", () => resolve(false));
    });
}
