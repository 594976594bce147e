import * as docker from "@pulumi/docker";
import { ConfigError } from "../../settings/checks";
import { ComponentSpec } from "../../settings/components";
import { DockerSettings, VolumeMount } from "../../settings/docker";
import { tagSlug } from "../../core/releaseTags";
import { boundedName } from "../naming";
import { shellQuote } from "../data/opsCommand";

/**
 * Pure helpers of the `docker-host` platform: the names, environment, mounts,
 * health checks and `docker` argv that every version's containers share. Names
 * are a function of app, component and version only, so a version's containers
 * keep their names (and the router its backends) for as long as it is live.
 */

/** Docker names a container's DNS entry on the network after it; a DNS label holds at most 63 characters. */
const NAME_LIMIT = 63;

/** `shop-api-v1-5-0`, then `shop-api-v1-5-0-2`… for further replicas: the first replica's name never changes with the count. */
export function containerName(app: string, component: string, version: string, replica = 1): string {
    return boundedName([app, component, tagSlug(version), ...(replica > 1 ? [String(replica)] : [])], NAME_LIMIT);
}

export function replicaNames(app: string, component: ComponentSpec, version: string): string[] {
    return Array.from({ length: component.desiredCount }, (_, i) => containerName(app, component.name, version, i + 1));
}

export function routerContainerName(app: string): string {
    return `${app}-router`;
}

/** `--host <host>` for a remote engine; the local daemon (or the runner's `DOCKER_HOST`) otherwise. */
export function hostArgs(settings: DockerSettings): string[] {
    return settings.host === undefined ? [] : ["--host", settings.host];
}

/** The environment every container of the component gets: the version, then `env`, as `NAME=value`. */
export function plainEnv(component: ComponentSpec, version: string): string[] {
    return [
        `RELEASE_VERSION=${version}`,
        ...Object.keys(component.env)
            .sort()
            .map((name) => `${name}=${component.env[name]}`),
    ];
}

/**
 * An env file in Docker's `--env-file` format: `NAME=value` lines, `#` comments,
 * blank lines. A bare `NAME` (copy from the runner's environment) is refused: the
 * same config must give the same containers on every machine. Errors name the
 * line, never its text, because the file holds secrets.
 */
export function parseEnvFile(key: string, path: string, text: string): string[] {
    const entries: string[] = [];
    text.split(/\r?\n/).forEach((line, i) => {
        if (line.trim() === "" || line.trimStart().startsWith("#")) return;
        if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(line)) {
            throw new ConfigError(
                `\`${key}\`: line ${i + 1} of ${path} must be \`NAME=value\` (NAME of letters, digits and \`_\`), a \`#\` comment or blank`,
            );
        }
        entries.push(line);
    });
    return entries;
}

/** Refuses a variable set twice (in `env`, `secretEnv` or the env file): which value wins would depend on Docker's order. */
export function checkDistinctNames(component: ComponentSpec, envFileEntries: string[]): void {
    const seen = new Map<string, string>([["RELEASE_VERSION", "the platform"]]);
    const sources: Array<[string, string[]]> = [
        [`\`release:components.${component.name}.env\``, Object.keys(component.env)],
        [`\`release:components.${component.name}.secretEnv\``, Object.keys(component.secretEnv)],
        [`\`release:dockerHost.envFile.${component.name}\``, envFileEntries.map((entry) => entry.slice(0, entry.indexOf("=")))],
    ];
    for (const [source, names] of sources) {
        for (const name of names) {
            const other = seen.get(name);
            if (other !== undefined)
                throw new ConfigError(`${source} sets ${name}, which ${other} sets too; set each variable in one place`);
            seen.set(name, source);
        }
    }
}

export function volumeInputs(mounts: VolumeMount[]): docker.types.input.ContainerVolume[] {
    return mounts.map((m) => ({
        ...(m.kind === "bind" ? { hostPath: m.source } : { volumeName: m.source }),
        containerPath: m.target,
        readOnly: m.readOnly,
    }));
}

/** `-v` flags of a one-off container: the same mounts as the component's containers. */
export function volumeFlags(mounts: VolumeMount[]): string[] {
    return mounts.flatMap((m) => ["-v", `${m.source}:${m.target}${m.readOnly ? ":ro" : ""}`]);
}

/**
 * A probe of the component's health path from inside its container. Images ship
 * busybox `wget` or `curl` (rarely both), so the probe tries either; an image
 * with neither relies on its own HEALTHCHECK.
 */
export function webHealthcheck(component: ComponentSpec, settings: DockerSettings): docker.types.input.ContainerHealthcheck {
    const url = `http://127.0.0.1:${component.port}${component.healthPath}`;
    return {
        tests: ["CMD-SHELL", `wget -q -O /dev/null ${url} || curl -fsS -o /dev/null ${url}`],
        interval: `${settings.healthIntervalSeconds}s`,
        timeout: "5s",
        retries: settings.healthRetries,
        startPeriod: `${settings.startPeriodSeconds}s`,
    };
}

export interface OneOffArgvArgs {
    readonly app: string;
    readonly version: string;
    readonly component: ComponentSpec;
    readonly settings: DockerSettings;
    /** `repo@sha256:…` */
    readonly image: string;
    readonly command: string[];
}

/**
 * `docker run --rm` of the component's image on the app's network, with its
 * environment, env file and mounts. Secret variables appear as `-e NAME` without
 * a value: Docker copies the value from the runner's environment, where the
 * migration command's (secret) environment puts it.
 */
export function oneOffArgv(args: OneOffArgvArgs): string[] {
    const { app, version, component, settings } = args;
    const envFile = settings.envFile[component.name];
    return [
        "docker",
        ...hostArgs(settings),
        "run",
        "--rm",
        "--network",
        settings.network,
        "--label",
        `safe-release.app=${app}`,
        "--label",
        `safe-release.version=${version}`,
        "--label",
        "safe-release.role=one-off",
        ...plainEnv(component, version).flatMap((entry) => ["-e", entry]),
        ...Object.keys(component.secretEnv)
            .sort()
            .flatMap((name) => ["-e", name]),
        ...(envFile !== undefined ? ["--env-file", envFile] : []),
        ...volumeFlags(settings.volumes[component.name] ?? []),
        args.image,
        ...args.command,
    ];
}

/** Seconds a writer gets to finish its work on `docker stop` (Celery's warm shutdown) before it is killed. */
export const STOP_GRACE_SECONDS = 30;

/** `docker stop` / `docker start` of every replica of the given components of the given versions. */
export function writerArgv(
    app: string,
    settings: DockerSettings,
    specs: ComponentSpec[],
    versions: string[],
    /** The router's container, reloaded after web containers start again. */
    router?: string,
): { stop: string[]; start: string[] } {
    const names = versions.flatMap((version) => specs.flatMap((component) => replicaNames(app, component, version)));
    const start = ["docker", ...hostArgs(settings), "start", ...names];
    // A started container may come back with another address on the network: the router re-resolves
    // its upstreams' names on a reload, so a restart of web containers ends with one.
    const reload = specs.some((c) => c.role === "web") && router !== undefined;
    return {
        stop: ["docker", ...hostArgs(settings), "stop", "--time", String(STOP_GRACE_SECONDS), ...names],
        start: reload
            ? [
                  "sh",
                  "-c",
                  `${shellQuote(start)} && ${shellQuote(["docker", ...hostArgs(settings), "exec", router, "nginx", "-s", "reload"])}`,
              ]
            : start,
    };
}
