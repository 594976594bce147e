import { createHash } from "crypto";
import { RouterComponent, RouterSpec, RouterVersion, TARGET_HEADER, VERSION_HEADER, fail, validateRouterSpec } from "./routerSpec";

export { RouterComponent, RouterSpec, RouterVersion, TARGET_HEADER, VERSION_HEADER, validateRouterSpec } from "./routerSpec";

/*
 * The single-host router: one nginx in front of the app containers, as a pure function of the
 * release spec. Traffic takes two hops inside nginx:
 *
 *   front (listenPort) ── weighted round robin ──▶ version hop (127.0.0.1:directPort) ──▶ containers
 *
 * Why two hops: the front upstream holds one peer per live version, weighted by the canary
 * weight itself (`weight=10` / `weight=90`). nginx's smooth weighted round robin is exact over
 * every cycle of 100 requests, and the `zone` shares that cycle between workers, so the split
 * is accurate after a few hundred requests rather than only on average (as a hash of
 * `$request_id` in `split_clients` would be). Each version hop names itself in
 * `X-Release-Version`, which stays right whatever addresses the containers resolve to; and a
 * version whose containers are all down answers 502 from its hop, so the front marks it failed
 * (`max_fails`) and retries the request on the other version.
 *
 * A version with weight 0 cannot take `weight=0` (nginx refuses it); it is listed as `backup`,
 * so it gets no request while a weighted version is up, yet still catches traffic when every
 * weighted version is down. Routing by component is by path prefix on the one front port.
 *
 * Why the front keeps no client connection alive (`keepalive_timeout 0`): a weight change is a
 * reload, and a retiring worker closes every idle keep-alive connection, and each connection it
 * has just answered, although that answer promised to keep it open. A client that sends its next
 * request at that moment gets no answer; a GET may be resent, a POST must not be. With
 * `Connection: close` on every answer no client ever sends onto a connection nginx is closing, and
 * a new connection waits in the shared listen queue until a new worker takes it, so a reload fails
 * no request. The price is one TCP handshake per request between client and router.
 *
 * Known limit: a non-idempotent request (POST) whose version fails after the front has sent it
 * to that version's hop is not retried on the other version; the next requests avoid the
 * failed version for `failTimeoutSeconds`.
 */

const FINGERPRINT_LINE = /^# safe-release router config ([0-9a-f]{16})\n/;

const ident = (text: string) => text.replace(/[.-]/g, "_");

const versionUpstream = (version: RouterVersion) => `release__${ident(version.name)}`;
const backendUpstream = (component: RouterComponent, version: RouterVersion) => `${ident(component.name)}__${ident(version.name)}`;
const targetVariable = (component: RouterComponent) => `$${ident(component.name)}__upstream`;

function block(head: string, lines: string[]): string[] {
    return [`${head} {`, ...lines.map((line) => (line === "" ? "" : `    ${line}`)), "}"];
}

/** Timeouts and retry policy of one proxying server; `tries` bounds the retries when given. */
function proxyPolicy(connect: number, read: number, tries?: number): string[] {
    return [
        `proxy_connect_timeout ${connect}s;`,
        `proxy_send_timeout ${read}s;`,
        `proxy_read_timeout ${read}s;`,
        "proxy_next_upstream error timeout http_502 http_503 http_504;",
        tries === undefined ? `proxy_next_upstream_timeout ${connect + read}s;` : `proxy_next_upstream_tries ${tries};`,
    ];
}

function upstream(name: string, servers: string[], keepalive?: number): string[] {
    return block(`upstream ${name}`, [`zone ${name} 64k;`, ...servers, ...(keepalive === undefined ? [] : [`keepalive ${keepalive};`])]);
}

/** Only what the canary analysis needs; `$uri` rather than `$request_uri` keeps query strings (tokens, signed URLs) out of the log. */
const LOG_FORMAT = [
    `"time":"$time_iso8601"`,
    `"request_id":"$request_id"`,
    `"component":"$release_component"`,
    `"method":"$request_method"`,
    `"path":"$uri"`,
    `"status":$status`,
    `"request_time":$request_time`,
    `"version":"$upstream_http_x_release_version"`,
    `"upstream_addr":"$upstream_http_x_release_upstream"`,
    `"upstream_status":"$upstream_status"`,
    `"upstream_response_time":"$upstream_response_time"`,
    `"hops":"$upstream_addr"`,
    `"target":"$http_x_release_target"`,
].join(",");

function frontServer(spec: RouterSpec, listenAddress: string, innerBudget: number, connect: number): string[] {
    const live = spec.versions.map((version) => version.name).join(", ");
    const locations = spec.components.flatMap((component) => [
        "",
        ...block(`location ${component.pathPrefix}`, [
            `set $release_component ${component.name};`,
            ...block(`if (${targetVariable(component)} = "")`, [
                `return 400 "\`${TARGET_HEADER}\` must name a live version (${live})\\n";`,
            ]),
            `proxy_pass http://${targetVariable(component)};`,
        ]),
    ]);
    return block("server", [
        `listen ${listenAddress}:${spec.listenPort};`,
        `access_log ${spec.accessLogPath ?? "/dev/stdout"} release_json;`,
        // No client connection outlives its request, so a reload has none to close unread (see the top of this file).
        "keepalive_timeout 0;",
        'set $release_component "";',
        // The version hop gives up first, so a slow version answers 504 and the request moves on.
        ...proxyPolicy(connect, innerBudget, spec.versions.length),
        "proxy_set_header Host $host;",
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "proxy_set_header X-Forwarded-Proto $scheme;",
        "proxy_set_header X-Request-Id $request_id;",
        // A fresh loopback connection per request: a cached one could be closed by a retiring worker mid-request, and that failure would take a whole version out.
        "proxy_set_header Connection close;",
        "proxy_hide_header X-Release-Upstream;",
        ...locations,
        ...catchAll(spec.components),
    ]);
}

function versionServer(spec: RouterSpec, version: RouterVersion, connect: number, read: number): string[] {
    const locations = spec.components.flatMap((component) => [
        "",
        ...block(`location ${component.pathPrefix}`, [
            (component.backends[version.name] ?? []).length > 0
                ? `proxy_pass http://${backendUpstream(component, version)};`
                : `return 503 "${component.name} has no containers of ${version.name}\\n";`,
        ]),
    ]);
    return block("server", [
        `listen 127.0.0.1:${version.directPort};`,
        `add_header ${VERSION_HEADER} ${version.name} always;`,
        "add_header X-Release-Upstream $upstream_addr always;",
        ...proxyPolicy(connect, read),
        "proxy_set_header Host $host;",
        "proxy_set_header X-Forwarded-For $http_x_forwarded_for;",
        "proxy_set_header X-Forwarded-Proto $http_x_forwarded_proto;",
        "proxy_set_header X-Request-Id $http_x_request_id;",
        `proxy_set_header ${TARGET_HEADER} "";`,
        'proxy_set_header Connection "";',
        `proxy_hide_header ${VERSION_HEADER};`,
        ...locations,
        ...catchAll(spec.components),
    ]);
}

function catchAll(components: readonly RouterComponent[]): string[] {
    return components.some((component) => component.pathPrefix === "/") ? [] : ["", ...block("location /", ["return 404;"])];
}

/** The whole nginx.conf; same spec, same bytes. Throws the first validation error. */
export function renderNginxConfig(spec: RouterSpec): string {
    validateRouterSpec(spec);
    const connect = spec.connectTimeoutSeconds ?? 2;
    const read = spec.readTimeoutSeconds ?? 60;
    const health = `max_fails=${spec.maxFails ?? 1} fail_timeout=${spec.failTimeoutSeconds ?? 10}s`;
    const innerBudget = 2 * (connect + read) + 1;
    const weighted = spec.versions.filter((version) => version.weight > 0);
    const standby = spec.versions.filter((version) => version.weight === 0);

    const maps = spec.components.flatMap((component) => [
        ...block(`map $http_x_release_target ${targetVariable(component)}`, [
            'default "";',
            `"" ${ident(component.name)}__weighted;`,
            ...spec.versions.map((version) => `"${version.name}" ${versionUpstream(version)};`),
        ]),
        "",
    ]);
    const upstreams = [
        ...spec.versions.flatMap((version) => [...upstream(versionUpstream(version), [`server 127.0.0.1:${version.directPort};`]), ""]),
        ...spec.components.flatMap((component) => [
            ...upstream(`${ident(component.name)}__weighted`, [
                ...weighted.map((version) => `server 127.0.0.1:${version.directPort} weight=${version.weight} ${health};`),
                ...standby.map((version) => `server 127.0.0.1:${version.directPort} backup;`),
            ]),
            "",
            ...spec.versions.flatMap((version) => {
                const addresses = component.backends[version.name] ?? [];
                if (addresses.length === 0) return [];
                return [
                    ...upstream(
                        backendUpstream(component, version),
                        addresses.map((address) => `server ${address} ${health};`),
                        32,
                    ),
                    "",
                ];
            }),
        ]),
    ];
    const temp = spec.tempDirectory;
    const body = [
        `worker_processes ${spec.workerProcesses ?? "auto"};`,
        "",
        ...block("events", ["worker_connections 1024;"]),
        "",
        ...block("http", [
            "default_type application/octet-stream;",
            "server_tokens off;",
            "access_log off;",
            "proxy_http_version 1.1;",
            ...(temp === undefined
                ? []
                : ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((kind) => `${kind}_temp_path ${temp}/${kind};`)),
            `log_format release_json escape=json '{${LOG_FORMAT}}';`,
            "",
            ...maps,
            ...upstreams,
            ...frontServer(spec, spec.listenAddress ?? "0.0.0.0", innerBudget, connect),
            ...spec.versions.flatMap((version) => ["", ...versionServer(spec, version, connect, read)]),
            "",
            ...block("server", [
                `listen 127.0.0.1:${spec.statusPort};`,
                ...block(`location = ${spec.healthPath ?? "/healthz"}`, [
                    "default_type application/json;",
                    `return 200 '{"status":"ok","config":"@FINGERPRINT@"}\\n';`,
                ]),
                ...block("location /", ["return 404;"]),
            ]),
        ]),
        "",
    ].join("\n");
    const fingerprint = createHash("sha256").update(body).digest("hex").slice(0, 16);
    return `# safe-release router config ${fingerprint}\n${body.replace("@FINGERPRINT@", fingerprint)}`;
}

/** The fingerprint a rendered config carries; its status port answers with the same value once loaded. */
export function readConfigFingerprint(config: string): string {
    const match = FINGERPRINT_LINE.exec(config);
    if (!match) fail("the config has no `# safe-release router config <fingerprint>` first line; render it with `renderNginxConfig`");
    return match[1];
}
