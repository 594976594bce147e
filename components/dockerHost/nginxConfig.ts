import { createHash } from "crypto";

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
 * Known limit: a non-idempotent request (POST) whose version fails after the front has sent it
 * to that version's hop is not retried on the other version; the next requests avoid the
 * failed version for `failTimeoutSeconds`.
 */

export interface RouterVersion {
    /** SemVer tag, e.g. `v1.5.0`. */
    readonly name: string;
    /** Percent of requests (0–100); the live versions' weights sum to 100. */
    readonly weight: number;
    /** Loopback port of this version's hop; also the way to reach this version alone. */
    readonly directPort: number;
}

export interface RouterComponent {
    /** Lowercase name such as `web` or `api`. */
    readonly name: string;
    /** Requests whose path starts with this prefix go to this component, e.g. `/` or `/api/`. */
    readonly pathPrefix: string;
    /** `host:port` of each container, keyed by live version name. */
    readonly backends: Readonly<Record<string, readonly string[]>>;
}

export interface RouterSpec {
    readonly listenPort: number;
    /** @default "0.0.0.0" */
    readonly listenAddress?: string;
    /** Loopback port answering `healthPath` with the loaded config's fingerprint. */
    readonly statusPort: number;
    /** @default "/healthz" */
    readonly healthPath?: string;
    /** The live set: `release:version` first, then `release:previous` when it is live. */
    readonly versions: readonly RouterVersion[];
    readonly components: readonly RouterComponent[];
    /** @default 2 */
    readonly connectTimeoutSeconds?: number;
    /** @default 60 */
    readonly readTimeoutSeconds?: number;
    /** How long a failed container or version gets no traffic. @default 10 */
    readonly failTimeoutSeconds?: number;
    /** Failures within `failTimeoutSeconds` that take a peer out. @default 1 */
    readonly maxFails?: number;
    /** @default "auto" */
    readonly workerProcesses?: number | "auto";
    /** @default "/dev/stdout" */
    readonly accessLogPath?: string;
    /** Directory for nginx's request-body and proxy buffers; nginx's built-in paths when absent. */
    readonly tempDirectory?: string;
}

/** Header a smoke test sends to reach one live version, e.g. `X-Release-Target: v1.5.0`. */
export const TARGET_HEADER = "X-Release-Target";
/** Response header naming the version that served. */
export const VERSION_HEADER = "X-Release-Version";

// Pre-release suffixes (`v1.5.0-rc.1`) are release tags too; `ident` folds their `.` and `-` like the others.
const SEMVER_TAG = /^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?$/;
const COMPONENT_NAME = /^[a-z][a-z0-9-]*$/;
const URL_PATH = /^\/[A-Za-z0-9._~\/-]*$/;
const BACKEND = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?:(\d{1,5})$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const FILE_PATH = /^\/[A-Za-z0-9._\/-]*$/;
const FINGERPRINT_LINE = /^# safe-release router config ([0-9a-f]{16})\n/;

function fail(message: string): never {
    throw new Error(message);
}

function checkInteger(field: string, value: unknown, min: number, max: number): void {
    if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
        fail(`\`${field}\` must be an integer from ${min} to ${max}; got ${JSON.stringify(value)}`);
    }
}

function checkPath(field: string, value: string, mustEndWithSlash: boolean): void {
    if (URL_PATH.test(value) && (!mustEndWithSlash || value.endsWith("/"))) return;
    const shape = mustEndWithSlash ? "start and end with `/`" : "start with `/`";
    fail(`\`${field}\` must ${shape} and use only letters, digits and \`-._~/\`; got ${JSON.stringify(value)}`);
}

/** Throws the first problem found, naming the spec field and what would be valid. */
export function validateRouterSpec(spec: RouterSpec): void {
    checkInteger("listenPort", spec.listenPort, 1, 65535);
    checkInteger("statusPort", spec.statusPort, 1, 65535);
    const listenAddress = spec.listenAddress ?? "0.0.0.0";
    if (!IPV4.test(listenAddress)) fail(`\`listenAddress\` must be an IPv4 address; got ${JSON.stringify(listenAddress)}`);
    checkPath("healthPath", spec.healthPath ?? "/healthz", false);
    for (const field of ["accessLogPath", "tempDirectory"] as const) {
        const value = spec[field];
        if (value !== undefined && !FILE_PATH.test(value)) {
            fail(`\`${field}\` must be an absolute path of letters, digits and \`-._/\`; got ${JSON.stringify(value)}`);
        }
    }
    checkInteger("connectTimeoutSeconds", spec.connectTimeoutSeconds ?? 2, 1, 3600);
    checkInteger("readTimeoutSeconds", spec.readTimeoutSeconds ?? 60, 1, 3600);
    checkInteger("failTimeoutSeconds", spec.failTimeoutSeconds ?? 10, 1, 3600);
    checkInteger("maxFails", spec.maxFails ?? 1, 1, 100);
    if (spec.workerProcesses !== "auto") checkInteger("workerProcesses", spec.workerProcesses ?? 1, 1, 256);
    const ports = new Map<number, string>([[spec.listenPort, "listenPort"]]);
    if (spec.statusPort === spec.listenPort) fail(`\`statusPort\` ${spec.statusPort} is already used by \`listenPort\`; every port must be distinct`);
    ports.set(spec.statusPort, "statusPort");

    const versions = spec.versions;
    if (versions.length < 1 || versions.length > 2) {
        fail(`\`versions\` must hold 1 or 2 live versions (\`release:version\`, then \`release:previous\`); got ${versions.length}`);
    }
    versions.forEach((version, i) => {
        if (!SEMVER_TAG.test(version.name)) fail(`\`versions[${i}].name\` must be a SemVer tag vX.Y.Z; got ${JSON.stringify(version.name)}`);
        const first = versions.findIndex((other) => other.name === version.name);
        if (first !== i) fail(`\`versions[${i}].name\` repeats \`${version.name}\`; each live version appears once`);
        checkInteger(`versions[${i}].weight`, version.weight, 0, 100);
        checkInteger(`versions[${i}].directPort`, version.directPort, 1, 65535);
        const owner = ports.get(version.directPort);
        if (owner) fail(`\`versions[${i}].directPort\` ${version.directPort} is already used by \`${owner}\`; every port must be distinct`);
        ports.set(version.directPort, `versions[${i}].directPort`);
    });
    const total = versions.reduce((sum, version) => sum + version.weight, 0);
    if (total !== 100) {
        const parts = versions.map((version) => `${version.name}: ${version.weight}`).join(", ");
        fail(`\`versions\` weights must sum to 100 (\`release:canaryWeight\` on the new version, the rest on the previous); got ${total} (${parts})`);
    }

    if (spec.components.length === 0) fail("`components` must hold at least one web component; got none");
    const live = versions.map((version) => version.name);
    spec.components.forEach((component, c) => {
        const at = `components[${c}]`;
        const name = JSON.stringify(component.name);
        if (!COMPONENT_NAME.test(component.name)) fail(`\`${at}.name\` must be lowercase letters, digits and dashes, starting with a letter; got ${name}`);
        checkPath(`${at}.pathPrefix`, component.pathPrefix, true);
        spec.components.slice(0, c).forEach((earlier, e) => {
            if (earlier.name === component.name) fail(`\`${at}.name\` repeats \`components[${e}].name\` (${component.name}); names must be unique`);
            const prefix = component.pathPrefix;
            if (earlier.pathPrefix === prefix) fail(`\`${at}.pathPrefix\` repeats \`components[${e}].pathPrefix\` (${prefix}); prefixes must be unique`);
        });
        for (const name of Object.keys(component.backends).sort()) {
            if (!live.includes(name)) fail(`\`${at}.backends\` names \`${name}\`, which is not a live version (live: ${live.join(", ")})`);
        }
        const seen = new Map<string, string>();
        versions.forEach((version) => {
            const addresses = component.backends[version.name] ?? [];
            if (addresses.length === 0 && version.weight > 0) {
                fail(`\`${at}.backends["${version.name}"]\` must list at least one host:port, since \`${version.name}\` has weight ${version.weight}`);
            }
            addresses.forEach((address, b) => {
                const field = `${at}.backends["${version.name}"][${b}]`;
                const match = BACKEND.exec(address);
                if (!match || Number(match[2]) < 1 || Number(match[2]) > 65535) {
                    fail(`\`${field}\` must be host:port with a port from 1 to 65535; got ${JSON.stringify(address)}`);
                }
                const other = seen.get(address);
                if (other) fail(`\`${field}\` ${address} is already listed under \`${other}\`; each container serves one version`);
                seen.set(address, version.name);
            });
        });
    });
}

/** Identifiers inside the config: nginx names allow no dots, variables no dashes. */
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
    `"time":"$time_iso8601"`, `"request_id":"$request_id"`, `"component":"$release_component"`,
    `"method":"$request_method"`, `"path":"$uri"`, `"status":$status`, `"request_time":$request_time`,
    `"version":"$upstream_http_x_release_version"`, `"upstream_addr":"$upstream_http_x_release_upstream"`,
    `"upstream_status":"$upstream_status"`, `"upstream_response_time":"$upstream_response_time"`,
    `"hops":"$upstream_addr"`, `"target":"$http_x_release_target"`,
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
        "set $release_component \"\";",
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
        "proxy_set_header Connection \"\";",
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
            "default \"\";",
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
                return [...upstream(backendUpstream(component, version), addresses.map((address) => `server ${address} ${health};`), 32), ""];
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
            ...(temp === undefined ? [] : ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((kind) => `${kind}_temp_path ${temp}/${kind};`)),
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
