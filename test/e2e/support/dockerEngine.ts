import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { atTestEnd, run, tempDir } from "../../support/processes";

/**
 * A private Docker engine (Debian's `docker.io`) for the end-to-end tests: its
 * own data, exec root, pid file and socket under one temp dir, the `vfs` storage
 * driver (overlayfs is not available here), and a default bridge of its own.
 *
 * Why its own bridge and no iptables: several engines may run at once (one per
 * test run), and dockerd's default `docker0` and its iptables chains are shared
 * by every engine on the host, so one engine stopping would break another. The
 * engine touches no iptables: published ports go through `docker-proxy` on
 * loopback, containers reach each other on their bridge and the host at the
 * bridge's address, and nothing needs NAT because tests reach only loopback.
 */
export interface DockerEngine {
    /** `unix:///tmp/…/docker.sock` */
    readonly host: string;
    /** `process.env` plus `DOCKER_HOST=host`, for any program that runs `docker`. */
    readonly env: NodeJS.ProcessEnv;
    /** IPv4 address of the engine's default bridge: the host as seen from any container of this engine. */
    readonly bridgeGateway: string;
    /** The address pool user-defined networks take their subnets from, e.g. `10.93.0.0/16`; every container address is in it. */
    readonly addressPool: string;
    /** Name of the engine's default bridge interface on the host; removed by `stop`. */
    readonly bridge: string;
    /** The directory holding everything the engine writes; removed by `stop`. */
    readonly rootDir: string;
    /** Process id of dockerd. */
    readonly pid: number;
    /** Runs the docker CLI against this engine; rejects with its stderr when it exits non-zero. */
    docker(args: string[], input?: string): Promise<{ stdout: string; stderr: string }>;
    /** Stops every container, removes the networks, stops dockerd, removes its bridge and dirs. Idempotent. */
    stop(): Promise<void>;
}

const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;

/** Starts an engine; the root test hook stops it if the test does not. */
export async function startDockerEngine(): Promise<DockerEngine> {
    for (const [tool, pkg] of [
        ["dockerd", "docker.io"],
        ["docker", "docker.io"],
        ["ip", "iproute2"],
    ]) {
        if (!commandOnPath(tool)) throw new Error(`\`${tool}\` is not on PATH: install the Debian package \`${pkg}\``);
    }
    const rootDir = await tempDir("sr-dockerd-");
    const socket = path.join(rootDir, "docker.sock");
    const host = `unix://${socket}`;
    const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: host };
    const bridge = await createBridge(rootDir);
    const logPath = path.join(rootDir, "dockerd.log");
    const log = fs.openSync(logPath, "a");
    let child: ChildProcess | undefined;
    let stopped: Promise<void> | undefined;

    const docker = (args: string[], input?: string) => run("docker", args, { env, ...(input !== undefined ? { input } : {}) });

    const stop = (): Promise<void> => {
        stopped ??= (async () => {
            if (child !== undefined && child.exitCode === null && child.signalCode === null) {
                // Containers first: dockerd would leave their shims and mounts behind if killed with them running.
                const ids = (await docker(["ps", "-aq"]).catch(() => ({ stdout: "" }))).stdout.split("\n").filter(Boolean);
                if (ids.length > 0) await docker(["rm", "-f", "-v", ...ids]).catch(() => undefined);
                // A user-defined network's bridge interface outlives dockerd unless the network is removed.
                await docker(["network", "prune", "-f"]).catch(() => undefined);
                await stopChild(child, STOP_TIMEOUT_MS);
            }
            fs.closeSync(log);
            // dockerd bind-mounts the host's network namespace at exec/netns/default once anything ran
            // with `--network host` (an image build does), and may leave it mounted when it exits.
            for (const mount of mountsUnder(rootDir)) await run("umount", ["-l", mount]).catch(() => undefined);
            await run("ip", ["link", "del", bridge.name]).catch(() => undefined);
            fs.rmSync(rootDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
        })();
        return stopped;
    };
    atTestEnd(stop);

    try {
        child = spawn(
            "dockerd",
            [
                "--data-root",
                path.join(rootDir, "data"),
                "--exec-root",
                path.join(rootDir, "exec"),
                "--pidfile",
                path.join(rootDir, "docker.pid"),
                "--host",
                host,
                "--storage-driver",
                "vfs",
                "--bridge",
                bridge.name,
                "--default-address-pool",
                `base=${bridge.pool},size=24`,
                "--iptables=false",
                "--ip-masq=false",
                "--ip6tables=false",
                "--userland-proxy=true",
                "--log-level",
                "warn",
            ],
            { stdio: ["ignore", log, log], env: process.env },
        );
        const exited = new Promise<never>((_, reject) =>
            child!.once("exit", (code, signal) =>
                reject(new Error(`dockerd exited (${signal ?? code}) while starting; its log says: ${tail(logPath)}`)),
            ),
        );
        exited.catch(() => undefined);
        await Promise.race([
            exited,
            pollUntil(`dockerd to answer on ${host}`, START_TIMEOUT_MS, async () => {
                await docker(["version", "--format", "{{.Server.Version}}"]);
                return true;
            }),
        ]);
    } catch (err) {
        await stop();
        throw err;
    }
    return {
        host,
        env,
        bridgeGateway: bridge.gateway,
        addressPool: bridge.pool,
        bridge: bridge.name,
        rootDir,
        pid: child.pid!,
        docker,
        stop,
    };
}

interface Bridge {
    readonly name: string;
    readonly gateway: string;
    /** The /16 the bridge's /24 is the first subnet of; user-defined networks get the others. */
    readonly pool: string;
}

/** A bridge named after the engine's dir, on a 10.x.0.0/16 no route of the host uses yet. */
async function createBridge(rootDir: string): Promise<Bridge> {
    const name = `srb${path
        .basename(rootDir)
        .slice(-8)
        .replace(/[^A-Za-z0-9]/g, "")}`.slice(0, 15);
    const routes = (await run("ip", ["-4", "route", "show", "table", "all"])).stdout;
    const taken = new Set([...routes.matchAll(/\b10\.(\d+)\./g)].map((m) => Number(m[1])));
    const free = Array.from({ length: 128 }, (_, i) => 64 + i).filter((octet) => !taken.has(octet));
    if (free.length === 0) throw new Error("no free 10.64.0.0/10 subnet for the engine's bridge: every 10.64–191.x.x range has a route");
    const octet = free[Math.floor(Math.random() * free.length)];
    const gateway = `10.${octet}.0.1`;
    await run("ip", ["link", "add", "name", name, "type", "bridge"]);
    try {
        await run("ip", ["addr", "add", `${gateway}/24`, "dev", name]);
        await run("ip", ["link", "set", name, "up"]);
    } catch (err) {
        await run("ip", ["link", "del", name]).catch(() => undefined);
        throw err;
    }
    return { name, gateway, pool: `10.${octet}.0.0/16` };
}

/** Mount points inside `dir`, deepest first. */
function mountsUnder(dir: string): string[] {
    return fs
        .readFileSync("/proc/self/mounts", "utf8")
        .split("\n")
        .map((line) => line.split(" ")[1])
        .filter((point): point is string => point !== undefined && point.startsWith(`${dir}/`))
        .sort((a, b) => b.length - a.length);
}

function tail(file: string): string {
    try {
        return fs.readFileSync(file, "utf8").trim().split("\n").slice(-5).join(" | ");
    } catch {
        return "(no log)";
    }
}

/** True when `tool` is an executable file in one of PATH's directories. */
export function commandOnPath(tool: string): boolean {
    return (process.env.PATH ?? "").split(":").some((dir) => {
        try {
            fs.accessSync(path.join(dir, tool), fs.constants.X_OK);
            return true;
        } catch {
            return false;
        }
    });
}

/** Calls `probe` every 200 ms until it returns true; rejects naming `what` and the last error after `timeoutMs`. */
export async function pollUntil(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = "";
    for (;;) {
        try {
            if (await probe()) return;
        } catch (err) {
            if (err instanceof FatalWait) throw err;
            last = (err as Error).message;
        }
        if (Date.now() > deadline)
            throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `; last error: ${last}` : ""}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
    }
}

/** SIGTERM, then SIGKILL after `timeoutMs`; resolves once the process has exited. */
export async function stopChild(child: ChildProcess, timeoutMs: number): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    await exited;
    clearTimeout(timer);
}

/** Resolves once the container's health check passes; rejects with its state and last log lines if it turns unhealthy, exits or times out. */
export async function waitForHealthy(engine: DockerEngine, container: string, timeoutMs = 60_000): Promise<void> {
    await pollUntil(`container ${container} to turn healthy`, timeoutMs, async () => {
        const { stdout } = await engine.docker([
            "inspect",
            "--format",
            "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}",
            container,
        ]);
        const [status, health] = stdout.trim().split(" ");
        if (health === "healthy") return true;
        if (status === "exited" || status === "dead" || health === "unhealthy") {
            const logs = await engine.docker(["logs", "--tail", "20", container]).catch(() => ({ stdout: "", stderr: "" }));
            throw new FatalWait(`container ${container} is ${status} ${health ?? ""}; its log: ${(logs.stdout + logs.stderr).trim()}`);
        }
        return false;
    });
}

/** An error that `pollUntil` passes on at once instead of retrying. */
export class FatalWait extends Error {}
