import { HostSettings, ArtifactSource } from "../../settings/host";
import { OPS } from "../data/opsCommand";
import { routerPaths } from "../../core/hostLayout";

/**
 * The argv of every step the `host` platform runs, as pure functions of the
 * settings: a `local.Command` runs them here, and a `remote.Command` can run the
 * same words on another machine. (`--env-path`, not `--env-file`: Node 20 takes
 * `--env-file` for itself wherever it appears on its command line.)
 */

/** Where the agent's files land on a remote host: `npm run build`'s output of `ops/hostAgent.ts` and its imports. */
export function agentDir(root: string): string {
    return `${root}/agent`;
}

/**
 * The program that runs the host steps: the project's ops launcher here, or on
 * a remote host the compiled agent that the program copied to `<root>/agent/`.
 */
export function hostOps(settings: HostSettings): string[] {
    return settings.remote === undefined ? OPS : ["node", `${agentDir(settings.root)}/ops/hostAgent.js`];
}

export function managerArgs(settings: HostSettings): string[] {
    return [
        "--manager",
        settings.manager,
        "--supervisorctl",
        settings.supervisorctl,
        "--supervisor-config",
        settings.supervisorConfig,
        "--dir",
        settings.manager === "systemd" ? settings.unitDir : settings.programDir,
    ];
}

export function installArgv(settings: HostSettings, version: string, component: string, artifact: ArtifactSource): string[] {
    return [
        ...hostOps(settings),
        "host-install",
        "--root",
        settings.root,
        "--version",
        version,
        "--component",
        component,
        "--sha256",
        artifact.sha256,
        ...(artifact.path !== undefined ? ["--path", artifact.path] : ["--url", artifact.url!]),
    ];
}

export interface ServiceUp {
    readonly program: string;
    readonly envFile?: string;
    readonly plainEnv?: Record<string, string>;
    /** Names only: the values reach the command through its (secret) environment. */
    readonly secretEnv?: string[];
    readonly healthUrl?: string;
    /** Put the replaced definition back when the new one fails (`replace` mode). */
    readonly restoreOnFailure?: boolean;
}

export function serviceUpArgv(settings: HostSettings, up: ServiceUp): string[] {
    return [
        ...hostOps(settings),
        "host-service",
        "up",
        "--program",
        up.program,
        ...managerArgs(settings),
        ...(up.envFile !== undefined ? ["--env-path", up.envFile] : []),
        ...(up.plainEnv !== undefined ? ["--plain-env-json", JSON.stringify(up.plainEnv)] : []),
        ...((up.secretEnv ?? []).length > 0 ? ["--secret-env", up.secretEnv!.join(",")] : []),
        ...(up.healthUrl !== undefined ? ["--health-url", up.healthUrl] : []),
        "--wait",
        String(settings.healthWaitSeconds),
        ...(up.restoreOnFailure === true ? ["--restore-on-failure"] : []),
    ];
}

export function serviceDownArgv(settings: HostSettings, program: string, envFile?: string): string[] {
    return [
        ...hostOps(settings),
        "host-service",
        "down",
        "--program",
        program,
        ...managerArgs(settings),
        ...(envFile !== undefined ? ["--env-path", envFile] : []),
    ];
}

export function routerPrepareArgv(settings: HostSettings): string[] {
    return [...hostOps(settings), "host-router", "prepare", "--root", settings.root, "--status-port", String(routerStatusPort(settings))];
}

export function routerApplyArgv(settings: HostSettings, program: string, slots: Record<string, number>): string[] {
    const ordered = Object.fromEntries(
        Object.keys(slots)
            .sort()
            .map((v) => [v, String(slots[v])]),
    );
    return [
        ...hostOps(settings),
        "host-router",
        "apply",
        "--root",
        settings.root,
        "--program",
        program,
        "--status-url",
        routerStatusUrl(settings),
        "--slots-json",
        JSON.stringify(ordered),
        "--nginx",
        settings.nginx,
        ...managerArgs(settings),
    ];
}

export function pruneArgv(settings: HostSettings, protect: string[]): string[] {
    return [
        ...hostOps(settings),
        "host-prune",
        "--root",
        settings.root,
        "--keep",
        String(settings.keep),
        "--protect",
        [...new Set(protect)].sort().join(","),
    ];
}

/** `supervisorctl stop|start <program>…` (systemd: `systemctl stop|start <unit>…`). */
export function writerArgv(settings: HostSettings, programs: string[]): { stop: string[]; start: string[] } {
    if (settings.manager === "systemd") return { stop: ["systemctl", "stop", ...programs], start: ["systemctl", "start", ...programs] };
    const ctl = [settings.supervisorctl, "-c", settings.supervisorConfig];
    return { stop: [...ctl, "stop", ...programs], start: [...ctl, "start", ...programs] };
}

export function routerStatusPort(settings: HostSettings): number {
    return settings.routerPort + 1;
}

/** The router's hop for a slot: a loopback port beside its status port. */
export function routerDirectPort(settings: HostSettings, slot: number): number {
    return settings.routerPort + 2 + slot;
}

export function routerStatusUrl(settings: HostSettings): string {
    return `http://127.0.0.1:${routerStatusPort(settings)}/healthz`;
}

export function routerUrl(settings: HostSettings): string {
    // A router on every address of a remote host is reached by that host's name.
    const address = settings.routerAddress === "0.0.0.0" ? (settings.remote?.host ?? "localhost") : settings.routerAddress;
    return `http://${address}:${settings.routerPort}`;
}

/** nginx in the foreground under the service manager, with the host's pid file and error log. */
export function routerCommand(settings: HostSettings): string[] {
    const paths = routerPaths(settings.root);
    return [settings.nginx, "-c", paths.config, "-g", `daemon off; pid ${paths.pid}; error_log ${paths.errorLog};`];
}
