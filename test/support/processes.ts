import { spawn, SpawnOptions } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";

/** Runs a program to completion; rejects with its stderr when it exits non-zero. */
export function run(
    command: string,
    args: string[],
    options: SpawnOptions & { input?: string } = {},
): Promise<{ stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
        const hasInput = options.input !== undefined;
        const child = spawn(command, args, { ...options, stdio: [hasInput ? "pipe" : "ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout!.on("data", (chunk) => (stdout += chunk));
        child.stderr!.on("data", (chunk) => (stderr += chunk));
        child.on("error", reject);
        child.on("close", (code) => {
            if (code === 0) resolve({ stdout, stderr });
            else reject(new Error(`${command} ${args.join(" ")} exited ${code}: ${stderr.trim()}`));
        });
        if (hasInput) {
            // A program that exits before reading its input must not crash the test run with EPIPE.
            child.stdin!.on("error", () => undefined);
            child.stdin!.end(options.input);
        }
    });
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.unref();
        server.on("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const { port } = server.address() as net.AddressInfo;
            server.close(() => resolve(port));
        });
    });
}

/**
 * The first of `count` consecutive loopback ports that are free now, for a server that
 * takes a run of ports (a router and its status and hop ports). Picked below the
 * kernel's ephemeral range: a port from that range, free when checked, can be taken
 * by any outgoing connection before the server binds it, seconds later.
 */
export async function freePortRun(count: number): Promise<number> {
    const range = fs.readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
    const below = Math.min(range[0] ?? 32768, 32768);
    for (let attempt = 0; attempt < 200; attempt++) {
        const start = 10000 + Math.floor(Math.random() * (below - 10000 - count));
        const free = await Promise.all(Array.from({ length: count }, (_, i) => canListen(start + i)));
        if (free.every(Boolean)) return start;
    }
    throw new Error(`no ${count} consecutive free ports between 10000 and ${below}`);
}

function canListen(port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const server = net.createServer();
        server.once("error", () => resolve(false));
        server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });
}

/** True when this process runs as root, where servers such as PostgreSQL must be started as another user. */
export function isRoot(): boolean {
    return typeof process.getuid === "function" && process.getuid() === 0;
}

/**
 * A fresh temporary directory. When running as root it is handed to `owner`,
 * so a server that refuses root can write there.
 */
export async function tempDir(prefix: string, owner?: string): Promise<string> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    if (owner && isRoot()) {
        await run("chown", [owner, dir]);
        fs.chmodSync(dir, 0o700);
    }
    return dir;
}

const cleanups: Array<() => Promise<void>> = [];

/** Registers work that the root `afterAll` hook runs once every test file is done. */
export function atTestEnd(cleanup: () => Promise<void>): void {
    cleanups.push(cleanup);
}

export async function runTestEndCleanups(): Promise<void> {
    while (cleanups.length > 0) {
        await cleanups.pop()!().catch((err) => console.error(`cleanup failed: ${err.message}`));
    }
}
