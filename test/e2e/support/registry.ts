import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { MANIFEST_MEDIA_TYPES } from "../../../core/imageRef";
import { atTestEnd, freePort, tempDir } from "../../support/processes";
import { commandOnPath, pollUntil, stopChild } from "./dockerEngine";

/** Debian's `docker-registry` (distribution 2.8) on loopback, storing into its own temp dir. */
export interface Registry {
    /** `127.0.0.1:PORT`; Docker allows plain HTTP to loopback registries. */
    readonly address: string;
    /** The manifest digest (`sha256:…`) the registry serves for `repo:tag`, as `docker pull repo@…` needs it. */
    digest(repo: string, tag: string): Promise<string>;
    stop(): Promise<void>;
}

const START_TIMEOUT_MS = 30_000;

export async function startRegistry(): Promise<Registry> {
    if (!commandOnPath("docker-registry"))
        throw new Error("`docker-registry` is not on PATH: install the Debian package `docker-registry`");
    const dir = await tempDir("sr-registry-");
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    const configPath = path.join(dir, "config.yml");
    fs.writeFileSync(
        configPath,
        [
            "version: 0.1",
            "log: { level: warn }",
            `storage: { filesystem: { rootdirectory: ${path.join(dir, "storage")} }, delete: { enabled: true } }`,
            `http: { addr: "${address}" }`,
            "",
        ].join("\n"),
    );
    const log = fs.openSync(path.join(dir, "registry.log"), "a");
    const child: ChildProcess = spawn("docker-registry", ["serve", configPath], { stdio: ["ignore", log, log] });
    let stopped: Promise<void> | undefined;
    const stop = (): Promise<void> => {
        stopped ??= (async () => {
            await stopChild(child, 10_000);
            fs.closeSync(log);
            fs.rmSync(dir, { recursive: true, force: true });
        })();
        return stopped;
    };
    atTestEnd(stop);
    try {
        await pollUntil(`the registry to answer on ${address}`, START_TIMEOUT_MS, async () => {
            if (child.exitCode !== null)
                throw new Error(`docker-registry exited ${child.exitCode}: ${fs.readFileSync(path.join(dir, "registry.log"), "utf8")}`);
            return (await fetch(`http://${address}/v2/`)).status === 200;
        });
    } catch (err) {
        await stop();
        throw err;
    }

    const digest = async (repo: string, tag: string): Promise<string> => {
        const url = `http://${address}/v2/${repo}/manifests/${tag}`;
        const response = await fetch(url, {
            method: "HEAD",
            headers: { Accept: MANIFEST_MEDIA_TYPES },
            signal: AbortSignal.timeout(10_000),
        });
        const value = response.headers.get("docker-content-digest");
        if (response.status !== 200 || value === null) {
            throw new Error(`the registry at ${address} has no manifest for ${repo}:${tag} (HTTP ${response.status}); push it first`);
        }
        return value;
    };
    return { address, digest, stop };
}
