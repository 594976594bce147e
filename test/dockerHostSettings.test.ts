import { strict as assert } from "assert";
import { parseReleaseConfig } from "../settings/release";
import { digestOf } from "./support/fixtures";
import { ROUTER_IMAGE, dockerConfig } from "./support/dockerFixtures";

type Raw = Record<string, unknown>;

const KEYS =
    "`host`, `network`, `routerImage`, `routerPort`, `routerAddress`, `restart`, `volumes`, `envFile`, " +
    "`healthIntervalSeconds`, `healthRetries`, `startPeriodSeconds`, `healthyWaitSeconds`";
const ROUTER_RULE =
    "an nginx image pinned by digest such as `nginx@sha256:<64 hex>` (find the digest with `docker buildx imagetools inspect nginx:1.27-alpine`), " +
    "or by tag such as `nginx:1.27-alpine` where `release:requirePinnedDigests` is false (the digest is then looked up at preview)";
const MOUNT_RULE = "a mount `source:target[:ro]`: an absolute host path or a volume name, then an absolute container path";

/** Raw `release:` values of a valid docker-host stack; `dockerHost` entries merge into the fixture's. */
function raw(docker: Raw | null = {}, overrides: Raw = {}): Raw {
    const stack = dockerConfig({ "release:version": "v1.5.0" });
    const values: Raw = Object.fromEntries(Object.entries(stack).map(([k, v]) => [k.slice("release:".length), v]));
    values.dockerHost = docker === null ? undefined : { routerImage: ROUTER_IMAGE, ...docker };
    for (const [k, v] of Object.entries({ ...values, ...overrides }))
        if (v === undefined) delete values[k];
        else values[k] = v;
    return values;
}

describe("`release:dockerHost` settings", () => {
    it("defaults to the local daemon, a network named after the app, port 8080 on all addresses, unless-stopped", () => {
        const config = parseReleaseConfig(raw());
        assert.equal(config.platform, "docker-host");
        assert.equal(config.aws, undefined);
        assert.deepEqual(config.docker, {
            network: "shop",
            routerImage: ROUTER_IMAGE,
            routerPort: 8080,
            routerAddress: "0.0.0.0",
            restart: "unless-stopped",
            volumes: {},
            envFile: {},
            healthIntervalSeconds: 10,
            healthRetries: 3,
            startPeriodSeconds: 30,
            healthyWaitSeconds: 120,
        });
    });

    it("reads a remote host, mounts per component and env files", () => {
        const config = parseReleaseConfig(
            raw({
                host: "ssh://deploy@app.example.com",
                network: "shop-net",
                routerPort: "80",
                restart: "always",
                volumes: { api: ["/srv/shop/uploads:/app/uploads", "shop-cache:/cache:ro"] },
                envFile: { api: "env/api.env" },
            }),
        );
        assert.equal(config.docker!.host, "ssh://deploy@app.example.com");
        assert.deepEqual([config.docker!.network, config.docker!.routerPort, config.docker!.restart], ["shop-net", 80, "always"]);
        assert.deepEqual(config.docker!.volumes, {
            api: [
                { source: "/srv/shop/uploads", target: "/app/uploads", readOnly: false, kind: "bind" },
                { source: "shop-cache", target: "/cache", readOnly: true, kind: "volume" },
            ],
        });
        assert.deepEqual(config.docker!.envFile, { api: "env/api.env" });
    });

    const refusals: Array<[string, Raw | null, Raw, string]> = [
        [
            "missing",
            null,
            {},
            '`release:dockerHost` must be set when `release:platform` is "docker-host" (at least `routerImage`); got nothing',
        ],
        ["not an object", null, { dockerHost: "local" }, '`release:dockerHost` must be an object; got "local"'],
        ["unknown key", { port: 80 }, {}, `\`release:dockerHost\` has unknown key \`port\`; valid keys are ${KEYS}`],
        ["router image missing", { routerImage: undefined }, {}, `\`release:dockerHost.routerImage\` must be ${ROUTER_RULE}; got nothing`],
        [
            "router image by tag where pinning is required",
            { routerImage: "nginx:1.27-alpine" },
            { requirePinnedDigests: true, digests: { "v1.5.0": { api: digestOf("a"), worker: digestOf("w") } } },
            "`release:dockerHost.routerImage` must be pinned by digest (`nginx@sha256:…`) because `release:requirePinnedDigests` is true; " +
                "find it with `docker buildx imagetools inspect nginx:1.27-alpine`",
        ],
        [
            "router image with tag and digest",
            { routerImage: `nginx:1.27@${digestOf("n")}` },
            {},
            `\`release:dockerHost.routerImage\` must be ${ROUTER_RULE}; got ${JSON.stringify(`nginx:1.27@${digestOf("n")}`).slice(0, 77)}...`,
        ],
        ["router image bare", { routerImage: "nginx" }, {}, `\`release:dockerHost.routerImage\` must be ${ROUTER_RULE}; got "nginx"`],
        [
            "router image with tag and digest",
            { routerImage: `nginx:1.27@${digestOf("x")}` },
            {},
            `\`release:dockerHost.routerImage\` must be ${ROUTER_RULE}; got "nginx:1.27@sha256:7878787878787878787878787878787878787878787878787878787878...`,
        ],
        [
            "short digest",
            { routerImage: "nginx@sha256:abc" },
            {},
            `\`release:dockerHost.routerImage\` must be ${ROUTER_RULE}; got "nginx@sha256:abc"`,
        ],
        [
            "http host",
            { host: "http://example.com" },
            {},
            '`release:dockerHost.host` must be a Docker host `ssh://user@host`, `tcp://host:2376` or `unix:///path/docker.sock` (leave it unset for the local daemon); got "http://example.com"',
        ],
        [
            "network name",
            { network: "my net" },
            {},
            '`release:dockerHost.network` must be a Docker network name (letters, digits, `_`, `.`, `-`); got "my net"',
        ],
        ["router port", { routerPort: 70000 }, {}, "`release:dockerHost.routerPort` must be an integer from 1 to 65535; got 70000"],
        [
            "router address",
            { routerAddress: "localhost" },
            {},
            '`release:dockerHost.routerAddress` must be an IPv4 address such as `127.0.0.1` or `0.0.0.0`; got "localhost"',
        ],
        [
            "restart",
            { restart: "sometimes" },
            {},
            '`release:dockerHost.restart` must be one of "no", "on-failure", "always", "unless-stopped"; got "sometimes"',
        ],
        [
            "volumes of an unknown component",
            { volumes: { web: ["/a:/b"] } },
            {},
            '`release:dockerHost.volumes.web` must be a component declared in `release:components` (`api`, `worker`); got "web"',
        ],
        [
            "volumes not a list",
            { volumes: { api: "/a:/b" } },
            {},
            '`release:dockerHost.volumes.api` must be a list of `source:target[:ro]` mounts; got "/a:/b"',
        ],
        [
            "relative container path",
            { volumes: { api: ["/a:data"] } },
            {},
            `\`release:dockerHost.volumes.api[0]\` must be ${MOUNT_RULE}; got "/a:data"`,
        ],
        [
            "unknown mode",
            { volumes: { api: ["/a:/b:rx"] } },
            {},
            `\`release:dockerHost.volumes.api[0]\` must be ${MOUNT_RULE}; got "/a:/b:rx"`,
        ],
        [
            "relative host path",
            { volumes: { api: ["./data:/data"] } },
            {},
            `\`release:dockerHost.volumes.api[0]\` must be ${MOUNT_RULE}; got "./data:/data"`,
        ],
        [
            "a target mounted twice",
            { volumes: { api: ["/a:/data", "vol:/data"] } },
            {},
            "`release:dockerHost.volumes.api[1]` mounts /data a second time; each container path takes one mount",
        ],
        [
            "env file path with a space",
            { envFile: { api: "my env" } },
            {},
            '`release:dockerHost.envFile.api` must be a path without whitespace to an env file on the machine running Pulumi; got "my env"',
        ],
        [
            "wait too short",
            { healthyWaitSeconds: 5 },
            {},
            "`release:dockerHost.healthyWaitSeconds` must be an integer from 10 to 3600; got 5",
        ],
    ];
    for (const [label, docker, overrides, message] of refusals) {
        it(`refuses ${label}`, () => {
            assert.throws(() => parseReleaseConfig(raw(docker, overrides)), { name: "ConfigError", message });
        });
    }

    it("refuses a Secrets Manager ARN in `secretEnv`: nothing on one host would read it", () => {
        const components = {
            api: {
                image: "ghcr.io/acme/shop-api",
                port: 8080,
                secretEnv: { STRIPE_KEY: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:stripe" },
            },
        };
        assert.throws(() => parseReleaseConfig(raw({}, { components, digests: undefined })), {
            name: "ConfigError",
            message:
                "`release:components.api.secretEnv.STRIPE_KEY` must be `config:<key>` on docker-host (a secret set with " +
                "`pulumi config set --secret release:<key>`; ARNs are read by ECS, which does not run here); got " +
                '"arn:aws:secretsmanager:eu-west-1:123456789012:secret:stripe"',
        });
    });

    it("names docker-host among the valid platforms", () => {
        assert.throws(() => parseReleaseConfig(raw({}, { platform: "kubernetes" })), {
            message: '`release:platform` must be one of "aws-ecs", "docker-host", "host"; got "kubernetes"',
        });
    });
});
