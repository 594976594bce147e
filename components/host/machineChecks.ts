import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { ConfigError } from "../../settings/checks";
import { assignSlots, servicePort } from "../../settings/host";
import { ReleaseConfig } from "../../settings/release";
import { routerDirectPort, routerStatusPort } from "./argv";
import { programName, readLiveSlots, releaseDir, routerPaths } from "../../core/hostLayout";

/** What the checks need to know about the machine; `localMachine()` reads this one. */
export interface MachineFacts {
    readonly systemdRunning: boolean;
    /** TCP ports something listens on. */
    readonly listening: ReadonlySet<number>;
    /** The program's path, or undefined when it cannot be found. */
    which(program: string): string | undefined;
    /** Why `dir` (or, when absent, the directory that would hold it) is not writable; undefined when it is. */
    unwritable(dir: string): string | undefined;
    exists(file: string): boolean;
    sha256(file: string): string;
    /** Whether a marker of a program this project started (the router's pid file, a program's section) is there. @default none is */
    started?(marker: string): boolean;
}

/**
 * The `host` checks that need the machine, run before any resource: the
 * tools, the root, the ports the update will bind, the artifacts on disk. Each
 * message names the key to change and what would be valid.
 */
export function checkHostMachine(config: ReleaseConfig, facts: MachineFacts): string | undefined {
    const host = config.host!;
    if (host.remote !== undefined) {
        // The artifacts are files here (copied to the host by the update); the rest is the remote's.
        checkArtifacts(config, facts);
        return remoteChecksNote(host.remote.host);
    }
    if (host.manager === "systemd" && !facts.systemdRunning) {
        throw new ConfigError(
            '`release:host.manager` is "systemd", but systemd is not running on this machine (/run/systemd/system is missing: PID 1 is not systemd); ' +
                'use "supervisord" (Debian package `supervisor`)',
        );
    }
    if (host.manager === "supervisord") {
        requireTool(facts, host.supervisorctl, "release:host.supervisorctl", "supervisor");
        if (!facts.exists(host.supervisorConfig)) {
            throw new ConfigError(
                `\`release:host.supervisorConfig\` ${host.supervisorConfig} does not exist: install and start supervisord (Debian package \`supervisor\`) or name its config`,
            );
        }
    }
    if (config.components.some((c) => c.role === "web")) requireTool(facts, host.nginx, "release:host.nginx", "nginx-light");
    const reason = facts.unwritable(host.root);
    if (reason !== undefined) {
        throw new ConfigError(`\`release:host.root\` ${host.root} is not writable by this user (${reason}); give a directory it may write`);
    }
    checkPorts(config, facts);
    checkArtifacts(config, facts);
    return undefined;
}

/**
 * What the plan says when the host is remote: this machine's tools, root and
 * ports say nothing about the remote's, so those checks are not run; the
 * steps themselves fail there, naming what is missing (node, supervisorctl,
 * nginx, a taken port), before traffic moves.
 */
export function remoteChecksNote(host: string): string {
    return (
        `the machine checks of \`release:host\` (service manager, nginx, root writable, ports free) were not run: ` +
        `the host is ${host} (\`release:host.address\`), reached only by the update's steps, which fail there naming what is missing; ` +
        "the artifacts' digests were checked here"
    );
}

function requireTool(facts: MachineFacts, program: string, key: string, debianPackage: string): void {
    if (facts.which(program) === undefined) {
        throw new ConfigError(
            `\`${key}\` ${program} is not installed on this machine: install the Debian package \`${debianPackage}\` (apt-get install ${debianPackage}) or give its path`,
        );
    }
}

/**
 * Only ports this update will newly bind: a running version's own port, and the
 * router's once it runs, are taken by us. "Ours" is also a program an earlier,
 * failed update started before anything was routed (its definition is in place,
 * the router's pid file is there): retrying that update must not trip over it.
 */
function checkPorts(config: ReleaseConfig, facts: MachineFacts): void {
    const host = config.host!;
    const paths = routerPaths(host.root);
    const held = readLiveSlots(paths.live);
    const live = [config.version, ...(config.previous !== undefined ? [config.previous] : [])];
    const slots = assignSlots(live, held);
    const web = config.components.filter((c) => c.role === "web");
    // A supervisord program's section is written before it starts and removed when it stops or fails to.
    const defined = (component: string, version: string | undefined) =>
        host.manager === "supervisord" &&
        facts.started?.(`${host.programDir}/${programName(config.app, component, version)}.conf`) === true;
    if (web.length > 0 && Object.keys(held).length === 0 && facts.started?.(paths.pid) !== true) {
        const routerPorts = [host.routerPort, routerStatusPort(host), routerDirectPort(host, 0), routerDirectPort(host, 1)];
        for (const port of routerPorts) {
            if (facts.listening.has(port)) {
                throw new ConfigError(
                    `\`release:host.routerPort\`: port ${port} (the router takes ${routerPorts.join(", ")}) is taken by another process; ` +
                        "stop it or choose another `routerPort`",
                );
            }
        }
    }
    for (const version of live.filter((v) => held[v] === undefined)) {
        web.forEach((component, index) => {
            const slot = host.mode[component.name] === "replace" ? 0 : slots[version];
            const port = servicePort(host.basePort, index, slot);
            const replaced = host.mode[component.name] === "replace";
            const ownReplaced = replaced && (Object.keys(held).length > 0 || defined(component.name, undefined));
            const ownCanary = !replaced && defined(component.name, version);
            if (!ownReplaced && !ownCanary && facts.listening.has(port)) {
                throw new ConfigError(
                    `\`release:host.basePort\`: port ${port} (${component.name} of ${version}) is taken by another process; ` +
                        "stop it or choose another `basePort`",
                );
            }
        });
    }
}

/** A path artifact must exist, and one not yet installed must have its pinned digest: nothing runs on a wrong file. */
function checkArtifacts(config: ReleaseConfig, facts: MachineFacts): void {
    const host = config.host!;
    const live = [config.version, ...(config.previous !== undefined ? [config.previous] : [])];
    for (const version of live) {
        for (const component of config.components) {
            const artifact = config.artifacts![version][component.name];
            const key = `release:artifacts.${version}.${component.name}`;
            if (artifact.path === undefined) continue;
            // An installed release directory here says nothing of a remote host's.
            const installed =
                host.remote === undefined && facts.exists(`${releaseDir(host.root, version, component.name)}/.safe-release.json`);
            if (installed) continue;
            if (!facts.exists(artifact.path)) {
                throw new ConfigError(`\`${key}.path\` ${artifact.path} does not exist (paths are relative to the project directory)`);
            }
            const actual = facts.sha256(artifact.path);
            if (actual !== artifact.sha256) {
                throw new ConfigError(
                    `\`${key}.sha256\` is ${artifact.sha256}, but ${artifact.path} has sha256 ${actual}; pin the artifact's digest (\`sha256sum ${artifact.path}\`)`,
                );
            }
        }
    }
}

/** Listening TCP sockets from /proc/net/tcp{,6} (state 0A): synchronous, so the check runs before the program registers anything. */
function listeningPorts(): Set<number> {
    const ports = new Set<number>();
    for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
        let text = "";
        try {
            text = fs.readFileSync(file, "utf8");
        } catch {
            continue;
        }
        for (const line of text.split("\n").slice(1)) {
            const fields = line.trim().split(/\s+/);
            if (fields.length > 3 && fields[3] === "0A") ports.add(parseInt(fields[1].split(":")[1], 16));
        }
    }
    return ports;
}

export function localMachine(env: NodeJS.ProcessEnv = process.env): MachineFacts {
    return {
        systemdRunning: fs.existsSync("/run/systemd/system"),
        listening: listeningPorts(),
        which(program) {
            const candidates = program.includes("/")
                ? [program]
                : (env.PATH ?? "")
                      .split(":")
                      .filter(Boolean)
                      .map((d) => path.join(d, program));
            return candidates.find((file) => {
                try {
                    fs.accessSync(file, fs.constants.X_OK);
                    return true;
                } catch {
                    return false;
                }
            });
        },
        unwritable(dir) {
            let probe = dir;
            while (!fs.existsSync(probe)) probe = path.dirname(probe);
            try {
                fs.accessSync(probe, fs.constants.W_OK);
                return fs.statSync(probe).isDirectory() ? undefined : `${probe} is not a directory`;
            } catch (err) {
                return `${(err as NodeJS.ErrnoException).code ?? "error"} on ${probe}`;
            }
        },
        exists: (file) => fs.existsSync(file),
        started: (marker) => fs.existsSync(marker),
        sha256: (file) => createHash("sha256").update(fs.readFileSync(file)).digest("hex"),
    };
}
