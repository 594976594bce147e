import { ComponentSpec } from "../../settings/components";
import { DockerSettings } from "../../settings/docker";
import { RouterSpec, readConfigFingerprint } from "../../core/nginxConfig";

/** Ports inside the router container: the published front, the status page, and one loopback hop per live version. */
export const ROUTER_LISTEN_PORT = 8080;
export const ROUTER_STATUS_PORT = 8081;
export const FIRST_DIRECT_PORT = 9001;
/** Where the router keeps its config: the whole nginx.conf, so the image's defaults play no part. */
export const ROUTER_CONFIG_PATH = "/etc/nginx/nginx.conf";

export interface RoutedVersion {
    readonly version: string;
    readonly weight: number;
    /** Web component → `container:port` of each replica. */
    readonly backends: Record<string, string[]>;
}

/**
 * The router spec of the live set (current first). Direct ports follow the
 * order of the live set: they only exist inside the router, and the config
 * changes with every transition anyway. A component without `pathPrefix` takes `/`.
 */
export function routerSpec(components: ComponentSpec[], versions: RoutedVersion[]): RouterSpec {
    return {
        listenPort: ROUTER_LISTEN_PORT,
        statusPort: ROUTER_STATUS_PORT,
        versions: versions.map((v, i) => ({ name: v.version, weight: v.weight, directPort: FIRST_DIRECT_PORT + i })),
        components: components
            .filter((c) => c.role === "web")
            .map((c) => ({
                name: c.name,
                pathPrefix: c.pathPrefix === undefined ? "/" : `${c.pathPrefix}/`,
                backends: Object.fromEntries(versions.map((v) => [v.version, v.backends[c.name]])),
            })),
    };
}

/**
 * What runs inside the router to load a rendered config (given on stdin): write
 * it beside the live one, let `nginx -t` check it, rename it over the live one,
 * reload (old workers finish the requests they hold, and since the front keeps no
 * client connection alive there is none for them to close unread: see nginxConfig.ts),
 * then wait until the status port answers with the new fingerprint. A config nginx
 * refuses never replaces the one that serves.
 */
export function applyConfigScript(config: string, configPath = ROUTER_CONFIG_PATH): string {
    const fingerprint = readConfigFingerprint(config);
    const next = `${configPath}.next`;
    const status = `http://127.0.0.1:${ROUTER_STATUS_PORT}/healthz`;
    return [
        "set -e",
        `cat > ${next}`,
        `nginx -t -q -c ${next}`,
        `mv ${next} ${configPath}`,
        "nginx -s reload",
        "i=0",
        `until wget -q -O - ${status} 2>/dev/null | grep -q ${fingerprint}; do`,
        "  i=$((i+1))",
        `  if [ "$i" -ge 100 ]; then echo "router: config ${fingerprint} not serving after 10s" >&2; exit 1; fi`,
        "  sleep 0.1",
        "done",
    ].join("\n");
}

/** The local command that applies a config to the router container; `DOCKER_HOST` picks the engine. */
export function applyConfigCommand(routerName: string, config: string): string {
    const script = applyConfigScript(config);
    return `docker exec -i ${routerName} sh -c '${script.replace(/'/g, `'\\''`)}'`;
}

/** Where users reach the router: the published address, or the Docker host's name when it listens on all addresses. */
export function routerUrl(settings: DockerSettings): string {
    const address = settings.routerAddress === "0.0.0.0" ? hostName(settings.host) : settings.routerAddress;
    return `http://${address}:${settings.routerPort}`;
}

function hostName(host: string | undefined): string {
    if (host === undefined || host.startsWith("unix://")) return "localhost";
    return host
        .replace(/^[a-z]+:\/\//, "")
        .replace(/^[^@]*@/, "")
        .replace(/:\d+$/, "");
}
