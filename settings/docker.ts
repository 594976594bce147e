import {
    ConfigError,
    fail,
    optionalInteger,
    optionalString,
    optionalStringList,
    rejectUnknownKeys,
    requireObject,
    requireString,
} from "./checks";
import { ComponentSpec, parseImageRepository } from "./components";

/** A bind mount (`/srv/data:/data`) or a named volume (`pgdata:/var/lib/postgresql/data`), the same for every version. */
export interface VolumeMount {
    /** An absolute host path (bind mount) or a volume name. */
    readonly source: string;
    readonly target: string;
    readonly readOnly: boolean;
    readonly kind: "bind" | "volume";
}

export type RestartPolicy = "no" | "on-failure" | "always" | "unless-stopped";

/**
 * Where the `docker-host` platform runs: one Docker engine (the local daemon, or
 * a remote one over `ssh://`), a network shared by every version, and an nginx
 * router in front whose upstream weights are the canary weights.
 */
export interface DockerSettings {
    /** `ssh://user@host`, `tcp://host:2376` or `unix:///…`; absent for the local daemon (or `DOCKER_HOST`). */
    readonly host?: string;
    /** The network every container joins; backends are addressed by container name on it. @default release:app */
    readonly network: string;
    /** The router's nginx image, pinned: `nginx@sha256:…`. */
    readonly routerImage: string;
    /** Host port the router publishes. @default 8080 */
    readonly routerPort: number;
    /** Host address the router's port is published on; `127.0.0.1` keeps it off the network. @default "0.0.0.0" */
    readonly routerAddress: string;
    /** @default "unless-stopped" */
    readonly restart: RestartPolicy;
    /** Component → mounts, identical for every version of the component. */
    readonly volumes: Record<string, VolumeMount[]>;
    /** Component → env file (`KEY=value` lines) on the machine running Pulumi; its values are kept secret. */
    readonly envFile: Record<string, string>;
    /** Seconds between health probes. @default 10 */
    readonly healthIntervalSeconds: number;
    /** Failed probes before a container counts as unhealthy. @default 3 */
    readonly healthRetries: number;
    /** Seconds a starting container may fail probes without counting. @default 30 */
    readonly startPeriodSeconds: number;
    /** Seconds `pulumi up` waits for a new web container to turn healthy before failing the update. @default 120 */
    readonly healthyWaitSeconds: number;
}

export const DOCKER_KEYS = [
    "host",
    "network",
    "routerImage",
    "routerPort",
    "routerAddress",
    "restart",
    "volumes",
    "envFile",
    "healthIntervalSeconds",
    "healthRetries",
    "startPeriodSeconds",
    "healthyWaitSeconds",
] as const;

const RESTART_POLICIES: readonly RestartPolicy[] = ["no", "on-failure", "always", "unless-stopped"];
const DOCKER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const HOST = /^(ssh:\/\/([A-Za-z0-9._-]+@)?[A-Za-z0-9.-]+(:\d{1,5})?|tcp:\/\/[A-Za-z0-9.-]+:\d{1,5}|unix:\/\/\/[^\s]+)$/;
const ABSOLUTE_PATH = /^\/[^\s:]*$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const ROUTER_IMAGE_RULE =
    "an nginx image pinned by digest such as `nginx@sha256:<64 hex>` (find the digest with `docker buildx imagetools inspect nginx:1.27-alpine`), " +
    "or by tag such as `nginx:1.27-alpine` where `release:requirePinnedDigests` is false (the digest is then looked up at preview)";

export function parseDockerSettings(value: unknown, app: string, components: ComponentSpec[]): DockerSettings {
    const key = "release:dockerHost";
    if (value === undefined) fail(key, 'set when `release:platform` is "docker-host" (at least `routerImage`)', value);
    const raw = requireObject(key, value);
    rejectUnknownKeys(key, raw, DOCKER_KEYS);
    rejectArnSecrets(components);
    const host = optionalString(`${key}.host`, raw.host);
    if (host !== undefined && !HOST.test(host)) {
        fail(
            `${key}.host`,
            "a Docker host `ssh://user@host`, `tcp://host:2376` or `unix:///path/docker.sock` (leave it unset for the local daemon)",
            host,
        );
    }
    const network = optionalString(`${key}.network`, raw.network) ?? app;
    if (!DOCKER_NAME.test(network)) fail(`${key}.network`, "a Docker network name (letters, digits, `_`, `.`, `-`)", network);
    const restart = raw.restart ?? "unless-stopped";
    if (!RESTART_POLICIES.includes(restart as RestartPolicy))
        fail(`${key}.restart`, `one of ${RESTART_POLICIES.map((p) => `"${p}"`).join(", ")}`, restart);
    const routerAddress = optionalString(`${key}.routerAddress`, raw.routerAddress) ?? "0.0.0.0";
    if (!IPV4.test(routerAddress)) fail(`${key}.routerAddress`, "an IPv4 address such as `127.0.0.1` or `0.0.0.0`", routerAddress);
    return {
        ...(host !== undefined ? { host } : {}),
        network,
        routerImage: parseRouterImage(`${key}.routerImage`, raw.routerImage),
        routerPort: optionalInteger(`${key}.routerPort`, raw.routerPort, 1, 65535) ?? 8080,
        routerAddress,
        restart: restart as RestartPolicy,
        volumes: perComponent(`${key}.volumes`, raw.volumes, components, (field, list) => parseVolumes(field, list)),
        envFile: perComponent(`${key}.envFile`, raw.envFile, components, (field, path) => parseEnvFilePath(field, path)),
        healthIntervalSeconds: optionalInteger(`${key}.healthIntervalSeconds`, raw.healthIntervalSeconds, 1, 300) ?? 10,
        healthRetries: optionalInteger(`${key}.healthRetries`, raw.healthRetries, 1, 10) ?? 3,
        startPeriodSeconds: optionalInteger(`${key}.startPeriodSeconds`, raw.startPeriodSeconds, 0, 600) ?? 30,
        healthyWaitSeconds: optionalInteger(`${key}.healthyWaitSeconds`, raw.healthyWaitSeconds, 10, 3600) ?? 120,
    };
}

/** Without a registry to ask, the router image must arrive pinned. */
function parseRouterImage(key: string, value: unknown): string {
    if (value === undefined) fail(key, ROUTER_IMAGE_RULE, value);
    const image = requireString(key, value);
    const { repository, tag, digest } = splitImageReference(image);
    if (
        digest !== undefined
            ? !/^sha256:[0-9a-f]{64}$/.test(digest) || tag !== undefined
            : tag === undefined || !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(tag)
    ) {
        fail(key, ROUTER_IMAGE_RULE, image);
    }
    try {
        parseImageRepository(key, repository);
    } catch {
        fail(key, ROUTER_IMAGE_RULE, image);
    }
    return image;
}

/** ECS resolves ARNs at task start; on one Docker host nothing would, so every secret is a stack secret. */
function rejectArnSecrets(components: ComponentSpec[]): void {
    for (const component of components) {
        for (const [name, ref] of Object.entries(component.secretEnv)) {
            if (!ref.startsWith("config:")) {
                fail(
                    `release:components.${component.name}.secretEnv.${name}`,
                    "`config:<key>` on docker-host (a secret set with `pulumi config set --secret release:<key>`; ARNs are read by ECS, which does not run here)",
                    ref,
                );
            }
        }
    }
}

function perComponent<T>(
    key: string,
    value: unknown,
    components: ComponentSpec[],
    parse: (field: string, entry: unknown) => T,
): Record<string, T> {
    if (value === undefined) return {};
    const table = requireObject(key, value);
    const names = components.map((c) => c.name);
    return Object.fromEntries(
        Object.entries(table).map(([component, entry]) => {
            if (!names.includes(component)) {
                fail(
                    `${key}.${component}`,
                    `a component declared in \`release:components\` (${names.map((n) => `\`${n}\``).join(", ")})`,
                    component,
                );
            }
            return [component, parse(`${key}.${component}`, entry)];
        }),
    );
}

/** `source:target` or `source:target:ro`, as `docker run -v` writes them. */
export function parseVolumes(key: string, value: unknown): VolumeMount[] {
    if (!Array.isArray(value)) fail(key, "a list of `source:target[:ro]` mounts", value);
    const entries = optionalStringList(key, value)!;
    const targets = new Set<string>();
    return entries.map((entry, i) => {
        const field = `${key}[${i}]`;
        const parts = entry.split(":");
        const mode = parts.length === 3 ? parts[2] : "rw";
        const [source, target] = parts;
        const valid =
            (parts.length === 2 || parts.length === 3) &&
            (mode === "ro" || mode === "rw") &&
            (ABSOLUTE_PATH.test(source) || DOCKER_NAME.test(source)) &&
            ABSOLUTE_PATH.test(target);
        if (!valid) {
            fail(field, "a mount `source:target[:ro]`: an absolute host path or a volume name, then an absolute container path", entry);
        }
        if (targets.has(target)) throw new ConfigError(`\`${field}\` mounts ${target} a second time; each container path takes one mount`);
        targets.add(target);
        return { source, target, readOnly: mode === "ro", kind: source.startsWith("/") ? "bind" : "volume" };
    });
}

function parseEnvFilePath(key: string, value: unknown): string {
    const path = requireString(key, value);
    if (/[\s]/.test(path)) fail(key, "a path without whitespace to an env file on the machine running Pulumi", path);
    return path;
}

/** `repo:tag` or `repo@sha256:…` into its parts; a registry port (`localhost:5000/x`) is not a tag. */
export function splitImageReference(image: string): { repository: string; tag?: string; digest?: string } {
    const at = image.indexOf("@");
    if (at >= 0) return { repository: image.slice(0, at), digest: image.slice(at + 1) };
    const colon = image.lastIndexOf(":");
    return colon > image.lastIndexOf("/") ? { repository: image.slice(0, colon), tag: image.slice(colon + 1) } : { repository: image };
}
