import { strict as assert } from "assert";
import { CONTAINER_DIFF, checkContainer, connectBodies, createBody, inspectedOutputs, parseDuration } from "./docker/container";
import { unhealthyMessage } from "./docker/health";
import { pullParameters, repoDigestFor } from "./docker/image";
import { DockerProvider } from "./docker/provider";
import { MANIFEST_MEDIA_TYPES, manifestUrl, parseImageReference, registryDigest } from "./docker/registry";
import { diffInputs } from "./docker/resource";
import { configFromRequest } from "./docker/serve";
import { UNKNOWN, conceal, resourceName, resourceType, reveal, secret, secretKeys } from "./docker/wire";

const URN = "urn:pulumi:dev::safe-release::safe-release:docker:DockerPlatform$docker:index/container:Container::shop-api";
const DIGEST = `sha256:${"a".repeat(64)}`;

/** The web container `DockerVersion` declares, after `check`. */
function webInputs(overrides: Record<string, unknown> = {}): Record<string, any> {
    return checkContainer(
        {},
        {
            name: "shop-api-v1-5-0",
            image: `127.0.0.1:5000/shop-api@${DIGEST}`,
            envs: ["RELEASE_VERSION=v1.5.0", "DATABASE_URL=postgres://u:hunter2@db/shop"],
            networksAdvanced: [{ name: "shop", aliases: ["shop-api-v1-5-0"] }],
            volumes: [
                { volumeName: "shop-media", containerPath: "/srv/media", readOnly: false },
                { hostPath: "/etc/shop", containerPath: "/etc/shop", readOnly: true },
            ],
            ports: [{ internal: 8080, external: 18080, ip: "127.0.0.1" }],
            restart: "unless-stopped",
            logDriver: "json-file",
            logOpts: { "max-size": "10m", "max-file": "3" },
            labels: [
                { label: "safe-release.app", value: "shop" },
                { label: "safe-release.version", value: "v1.5.0" },
            ],
            healthcheck: {
                tests: ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:8080/health"],
                interval: "2s",
                timeout: "5s",
                retries: 3,
                startPeriod: "1m30s",
            },
            wait: true,
            waitTimeout: 120,
            ...overrides,
        },
        "shop-api",
    ).inputs;
}

describe("stand-in docker provider: pure pieces", () => {
    describe("parseDuration (Go's time.ParseDuration, as upstream reads health check durations)", () => {
        const cases: Array<[string, number | undefined]> = [
            ["5s", 5e9],
            ["500ms", 5e8],
            ["1m30s", 90e9],
            ["1.5h", 5400e9],
            ["0", 0],
            ["0s", 0],
            ["5", undefined],
            ["5 s", undefined],
            ["", undefined],
        ];
        for (const [text, nanos] of cases) it(`${JSON.stringify(text)} → ${nanos}`, () => assert.equal(parseDuration(text), nanos));
    });

    describe("checkContainer", () => {
        it("fills upstream's defaults and keeps the given name", () => {
            const { inputs, failures } = checkContainer({}, { name: "web", image: "busybox" }, "web");
            assert.deepEqual(failures, []);
            assert.deepEqual(inputs, { name: "web", image: "busybox", restart: "no", wait: false, waitTimeout: 60 });
        });

        it("autonames from the resource name and keeps that name on later checks", () => {
            const first = checkContainer({}, { image: "busybox" }, "web").inputs.name;
            assert.match(first, /^web-[0-9a-f]{7}$/);
            assert.equal(checkContainer({ name: first }, { image: "busybox" }, "web").inputs.name, first);
        });

        it("names every invalid or unimplemented input and what would be valid", () => {
            const { failures } = checkContainer(
                {},
                {
                    restart: "sometimes",
                    healthcheck: { tests: [], interval: "2 seconds" },
                    ports: [{ external: 80 }],
                    volumes: [{ hostPath: "/x" }],
                    gpus: "all",
                },
                "web",
            );
            assert.deepEqual(failures, [
                { property: "gpus", reason: failures[0].reason },
                { property: "image", reason: "`image` is required: the image to run, e.g. `repo@sha256:…`" },
                { property: "restart", reason: '`restart` must be one of `no`, `on-failure`, `always`, `unless-stopped`; got "sometimes"' },
                {
                    property: "healthcheck.tests",
                    reason: '`healthcheck.tests` is required, e.g. `["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:8080/"]`',
                },
                {
                    property: "healthcheck.interval",
                    reason: '`healthcheck.interval` must be a duration such as `5s`, `500ms` or `1m30s`; got "2 seconds"',
                },
                { property: "ports[0].internal", reason: "`internal` is required: the port inside the container" },
                {
                    property: "volumes[0].containerPath",
                    reason: "`containerPath` is required: where the volume is mounted in the container",
                },
            ]);
            assert.match(
                failures[0].reason,
                /^the stand-in docker provider does not implement `gpus` of Container; it implements `name`, `image`, /,
            );
        });

        it("lets unknown (preview) values through unchecked", () => {
            const { failures } = checkContainer(
                {},
                { name: "web", image: UNKNOWN, restart: UNKNOWN, ports: UNKNOWN, healthcheck: UNKNOWN },
                "web",
            );
            assert.deepEqual(failures, []);
        });
    });

    describe("createBody", () => {
        it("is the Engine API create body of the program's web container", () => {
            assert.deepEqual(createBody(webInputs()), {
                Image: `127.0.0.1:5000/shop-api@${DIGEST}`,
                Env: ["RELEASE_VERSION=v1.5.0", "DATABASE_URL=postgres://u:hunter2@db/shop"],
                Labels: { "safe-release.app": "shop", "safe-release.version": "v1.5.0" },
                ExposedPorts: { "8080/tcp": {} },
                Healthcheck: {
                    Test: ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:8080/health"],
                    Interval: 2e9,
                    Timeout: 5e9,
                    StartPeriod: 90e9,
                    Retries: 3,
                },
                HostConfig: {
                    Binds: ["shop-media:/srv/media", "/etc/shop:/etc/shop:ro"],
                    PortBindings: { "8080/tcp": [{ HostIp: "127.0.0.1", HostPort: "18080" }] },
                    RestartPolicy: { Name: "unless-stopped", MaximumRetryCount: 0 },
                    LogConfig: { Type: "json-file", Config: { "max-size": "10m", "max-file": "3" } },
                    NetworkMode: "shop",
                },
                NetworkingConfig: { EndpointsConfig: { shop: { Aliases: ["shop-api-v1-5-0"] } } },
            });
        });

        it("keeps the router's exec-form health check and a command as given", () => {
            const body = createBody(
                webInputs({
                    command: ["nginx", "-g", "daemon off;"],
                    healthcheck: { tests: ["CMD", "wget", "-q", "http://127.0.0.1:8081/healthz"] },
                }),
            );
            assert.deepEqual(body.Cmd, ["nginx", "-g", "daemon off;"]);
            assert.deepEqual(body.Healthcheck, {
                Test: ["CMD", "wget", "-q", "http://127.0.0.1:8081/healthz"],
                Interval: 0,
                Timeout: 0,
                StartPeriod: 0,
                Retries: 0,
            });
        });

        it("publishes on every address with a random host port when `ip` and `external` are absent; anonymous volumes without a source", () => {
            const body = createBody({
                name: "w",
                image: "busybox",
                ports: [{ internal: 53, protocol: "udp" }],
                volumes: [{ containerPath: "/cache" }],
            });
            assert.deepEqual(body.HostConfig.PortBindings, { "53/udp": [{ HostIp: "0.0.0.0", HostPort: "" }] });
            assert.deepEqual(body.Volumes, { "/cache": {} });
            assert.equal(body.NetworkingConfig, undefined);
        });

        it("joins the networks after the first once the container exists", () => {
            const inputs = webInputs({ networksAdvanced: [{ name: "front" }, { name: "back", aliases: ["api"] }] });
            assert.deepEqual(createBody(inputs).NetworkingConfig, { EndpointsConfig: { front: {} } });
            assert.deepEqual(connectBodies(inputs, "c0ffee"), [
                { network: "back", body: { Container: "c0ffee", EndpointConfig: { Aliases: ["api"] } } },
            ]);
        });
    });

    describe("container diff", () => {
        const olds = {
            ...webInputs(),
            bridge: "",
            networkDatas: [{ networkName: "shop", ipAddress: "172.18.0.2" }],
            logDriver: "json-file",
        };

        it("sees no change when only computed outputs differ", () => {
            assert.deepEqual(diffInputs(olds, webInputs(), CONTAINER_DIFF), {
                changes: false,
                replaces: [],
                deleteBeforeReplace: false,
                changed: [],
            });
        });

        it("replaces, deleting first, when the image changes", () => {
            const news = webInputs({ image: `127.0.0.1:5000/shop-api@sha256:${"b".repeat(64)}` });
            assert.deepEqual(diffInputs(olds, news, CONTAINER_DIFF), {
                changes: true,
                replaces: ["image"],
                deleteBeforeReplace: true,
                changed: ["image"],
            });
        });

        it("replaces on a new environment, also one still unknown at preview", () => {
            assert.deepEqual(diffInputs(olds, webInputs({ envs: UNKNOWN }), CONTAINER_DIFF).replaces, ["envs"]);
            assert.deepEqual(diffInputs(olds, webInputs({ envs: ["RELEASE_VERSION=v1.5.0"] }), CONTAINER_DIFF).replaces, ["envs"]);
        });

        it("updates the restart policy and the health wait in place", () => {
            assert.deepEqual(diffInputs(olds, webInputs({ restart: "always", waitTimeout: 30 }), CONTAINER_DIFF), {
                changes: true,
                replaces: [],
                deleteBeforeReplace: false,
                changed: ["restart", "waitTimeout"],
            });
        });

        it("treats absent, [] and {} as one value, and an absent Optional+Computed input as unchanged", () => {
            const news = webInputs({ logOpts: undefined, logDriver: undefined });
            assert.deepEqual(diffInputs({ ...olds, logOpts: {} }, news, CONTAINER_DIFF).changed, []);
        });
    });

    it("inspectedOutputs reads networks and, for a stopped container, the exit code", () => {
        const outputs = inspectedOutputs({
            State: { Running: false, ExitCode: 3 },
            NetworkSettings: {
                Bridge: "",
                Networks: { shop: { IPAddress: "172.18.0.2", IPPrefixLen: 16, Gateway: "172.18.0.1", MacAddress: "02:42" } },
            },
        });
        assert.deepEqual(outputs, {
            bridge: "",
            networkDatas: [
                {
                    networkName: "shop",
                    ipAddress: "172.18.0.2",
                    ipPrefixLength: 16,
                    gateway: "172.18.0.1",
                    macAddress: "02:42",
                    globalIpv6Address: "",
                    globalIpv6PrefixLength: 0,
                    ipv6Gateway: "",
                },
            ],
            exitCode: 3,
        });
    });

    describe("unhealthyMessage", () => {
        it("names the container, the bound and the last check", () => {
            const state = {
                Running: true,
                Status: "running",
                Health: {
                    Status: "unhealthy",
                    FailingStreak: 3,
                    Log: [{ ExitCode: 1 }, { ExitCode: 1, Output: "wget: can't connect\n to remote host\n" }],
                },
            };
            assert.equal(
                unhealthyMessage("shop-api-v1-5-0", 60, state),
                'container "shop-api-v1-5-0" did not become healthy within 60s (`waitTimeout`): health is "unhealthy" (container running), ' +
                    "3 failing checks in a row; last check exited 1: wget: can't connect to remote host",
            );
        });

        it("says when no check has finished and the container has exited", () => {
            assert.equal(
                unhealthyMessage("w", 5, {
                    Running: false,
                    Status: "exited",
                    ExitCode: 127,
                    Health: { Status: "starting", FailingStreak: 0, Log: [] },
                }),
                'container "w" did not become healthy within 5s (`waitTimeout`): health is "starting" (container exited, exit code 127); no health check has finished yet',
            );
        });
    });

    describe("RemoteImage naming", () => {
        it("splits a reference into what the pull API takes", () => {
            assert.deepEqual(pullParameters(`127.0.0.1:5000/shop@${DIGEST}`), { fromImage: "127.0.0.1:5000/shop", tag: DIGEST });
            assert.deepEqual(pullParameters("127.0.0.1:5000/shop:v1"), { fromImage: "127.0.0.1:5000/shop", tag: "v1" });
            assert.deepEqual(pullParameters("127.0.0.1:5000/shop"), { fromImage: "127.0.0.1:5000/shop", tag: "latest" });
        });

        it("reports the repo digest of the name's repository", () => {
            const digests = [`other/x@${DIGEST}`, `127.0.0.1:5000/shop@sha256:${"b".repeat(64)}`];
            assert.equal(repoDigestFor("127.0.0.1:5000/shop:v1", digests), digests[1]);
            assert.equal(repoDigestFor(digests[0], digests), digests[0]);
            assert.equal(repoDigestFor("local/only:1", []), "");
        });
    });

    describe("getRegistryImage", () => {
        it("reads registry, repository and tag as the docker CLI does", () => {
            assert.deepEqual(parseImageReference("127.0.0.1:5000/shop/api:v1.5.0"), {
                registry: "127.0.0.1:5000",
                repository: "shop/api",
                tag: "v1.5.0",
            });
            assert.deepEqual(parseImageReference("nginx:1.27-alpine"), {
                registry: "registry-1.docker.io",
                repository: "library/nginx",
                tag: "1.27-alpine",
            });
            assert.deepEqual(parseImageReference("ghcr.io/acme/shop-api"), {
                registry: "ghcr.io",
                repository: "acme/shop-api",
                tag: "latest",
            });
            assert.deepEqual(parseImageReference("localhost/x:1"), { registry: "localhost", repository: "x", tag: "1" });
            assert.throws(() => parseImageReference(`nginx@${DIGEST}`), /`name` must be `repository:tag`, not a digest reference/);
        });

        it("speaks plain HTTP to loopback registries only", () => {
            assert.equal(manifestUrl(parseImageReference("127.0.0.9:5000/a:1")), "http://127.0.0.9:5000/v2/a/manifests/1");
            assert.equal(manifestUrl(parseImageReference("localhost:5000/a:1")), "http://localhost:5000/v2/a/manifests/1");
            assert.equal(manifestUrl(parseImageReference("ghcr.io/a:1")), "https://ghcr.io/v2/a/manifests/1");
            assert.equal(manifestUrl(parseImageReference("128.0.0.1:5000/a:1")), "https://128.0.0.1:5000/v2/a/manifests/1");
        });

        it("asks for the manifest media types and takes Docker-Content-Digest", async () => {
            const seen: Array<{ url: string; accept: string }> = [];
            const fake = (async (url: string, init: RequestInit) => {
                seen.push({ url, accept: (init.headers as Record<string, string>).Accept });
                return new Response("{}", { status: 200, headers: { "Docker-Content-Digest": DIGEST } });
            }) as typeof fetch;
            assert.equal(await registryDigest("127.0.0.1:5000/shop:v1", fake), DIGEST);
            assert.deepEqual(seen, [{ url: "http://127.0.0.1:5000/v2/shop/manifests/v1", accept: MANIFEST_MEDIA_TYPES.join(", ") }]);
        });

        it("falls back to the sha256 of the manifest, and says what failed", async () => {
            const body = '{"schemaVersion":2}';
            const ok = (async () => new Response(body, { status: 200 })) as typeof fetch;
            assert.equal(
                await registryDigest("127.0.0.1:5000/shop:v1", ok),
                "sha256:" + require("crypto").createHash("sha256").update(body).digest("hex"),
            );
            const missing = (async () => new Response('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}', { status: 404 })) as typeof fetch;
            await assert.rejects(registryDigest("127.0.0.1:5000/shop:v9", missing), {
                message:
                    'getRegistryImage: http://127.0.0.1:5000/v2/shop/manifests/v9 answered 404 for 127.0.0.1:5000/shop:v9: {"errors":[{"code":"MANIFEST_UNKNOWN"}]}; check the repository and tag',
            });
        });
    });

    describe("wire format", () => {
        it("unwraps secrets at any depth and wraps the same top-level keys again", () => {
            const props = { name: "w", envs: ["A=1", secret("B=2")], healthcheck: { tests: ["CMD"] } };
            const keys = secretKeys(props);
            assert.deepEqual([...keys], ["envs"]);
            const plain = reveal(props);
            assert.deepEqual(plain, { name: "w", envs: ["A=1", "B=2"], healthcheck: { tests: ["CMD"] } });
            assert.deepEqual(conceal(plain, keys), { ...plain, envs: secret(["A=1", "B=2"]) });
        });

        it("reads the type and name out of a URN with a parent type", () => {
            assert.equal(resourceType(URN), "docker:index/container:Container");
            assert.equal(resourceName(URN), "shop-api");
        });
    });

    describe("DockerProvider", () => {
        it("keeps envs secret through check", async () => {
            const result = await new DockerProvider().check(URN, {}, { name: "w", image: "busybox", envs: secret(["TOKEN=x"]) });
            assert.deepEqual(result.inputs.envs, secret(["TOKEN=x"]));
            assert.deepEqual(result.failures, []);
        });

        it("refuses a type or function it does not serve, naming what it serves", async () => {
            await assert.rejects(new DockerProvider().check("urn:pulumi:dev::p::docker:index/service:Service::s", {}, {}), {
                message:
                    "the stand-in docker provider serves docker:index/container:Container, docker:index/network:Network, docker:index/volume:Volume, docker:index/remoteImage:RemoteImage; docker:index/service:Service is not one of them",
            });
            await assert.rejects(new DockerProvider().invoke("docker:index/getNetwork:getNetwork", {}), {
                message:
                    "the stand-in docker provider serves only the function docker:index/getRegistryImage:getRegistryImage; docker:index/getNetwork:getNetwork is not it",
            });
        });

        it("takes `host` from configuration, else DOCKER_HOST", () => {
            const saved = process.env.DOCKER_HOST;
            try {
                process.env.DOCKER_HOST = "unix:///run/from-env.sock";
                const provider = new DockerProvider();
                assert.equal(provider.host, "unix:///run/from-env.sock");
                provider.configure({ host: "ssh://deploy@app1" });
                assert.equal(provider.host, "ssh://deploy@app1");
                provider.configure({ host: UNKNOWN });
                assert.equal(provider.host, "unix:///run/from-env.sock");
                delete process.env.DOCKER_HOST;
                assert.equal(new DockerProvider().host, "unix:///var/run/docker.sock");
            } finally {
                if (saved === undefined) delete process.env.DOCKER_HOST;
                else process.env.DOCKER_HOST = saved;
            }
        });

        it("reads `host` from a Configure request's args, else from the `docker:config:host` variable", () => {
            const request = (args: object | undefined, variables: Record<string, string>) => ({
                getArgs: () => (args === undefined ? undefined : { toJavaScript: () => args }),
                getVariablesMap: () => new Map(Object.entries(variables)),
            });
            assert.deepEqual(configFromRequest(request({ host: "unix:///a.sock" }, { "docker:config:host": "unix:///b.sock" })), {
                host: "unix:///a.sock",
            });
            assert.deepEqual(configFromRequest(request(undefined, { "docker:config:host": "unix:///b.sock" })), { host: "unix:///b.sock" });
            assert.deepEqual(configFromRequest(request({}, {})), {});
        });
    });
});
