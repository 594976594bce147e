import type { CheckFailure } from "@pulumi/pulumi/provider";
import { DiffRules, autoname, labelMap, unsupportedInputs } from "./resource";
import { Props, UNKNOWN } from "./wire";

/**
 * `docker:index/container:Container`, the pure half: defaults and validation
 * (`check`), which changes replace (`CONTAINER_DIFF`), and the Engine API body
 * of `POST /containers/create`. The rules follow the upstream Terraform schema
 * (kreuzwerker/docker `resource_docker_container.go`) that pulumi-docker 5.x
 * bridges: every input the program sets is ForceNew except `restart`, which
 * `docker update` changes in place, and `wait`/`waitTimeout`, which only matter
 * at create. pulumi-docker marks the container `DeleteBeforeReplace: true`: its
 * name is fixed, so the old container must go before the new one can take it.
 */

export const CONTAINER_TYPE = "docker:index/container:Container";

export const CONTAINER_INPUTS = [
    "name",
    "image",
    "command",
    "entrypoints",
    "envs",
    "hostname",
    "user",
    "workingDir",
    "networkMode",
    "networksAdvanced",
    "volumes",
    "ports",
    "restart",
    "maxRetryCount",
    "logDriver",
    "logOpts",
    "labels",
    "healthcheck",
    "wait",
    "waitTimeout",
    "start",
    "mustRun",
    "removeVolumes",
] as const;

export const CONTAINER_DIFF: DiffRules = {
    updatable: ["restart", "maxRetryCount", "wait", "waitTimeout", "mustRun", "removeVolumes", "start"],
    computed: ["bridge", "networkDatas", "exitCode", "containerLogs"],
    optionalComputed: ["command", "entrypoints", "envs", "hostname", "labels", "logDriver", "healthcheck"],
    deleteBeforeReplace: true,
};

const RESTART_POLICIES = ["no", "on-failure", "always", "unless-stopped"];
const DURATION_UNITS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's `time.ParseDuration` as the upstream provider applies it: `1m30s` → nanoseconds; `undefined` if malformed. */
export function parseDuration(text: string): number | undefined {
    if (text === "0") return 0;
    const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)];
    if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text) return undefined;
    return Math.round(parts.reduce((sum, p) => sum + Number(p[1]) * DURATION_UNITS[p[2]], 0));
}

export function checkContainer(olds: Props, news: Props, resourceName: string): { inputs: Props; failures: CheckFailure[] } {
    const inputs: Props = { restart: "no", wait: false, waitTimeout: 60, ...news, name: autoname(olds, news, resourceName) };
    const failures = unsupportedInputs(news, CONTAINER_INPUTS, "Container");
    const fail = (property: string, reason: string): number => failures.push({ property, reason });
    if (typeof inputs.image !== "string" || inputs.image === "")
        fail("image", "`image` is required: the image to run, e.g. `repo@sha256:…`");
    if (inputs.restart !== UNKNOWN && !RESTART_POLICIES.includes(inputs.restart)) {
        fail(
            "restart",
            `\`restart\` must be one of ${RESTART_POLICIES.map((p) => `\`${p}\``).join(", ")}; got ${JSON.stringify(inputs.restart)}`,
        );
    }
    const health = inputs.healthcheck as Props | string | undefined;
    if (typeof health === "object") {
        if (!Array.isArray(health.tests) || health.tests.length === 0) {
            fail(
                "healthcheck.tests",
                '`healthcheck.tests` is required, e.g. `["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:8080/"]`',
            );
        }
        for (const key of ["interval", "timeout", "startPeriod"]) {
            const value = health[key];
            if (value !== undefined && value !== UNKNOWN && parseDuration(String(value)) === undefined) {
                fail(
                    `healthcheck.${key}`,
                    `\`healthcheck.${key}\` must be a duration such as \`5s\`, \`500ms\` or \`1m30s\`; got ${JSON.stringify(value)}`,
                );
            }
        }
    }
    listOf(inputs.ports).forEach((port, i) => {
        if (typeof port === "object" && !Number.isInteger(port.internal))
            fail(`ports[${i}].internal`, "`internal` is required: the port inside the container");
    });
    listOf(inputs.volumes).forEach((volume, i) => {
        if (typeof volume === "object" && typeof volume.containerPath !== "string") {
            fail(`volumes[${i}].containerPath`, "`containerPath` is required: where the volume is mounted in the container");
        }
    });
    return { inputs, failures };
}

/** A list input, or nothing while it is unknown at preview. */
function listOf(value: unknown): Array<Props | string> {
    return Array.isArray(value) ? value : [];
}

function nanos(duration: unknown): number {
    return duration === undefined ? 0 : parseDuration(String(duration))!;
}

function portKey(port: Props): string {
    return `${port.internal}/${port.protocol ?? "tcp"}`;
}

/** The binds, anonymous volumes and `volumesFrom` of the `volumes` input, as upstream's `volumeSetToDockerVolumes`. */
function volumeSpec(volumes: Props[]): { binds: string[]; anonymous: Record<string, object>; from: string[] } {
    const spec = { binds: [] as string[], anonymous: {} as Record<string, object>, from: [] as string[] };
    for (const v of volumes) {
        const mode = v.readOnly ? ":ro" : "";
        if (v.fromContainer !== undefined) spec.from.push(v.fromContainer);
        else if (v.hostPath !== undefined) spec.binds.push(`${v.hostPath}:${v.containerPath}${mode}`);
        else if (v.volumeName !== undefined) spec.binds.push(`${v.volumeName}:${v.containerPath}${mode}`);
        else spec.anonymous[v.containerPath] = {};
    }
    return spec;
}

/**
 * The body of `POST /containers/create`. The environment travels in this body
 * (never on a command line); the first of `networksAdvanced` is joined at create
 * with its aliases (API 1.41 takes one network there), the rest by `connectBodies`.
 */
export function createBody(inputs: Props): Props {
    const ports = (inputs.ports as Props[] | undefined) ?? [];
    const networks = (inputs.networksAdvanced as Props[] | undefined) ?? [];
    const volumes = volumeSpec((inputs.volumes as Props[] | undefined) ?? []);
    const health = inputs.healthcheck as Props | undefined;
    const first = networks[0];
    return {
        Image: inputs.image,
        ...(inputs.command !== undefined ? { Cmd: inputs.command } : {}),
        ...(inputs.entrypoints !== undefined ? { Entrypoint: inputs.entrypoints } : {}),
        ...(inputs.envs !== undefined ? { Env: inputs.envs } : {}),
        ...(inputs.hostname !== undefined ? { Hostname: inputs.hostname } : {}),
        ...(inputs.user !== undefined ? { User: inputs.user } : {}),
        ...(inputs.workingDir !== undefined ? { WorkingDir: inputs.workingDir } : {}),
        Labels: labelMap(inputs.labels),
        ...(ports.length > 0 ? { ExposedPorts: Object.fromEntries(ports.map((p) => [portKey(p), {}])) } : {}),
        ...(Object.keys(volumes.anonymous).length > 0 ? { Volumes: volumes.anonymous } : {}),
        ...(health !== undefined
            ? {
                  Healthcheck: {
                      Test: health.tests,
                      Interval: nanos(health.interval),
                      Timeout: nanos(health.timeout),
                      StartPeriod: nanos(health.startPeriod),
                      Retries: health.retries ?? 0,
                  },
              }
            : {}),
        HostConfig: {
            ...(volumes.binds.length > 0 ? { Binds: volumes.binds } : {}),
            ...(volumes.from.length > 0 ? { VolumesFrom: volumes.from } : {}),
            ...(ports.length > 0
                ? {
                      PortBindings: Object.fromEntries(
                          ports.map((p) => [
                              portKey(p),
                              [{ HostIp: p.ip ?? "0.0.0.0", HostPort: p.external === undefined ? "" : String(p.external) }],
                          ]),
                      ),
                  }
                : {}),
            RestartPolicy: { Name: inputs.restart ?? "no", MaximumRetryCount: inputs.maxRetryCount ?? 0 },
            LogConfig: { Type: inputs.logDriver ?? "", Config: inputs.logOpts ?? {} },
            ...(first !== undefined
                ? { NetworkMode: first.name }
                : inputs.networkMode !== undefined
                  ? { NetworkMode: inputs.networkMode }
                  : {}),
        },
        ...(first !== undefined ? { NetworkingConfig: { EndpointsConfig: { [first.name]: endpointConfig(first) } } } : {}),
    };
}

function endpointConfig(network: Props): Props {
    return {
        ...(network.aliases !== undefined ? { Aliases: network.aliases } : {}),
        ...(network.ipv4Address !== undefined || network.ipv6Address !== undefined
            ? { IPAMConfig: { IPv4Address: network.ipv4Address, IPv6Address: network.ipv6Address } }
            : {}),
    };
}

/** `POST /networks/{name}/connect` bodies for the networks after the first. */
export function connectBodies(inputs: Props, containerId: string): Array<{ network: string; body: Props }> {
    return ((inputs.networksAdvanced as Props[] | undefined) ?? [])
        .slice(1)
        .map((n) => ({ network: n.name, body: { Container: containerId, EndpointConfig: endpointConfig(n) } }));
}

/** The computed outputs upstream reads back from `docker inspect`. */
export function inspectedOutputs(inspect: Props): Props {
    const networks = (inspect.NetworkSettings?.Networks ?? {}) as Record<string, Props>;
    return {
        bridge: inspect.NetworkSettings?.Bridge ?? "",
        networkDatas: Object.entries(networks)
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([networkName, n]) => ({
                networkName,
                ipAddress: n.IPAddress ?? "",
                ipPrefixLength: n.IPPrefixLen ?? 0,
                gateway: n.Gateway ?? "",
                macAddress: n.MacAddress ?? "",
                globalIpv6Address: n.GlobalIPv6Address ?? "",
                globalIpv6PrefixLength: n.GlobalIPv6PrefixLen ?? 0,
                ipv6Gateway: n.IPv6Gateway ?? "",
            })),
        ...(inspect.State?.Running === false ? { exitCode: inspect.State.ExitCode } : {}),
    };
}
