import * as assert from "assert";
import { readConfigFingerprint, renderNginxConfig, RouterSpec, validateRouterSpec } from "../core/nginxConfig";

const BASE: RouterSpec = {
    listenPort: 8080,
    statusPort: 8081,
    versions: [
        { name: "v1.5.0", weight: 10, directPort: 18001 },
        { name: "v1.4.2", weight: 90, directPort: 18002 },
    ],
    components: [
        { name: "web", pathPrefix: "/", backends: { "v1.5.0": ["web-v1-5-0:3000"], "v1.4.2": ["web-v1-4-2:3000", "web-v1-4-2-b:3000"] } },
        { name: "api-gw", pathPrefix: "/api/", backends: { "v1.5.0": ["api-v1-5-0:8000"], "v1.4.2": ["api-v1-4-2:8000"] } },
    ],
};

function withVersions(weights: [number, number]): RouterSpec {
    return { ...BASE, versions: BASE.versions.map((version, i) => ({ ...version, weight: weights[i] })) };
}

/** The lines of one `head { … }` block, from its head to its closing brace at the same indent. */
function blockOf(config: string, head: string): string {
    const lines = config.split("\n");
    const start = lines.findIndex((line) => line.trim() === `${head} {`);
    assert.notStrictEqual(start, -1, `no block \`${head}\``);
    const indent = lines[start].length - lines[start].trimStart().length;
    const end = lines.findIndex((line, i) => i > start && line === `${" ".repeat(indent)}}`);
    return lines
        .slice(start, end + 1)
        .map((line) => line.slice(indent))
        .join("\n");
}

describe("renderNginxConfig", () => {
    it("weights the version hops of each component by the canary weight", () => {
        assert.strictEqual(
            blockOf(renderNginxConfig(BASE), "upstream web__weighted"),
            [
                "upstream web__weighted {",
                "    zone web__weighted 64k;",
                "    server 127.0.0.1:18001 weight=10 max_fails=1 fail_timeout=10s;",
                "    server 127.0.0.1:18002 weight=90 max_fails=1 fail_timeout=10s;",
                "}",
            ].join("\n"),
        );
    });

    it("keeps a weight-0 version out of the rotation as a backup only", () => {
        const config = renderNginxConfig({ ...withVersions([0, 100]), maxFails: 3, failTimeoutSeconds: 30 });
        assert.strictEqual(
            blockOf(config, "upstream api_gw__weighted"),
            [
                "upstream api_gw__weighted {",
                "    zone api_gw__weighted 64k;",
                "    server 127.0.0.1:18002 weight=100 max_fails=3 fail_timeout=30s;",
                "    server 127.0.0.1:18001 backup;",
                "}",
            ].join("\n"),
        );
    });

    it("gives each version's containers their own upstream with passive health checks", () => {
        assert.strictEqual(
            blockOf(renderNginxConfig(BASE), "upstream web__v1_4_2"),
            [
                "upstream web__v1_4_2 {",
                "    zone web__v1_4_2 64k;",
                "    server web-v1-4-2:3000 max_fails=1 fail_timeout=10s;",
                "    server web-v1-4-2-b:3000 max_fails=1 fail_timeout=10s;",
                "    keepalive 32;",
                "}",
            ].join("\n"),
        );
    });

    it("maps `X-Release-Target` to one version, no header to the weighted split, anything else to nothing", () => {
        const config = renderNginxConfig(BASE);
        assert.strictEqual(
            blockOf(config, "map $http_x_release_target $api_gw__upstream"),
            [
                "map $http_x_release_target $api_gw__upstream {",
                '    default "";',
                '    "" api_gw__weighted;',
                '    "v1.5.0" release__v1_5_0;',
                '    "v1.4.2" release__v1_4_2;',
                "}",
            ].join("\n"),
        );
        assert.strictEqual(
            blockOf(config, "location /api/"),
            [
                "location /api/ {",
                "    set $release_component api-gw;",
                '    if ($api_gw__upstream = "") {',
                '        return 400 "`X-Release-Target` must name a live version (v1.5.0, v1.4.2)\\n";',
                "    }",
                "    proxy_pass http://$api_gw__upstream;",
                "}",
            ].join("\n"),
        );
    });

    it("has each version hop name itself in `X-Release-Version` and retry among its own containers", () => {
        const config = renderNginxConfig({ ...BASE, connectTimeoutSeconds: 3, readTimeoutSeconds: 20 });
        const hop = config.split("server {\n").find((server) => server.includes("listen 127.0.0.1:18001;"));
        assert.ok(hop, "no server listening on the v1.5.0 direct port");
        for (const line of [
            "add_header X-Release-Version v1.5.0 always;",
            "add_header X-Release-Upstream $upstream_addr always;",
            "proxy_connect_timeout 3s;",
            "proxy_read_timeout 20s;",
            "proxy_next_upstream error timeout http_502 http_503 http_504;",
            "proxy_next_upstream_timeout 23s;",
            "proxy_hide_header X-Release-Version;",
            'proxy_set_header X-Release-Target "";',
            "location /api/ {\n            proxy_pass http://api_gw__v1_5_0;",
        ]) {
            assert.ok(hop.includes(line), `v1.5.0 hop lacks ${JSON.stringify(line)}`);
        }
        assert.ok(hop.includes('proxy_set_header Connection "";'), "a hop keeps its connections to containers alive");
        // The front waits longer than a hop, so a slow version answers 504 itself and the request moves on.
        assert.ok(
            config.includes(
                "        proxy_read_timeout 47s;\n        proxy_next_upstream error timeout http_502 http_503 http_504;\n        proxy_next_upstream_tries 2;\n",
            ),
        );
        assert.ok(config.includes("        proxy_set_header Connection close;\n        proxy_hide_header X-Release-Upstream;\n"));
        assert.ok(
            config.includes("    upstream release__v1_5_0 {\n        zone release__v1_5_0 64k;\n        server 127.0.0.1:18001;\n    }\n"),
        );
    });

    it("keeps no client connection alive on the front, and only there", () => {
        const config = renderNginxConfig(BASE);
        const servers = config.split("server {\n").slice(1);
        const front = servers.find((server) => server.includes("listen 0.0.0.0:8080;"));
        assert.ok(
            front?.includes("        listen 0.0.0.0:8080;\n        access_log /dev/stdout release_json;\n        keepalive_timeout 0;\n"),
        );
        assert.strictEqual(config.split("keepalive_timeout").length - 1, 1, "version hops and the status server keep nginx's default");
    });

    it("answers 503 from a version hop for a component that has no containers of that (weight-0) version", () => {
        const spec = { ...withVersions([0, 100]), components: [{ ...BASE.components[0], backends: { "v1.4.2": ["web-v1-4-2:3000"] } }] };
        const config = renderNginxConfig(spec);
        assert.ok(config.includes('        location / {\n            return 503 "web has no containers of v1.5.0\\n";\n        }\n'));
        assert.ok(!config.includes("upstream web__v1_5_0"));
    });

    it("logs JSON with the serving version and the path without its query string", () => {
        const config = renderNginxConfig(BASE);
        const format = config.split("\n").find((line) => line.includes("log_format"));
        assert.strictEqual(
            format,
            '    log_format release_json escape=json \'{"time":"$time_iso8601","request_id":"$request_id",' +
                '"component":"$release_component","method":"$request_method","path":"$uri","status":$status,' +
                '"request_time":$request_time,"version":"$upstream_http_x_release_version",' +
                '"upstream_addr":"$upstream_http_x_release_upstream","upstream_status":"$upstream_status",' +
                '"upstream_response_time":"$upstream_response_time","hops":"$upstream_addr","target":"$http_x_release_target"}\';',
        );
        assert.ok(!config.includes("$request_uri"));
        assert.ok(config.includes("        access_log /dev/stdout release_json;\n"));
    });

    it("adds a 404 catch-all only when no component owns `/`", () => {
        const apiOnly = renderNginxConfig({ ...BASE, components: [BASE.components[1]] });
        assert.strictEqual(
            apiOnly.split("location / {\n            return 404;").length - 1,
            4,
            "front, two version hops and the status server",
        );
        const withWeb = renderNginxConfig(BASE);
        assert.strictEqual(withWeb.split("location / {\n            return 404;").length - 1, 1, "only the status server");
    });

    it("serves its fingerprint on the status port and puts buffers under `tempDirectory`", () => {
        const config = renderNginxConfig({ ...BASE, healthPath: "/router/health", tempDirectory: "/srv/nginx", workerProcesses: 2 });
        const fingerprint = readConfigFingerprint(config);
        assert.match(fingerprint, /^[0-9a-f]{16}$/);
        assert.ok(config.startsWith(`# safe-release router config ${fingerprint}\nworker_processes 2;\n`));
        assert.ok(
            config.includes(
                `location = /router/health {\n            default_type application/json;\n            return 200 '{"status":"ok","config":"${fingerprint}"}\\n';`,
            ),
        );
        assert.ok(config.includes("    client_body_temp_path /srv/nginx/client_body;\n    proxy_temp_path /srv/nginx/proxy;\n"));
        assert.ok(!renderNginxConfig(BASE).includes("_temp_path"));
    });

    it("renders the same bytes for the same spec and a new fingerprint for any change", () => {
        const first = renderNginxConfig(BASE);
        assert.strictEqual(renderNginxConfig(JSON.parse(JSON.stringify(BASE))), first);
        const shifted = renderNginxConfig(withVersions([50, 50]));
        assert.notStrictEqual(readConfigFingerprint(shifted), readConfigFingerprint(first));
        assert.strictEqual(shifted.split("\n").length, first.split("\n").length);
    });

    it("routes all traffic to a single live version", () => {
        const spec: RouterSpec = {
            ...BASE,
            versions: [{ name: "v1.4.2", weight: 100, directPort: 18002 }],
            components: [{ name: "web", pathPrefix: "/", backends: { "v1.4.2": ["web:3000"] } }],
        };
        const config = renderNginxConfig(spec);
        assert.ok(
            config.includes(
                "    upstream web__weighted {\n        zone web__weighted 64k;\n        server 127.0.0.1:18002 weight=100 max_fails=1 fail_timeout=10s;\n    }\n",
            ),
        );
        assert.ok(config.includes('return 400 "`X-Release-Target` must name a live version (v1.4.2)\\n";'));
        assert.ok(config.includes("        proxy_next_upstream_tries 1;\n"));
    });

    it("refuses a config without a fingerprint line", () => {
        assert.throws(() => readConfigFingerprint("worker_processes 1;\n"), {
            message: "the config has no `# safe-release router config <fingerprint>` first line; render it with `renderNginxConfig`",
        });
    });
});

describe("validateRouterSpec", () => {
    const web = BASE.components[0];
    const cases: Array<[string, RouterSpec, string]> = [
        ["a port out of range", { ...BASE, listenPort: 0 }, "`listenPort` must be an integer from 1 to 65535; got 0"],
        ["a fractional status port", { ...BASE, statusPort: 80.5 }, "`statusPort` must be an integer from 1 to 65535; got 80.5"],
        [
            "the status port on the listen port",
            { ...BASE, statusPort: 8080 },
            "`statusPort` 8080 is already used by `listenPort`; every port must be distinct",
        ],
        [
            "a host name as listen address",
            { ...BASE, listenAddress: "localhost" },
            '`listenAddress` must be an IPv4 address; got "localhost"',
        ],
        [
            "a relative health path",
            { ...BASE, healthPath: "healthz" },
            '`healthPath` must start with `/` and use only letters, digits and `-._~/`; got "healthz"',
        ],
        [
            "a relative log path",
            { ...BASE, accessLogPath: "access.log" },
            '`accessLogPath` must be an absolute path of letters, digits and `-._/`; got "access.log"',
        ],
        [
            "a temp path that could inject config",
            { ...BASE, tempDirectory: "/tmp; user x" },
            '`tempDirectory` must be an absolute path of letters, digits and `-._/`; got "/tmp; user x"',
        ],
        ["a zero timeout", { ...BASE, readTimeoutSeconds: 0 }, "`readTimeoutSeconds` must be an integer from 1 to 3600; got 0"],
        ["a zero max_fails", { ...BASE, maxFails: 0 }, "`maxFails` must be an integer from 1 to 100; got 0"],
        ["a bad worker count", { ...BASE, workerProcesses: 0 }, "`workerProcesses` must be an integer from 1 to 256; got 0"],
        [
            "no live version",
            { ...BASE, versions: [] },
            "`versions` must hold 1 or 2 live versions (`release:version`, then `release:previous`); got 0",
        ],
        [
            "a tag that is not SemVer",
            { ...BASE, versions: [{ name: "latest", weight: 100, directPort: 18001 }] },
            '`versions[0].name` must be a SemVer tag vX.Y.Z; got "latest"',
        ],
        [
            "a repeated version",
            { ...BASE, versions: [BASE.versions[0], { ...BASE.versions[0], directPort: 18002 }] },
            "`versions[1].name` repeats `v1.5.0`; each live version appears once",
        ],
        ["a weight above 100", withVersions([101, 90]), "`versions[0].weight` must be an integer from 0 to 100; got 101"],
        ["a fractional weight", withVersions([10.5, 89.5]), "`versions[0].weight` must be an integer from 0 to 100; got 10.5"],
        [
            "weights not summing to 100",
            withVersions([10, 80]),
            "`versions` weights must sum to 100 (`release:canaryWeight` on the new version, the rest on the previous); got 90 (v1.5.0: 10, v1.4.2: 80)",
        ],
        [
            "a lone version below 100",
            { ...BASE, versions: [{ name: "v1.4.2", weight: 0, directPort: 18002 }] },
            "`versions` weights must sum to 100 (`release:canaryWeight` on the new version, the rest on the previous); got 0 (v1.4.2: 0)",
        ],
        [
            "a direct port shared with the status port",
            { ...BASE, versions: [BASE.versions[0], { ...BASE.versions[1], directPort: 8081 }] },
            "`versions[1].directPort` 8081 is already used by `statusPort`; every port must be distinct",
        ],
        [
            "two versions on one direct port",
            { ...BASE, versions: [BASE.versions[0], { ...BASE.versions[1], directPort: 18001 }] },
            "`versions[1].directPort` 18001 is already used by `versions[0].directPort`; every port must be distinct",
        ],
        ["no component", { ...BASE, components: [] }, "`components` must hold at least one web component; got none"],
        [
            "an upper-case component name",
            { ...BASE, components: [{ ...web, name: "Web" }] },
            '`components[0].name` must be lowercase letters, digits and dashes, starting with a letter; got "Web"',
        ],
        [
            "a prefix without its trailing slash",
            { ...BASE, components: [{ ...web, pathPrefix: "/api" }] },
            '`components[0].pathPrefix` must start and end with `/` and use only letters, digits and `-._~/`; got "/api"',
        ],
        [
            "a repeated component name",
            { ...BASE, components: [web, { ...web, pathPrefix: "/v2/" }] },
            "`components[1].name` repeats `components[0].name` (web); names must be unique",
        ],
        [
            "a repeated prefix",
            { ...BASE, components: [web, { ...web, name: "site" }] },
            "`components[1].pathPrefix` repeats `components[0].pathPrefix` (/); prefixes must be unique",
        ],
        [
            "backends of a version that is not live",
            { ...BASE, components: [{ ...web, backends: { ...web.backends, "v1.3.0": ["old:3000"] } }] },
            "`components[0].backends` names `v1.3.0`, which is not a live version (live: v1.5.0, v1.4.2)",
        ],
        [
            "no backends for a weighted version",
            { ...BASE, components: [{ ...web, backends: { "v1.4.2": ["web:3000"] } }] },
            '`components[0].backends["v1.5.0"]` must list at least one host:port, since `v1.5.0` has weight 10',
        ],
        [
            "a backend without a port",
            { ...BASE, components: [{ ...web, backends: { ...web.backends, "v1.5.0": ["web-v1-5-0"] } }] },
            '`components[0].backends["v1.5.0"][0]` must be host:port with a port from 1 to 65535; got "web-v1-5-0"',
        ],
        [
            "a backend port out of range",
            { ...BASE, components: [{ ...web, backends: { ...web.backends, "v1.4.2": ["a:1", "b:70000"] } }] },
            '`components[0].backends["v1.4.2"][1]` must be host:port with a port from 1 to 65535; got "b:70000"',
        ],
        [
            "a backend that could inject config",
            { ...BASE, components: [{ ...web, backends: { ...web.backends, "v1.4.2": ["a:1; }"] } }] },
            '`components[0].backends["v1.4.2"][0]` must be host:port with a port from 1 to 65535; got "a:1; }"',
        ],
        [
            "one container under two versions",
            { ...BASE, components: [{ ...web, backends: { "v1.5.0": ["web:3000"], "v1.4.2": ["web:3000"] } }] },
            '`components[0].backends["v1.4.2"][0]` web:3000 is already listed under `v1.5.0`; each container serves one version',
        ],
    ];
    for (const [problem, spec, message] of cases) {
        it(`refuses ${problem}`, () => {
            assert.throws(() => validateRouterSpec(spec), { message });
            assert.throws(() => renderNginxConfig(spec), { message });
        });
    }

    it("accepts a weight-0 version with no containers for a component", () => {
        assert.doesNotThrow(() =>
            validateRouterSpec({ ...withVersions([0, 100]), components: [{ ...web, backends: { "v1.4.2": ["web:3000"] } }] }),
        );
    });
});
