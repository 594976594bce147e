import { strict as assert } from "assert";
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { InitFailedError } from "../plugins/docker/resource";
import { DockerProvider } from "../plugins/docker/provider";
import { UNKNOWN, secret } from "../plugins/docker/wire";
import { atTestEnd, freePortRun, run, tempDir } from "../support/processes";
import { DockerEngine, commandOnPath, pollUntil, startDockerEngine, stopChild } from "./support/dockerEngine";
import { Registry, startRegistry } from "./support/registry";

/**
 * The stand-in docker plugin (test/plugins/docker) against a real dockerd and a
 * real registry on loopback: its provider object's methods in the order the
 * engine calls them (check → diff → create/update/delete, read for refresh),
 * and once through its gRPC server as the engine launches it.
 */

const STACK = "urn:pulumi:e2e::safe-release::";
const urn = (type: string, name: string): string => `${STACK}${type}::${name}`;
const CONTAINER = "docker:index/container:Container";
const NETWORK = "docker:index/network:Network";
const VOLUME = "docker:index/volume:Volume";
const IMAGE = "docker:index/remoteImage:RemoteImage";
const REGISTRY_IMAGE = "docker:index/getRegistryImage:getRegistryImage";

/** An image of one static busybox: `sh`, `httpd`, `wget`; imports in well under a second. */
async function busyboxTarball(): Promise<string> {
    if (!fs.existsSync("/bin/busybox")) throw new Error("/bin/busybox is missing: install the Debian package `busybox-static`");
    const dir = await tempDir("sr-busybox-");
    atTestEnd(async () => fs.rmSync(dir, { recursive: true, force: true }));
    const bin = path.join(dir, "rootfs", "bin");
    fs.mkdirSync(bin, { recursive: true });
    fs.copyFileSync("/bin/busybox", path.join(bin, "busybox"));
    fs.chmodSync(path.join(bin, "busybox"), 0o755);
    for (const tool of ["sh", "httpd", "wget", "mkdir", "echo", "sleep", "cat"]) fs.symlinkSync("busybox", path.join(bin, tool));
    const tarball = path.join(dir, "busybox.tar");
    await run("tar", ["-C", path.join(dir, "rootfs"), "-cf", tarball, "."]);
    return tarball;
}

async function inspect(engine: DockerEngine, kind: string, name: string): Promise<any | undefined> {
    try {
        return JSON.parse((await engine.docker([kind, "inspect", name])).stdout)[0];
    } catch (err) {
        // Docker says "No such image/container/volume" but "network … not found".
        if (/no such|not found/i.test((err as Error).message)) return undefined;
        throw err;
    }
}

/** The engine's order for one resource: check, then create with the checked inputs. */
async function checkAndCreate(
    provider: DockerProvider,
    resourceUrn: string,
    news: Record<string, unknown>,
): Promise<{ id: string; inputs: any; outs: any }> {
    const checked = await provider.check(resourceUrn, {}, news);
    assert.deepEqual(checked.failures, []);
    const { id, outs } = await provider.create(resourceUrn, checked.inputs);
    return { id, inputs: checked.inputs, outs };
}

describe("e2e: the stand-in docker plugin against a real dockerd", function () {
    let engine: DockerEngine;
    let registry: Registry;
    let provider: DockerProvider;
    /** `127.0.0.1:PORT/busybox@sha256:…` */
    let pinned: string;
    let digest: string;

    before(async function () {
        [engine, registry] = await Promise.all([startDockerEngine(), startRegistry()]);
        await engine.docker(["import", "-c", 'CMD ["sh"]', await busyboxTarball(), "local/busybox:1"]);
        await engine.docker(["tag", "local/busybox:1", `${registry.address}/busybox:1`]);
        await engine.docker(["push", `${registry.address}/busybox:1`]);
        digest = await registry.digest("busybox", "1");
        pinned = `${registry.address}/busybox@${digest}`;
        // Nothing local: the first RemoteImage has to pull.
        await engine.docker(["rmi", "local/busybox:1", `${registry.address}/busybox:1`]);
        provider = new DockerProvider();
        provider.configure({ host: engine.host });
    });

    after(async () => {
        await Promise.all([engine?.stop(), registry?.stop()]);
    });

    it("getRegistryImage returns the registry's manifest digest, and says when the tag is missing", async () => {
        const { outputs } = await provider.invoke(REGISTRY_IMAGE, { name: `${registry.address}/busybox:1` });
        assert.deepEqual(outputs, { id: digest, name: `${registry.address}/busybox:1`, sha256Digest: digest, insecureSkipVerify: false });
        await assert.rejects(provider.invoke(REGISTRY_IMAGE, { name: `${registry.address}/busybox:2` }), (err: Error) => {
            assert.match(
                err.message,
                new RegExp(
                    `^getRegistryImage: http://${registry.address}/v2/busybox/manifests/2 answered 404 for ${registry.address}/busybox:2: .*MANIFEST_UNKNOWN.*; check the repository and tag$`,
                ),
            );
            return true;
        });
    });

    it("RemoteImage pulls by digest; delete removes the image unless keepLocally", async () => {
        const dropped = await checkAndCreate(provider, urn(IMAGE, "dropped"), { name: pinned, keepLocally: false });
        const image = await inspect(engine, "image", pinned);
        assert.equal(dropped.outs.imageId, image.Id);
        assert.equal(dropped.outs.repoDigest, pinned);
        assert.equal(dropped.id, `${image.Id}${pinned}`);
        await provider.delete(dropped.id, urn(IMAGE, "dropped"), dropped.outs);
        assert.equal(await inspect(engine, "image", pinned), undefined, "keepLocally: false removes the image");
        assert.deepEqual(await provider.read(dropped.id, urn(IMAGE, "dropped"), dropped.outs), { id: "", props: {} });

        const kept = await checkAndCreate(provider, urn(IMAGE, "kept"), { name: pinned, keepLocally: true });
        assert.equal(kept.outs.imageId, image.Id, "the same bytes pulled again");
        await provider.delete(kept.id, urn(IMAGE, "kept"), kept.outs);
        assert.equal((await inspect(engine, "image", pinned))?.Id, image.Id, "keepLocally: true leaves the image on the host");
    });

    it("Network and Volume: create, refresh, delete; a vanished network is reported gone", async () => {
        const network = await checkAndCreate(provider, urn(NETWORK, "net"), {
            name: "sr-probe",
            driver: "bridge",
            labels: [{ label: "a", value: "1" }],
        });
        const live = await inspect(engine, "network", "sr-probe");
        assert.equal(network.id, live.Id);
        assert.deepEqual(live.Labels, { a: "1" });
        assert.equal(network.outs.name, "sr-probe");
        const volume = await checkAndCreate(provider, urn(VOLUME, "vol"), { name: "sr-probe-data", labels: [{ label: "a", value: "1" }] });
        assert.equal(volume.id, "sr-probe-data");
        assert.equal((await inspect(engine, "volume", "sr-probe-data")).Labels.a, "1");
        await provider.delete(volume.id, urn(VOLUME, "vol"), volume.outs);
        assert.equal(await inspect(engine, "volume", "sr-probe-data"), undefined);
        await engine.docker(["network", "rm", "sr-probe"]);
        assert.deepEqual(await provider.read(network.id, urn(NETWORK, "net"), network.outs), { id: "", props: {} });
        await provider.delete(network.id, urn(NETWORK, "net"), network.outs); // already gone: no error
    });

    describe("Container", () => {
        let port: number;
        const web = (overrides: Record<string, unknown> = {}) => ({
            name: "sr-web",
            image: pinned,
            command: ["sh", "-c", "mkdir -p /www && echo ok >/www/health && exec httpd -f -p 8080 -h /www"],
            envs: secret(["RELEASE_VERSION=v1", "TOKEN=s3cret"]),
            networksAdvanced: [{ name: "sr-app", aliases: ["sr-web-alias"] }],
            volumes: [{ volumeName: "sr-app-data", containerPath: "/data", readOnly: false }],
            ports: [{ internal: 8080, external: port, ip: "127.0.0.1" }],
            restart: "unless-stopped",
            logDriver: "json-file",
            logOpts: { "max-size": "10m", "max-file": "3" },
            labels: [{ label: "safe-release.app", value: "probe" }],
            healthcheck: {
                tests: ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:8080/health"],
                interval: "500ms",
                timeout: "2s",
                retries: 3,
            },
            wait: true,
            waitTimeout: 30,
            ...overrides,
        });
        let created: { id: string; inputs: any; outs: any };

        before(async () => {
            port = await freePortRun(1);
            await checkAndCreate(provider, urn(NETWORK, "app"), { name: "sr-app" });
            await checkAndCreate(provider, urn(VOLUME, "data"), { name: "sr-app-data" });
            await checkAndCreate(provider, urn(IMAGE, "app"), { name: pinned, keepLocally: true });
        });

        it("creates, starts and returns once Docker reports the container healthy", async () => {
            created = await checkAndCreate(provider, urn(CONTAINER, "web"), web());
            const live = await inspect(engine, "container", "sr-web");
            assert.equal(created.id, live.Id);
            assert.equal(live.State.Health.Status, "healthy");
            assert.ok(live.Config.Env.includes("TOKEN=s3cret"), "the secret environment reached the container");
            assert.deepEqual(live.NetworkSettings.Networks["sr-app"].Aliases.includes("sr-web-alias"), true);
            assert.deepEqual(live.HostConfig.RestartPolicy, { Name: "unless-stopped", MaximumRetryCount: 0 });
            assert.deepEqual(live.HostConfig.LogConfig, { Type: "json-file", Config: { "max-size": "10m", "max-file": "3" } });
            assert.deepEqual(live.HostConfig.Binds, ["sr-app-data:/data"]);
            assert.equal(live.Config.Labels["safe-release.app"], "probe");
            assert.equal(await (await fetch(`http://127.0.0.1:${port}/health`)).text(), "ok\n");
            // State keeps the environment secret; the computed outputs come from the engine.
            assert.deepEqual(created.outs.envs, secret(["RELEASE_VERSION=v1", "TOKEN=s3cret"]));
            assert.equal(created.outs.networkDatas[0].networkName, "sr-app");
            assert.equal(created.outs.networkDatas[0].ipAddress, live.NetworkSettings.Networks["sr-app"].IPAddress);
        });

        it("updates the restart policy in place: same container", async () => {
            const news = (await provider.check(urn(CONTAINER, "web"), created.inputs, web({ restart: "always" }))).inputs;
            assert.deepEqual(await provider.diff(created.id, urn(CONTAINER, "web"), created.outs, news), {
                changes: true,
                replaces: [],
                deleteBeforeReplace: false,
            });
            const { outs } = await provider.update(created.id, urn(CONTAINER, "web"), created.outs, news);
            const live = await inspect(engine, "container", "sr-web");
            assert.equal(live.Id, created.id);
            assert.equal(live.HostConfig.RestartPolicy.Name, "always");
            created = { id: created.id, inputs: news, outs };
        });

        it("replaces on a changed command, the old container deleted before the new one takes its name", async () => {
            const news = (
                await provider.check(
                    urn(CONTAINER, "web"),
                    created.inputs,
                    web({ command: [...web().command.slice(0, 2), `${web().command[2]} # v2`] }),
                )
            ).inputs;
            assert.deepEqual(await provider.diff(created.id, urn(CONTAINER, "web"), created.outs, news), {
                changes: true,
                replaces: ["command"],
                deleteBeforeReplace: true,
            });
            // The same diff with an input still unknown at preview.
            assert.deepEqual((await provider.diff(created.id, urn(CONTAINER, "web"), created.outs, { ...news, image: UNKNOWN })).replaces, [
                "command",
                "image",
            ]);
            await provider.delete(created.id, urn(CONTAINER, "web"), created.outs);
            const replacement = await provider.create(urn(CONTAINER, "web"), news);
            assert.notEqual(replacement.id, created.id);
            assert.equal(await inspect(engine, "container", created.id), undefined);
            assert.equal((await inspect(engine, "container", "sr-web")).Id, replacement.id);
            created = { id: replacement.id, inputs: news, outs: replacement.outs };
        });

        it("refresh reports a vanished container gone", async () => {
            assert.equal((await provider.read(created.id, urn(CONTAINER, "web"), created.outs)).id, created.id);
            await engine.docker(["rm", "-f", "sr-web"]);
            assert.deepEqual(await provider.read(created.id, urn(CONTAINER, "web"), created.outs), { id: "", props: {} });
            await provider.delete(created.id, urn(CONTAINER, "web"), created.outs); // already gone: no error
        });

        it("fails after waitTimeout with the last health check, and leaves the container recorded and in place", async () => {
            const inputs = web({
                name: "sr-sick",
                ports: [],
                command: ["sleep", "600"],
                healthcheck: { tests: ["CMD-SHELL", "echo backend not ready; exit 1"], interval: "500ms", timeout: "2s", retries: 1 },
                waitTimeout: 4,
            });
            const started = Date.now();
            const err = await provider
                .create(urn(CONTAINER, "sick"), (await provider.check(urn(CONTAINER, "sick"), {}, inputs)).inputs)
                .then(
                    () => assert.fail("create must fail"),
                    (e: unknown) => e as InitFailedError,
                );
            const elapsed = (Date.now() - started) / 1000;
            assert.ok(elapsed >= 4 && elapsed < 10, `bounded by waitTimeout: took ${elapsed}s`);
            assert.match(
                err.message,
                /^container "sr-sick" did not become healthy within 4s \(`waitTimeout`\): health is "unhealthy" \(container running\), \d+ failing checks? in a row; last check exited 1: backend not ready$/,
            );
            assert.ok(!err.message.includes("s3cret"));
            const live = await inspect(engine, "container", "sr-sick");
            assert.equal(err.id, live.Id, "the engine records the container (ErrorResourceInitFailed carries its id)");
            assert.equal(live.State.Running, true, "left running for `docker logs` and `docker inspect`");
            assert.deepEqual(err.properties.envs, secret(["RELEASE_VERSION=v1", "TOKEN=s3cret"]));
            await provider.delete(err.id, urn(CONTAINER, "sick"), err.properties);
            assert.equal(await inspect(engine, "container", "sr-sick"), undefined);
        });

        it("refuses to wait for a container without any health check", async () => {
            const inputs = web({ name: "sr-nocheck", ports: [], command: ["sleep", "600"], healthcheck: undefined });
            const err = await provider
                .create(urn(CONTAINER, "nocheck"), (await provider.check(urn(CONTAINER, "nocheck"), {}, inputs)).inputs)
                .then(
                    () => assert.fail("create must fail"),
                    (e: unknown) => e as InitFailedError,
                );
            assert.equal(
                err.message,
                'container "sr-nocheck": `wait` needs a health check, from `healthcheck` or the image\'s HEALTHCHECK, and the container has none',
            );
            await provider.delete(err.id, urn(CONTAINER, "nocheck"), err.properties);
        });
    });

    describe("through gRPC, as the engine runs it", () => {
        let plugin: ChildProcess;
        let client: any;
        const grpc = require("@grpc/grpc-js");
        const services = require("@pulumi/pulumi/proto/provider_grpc_pb");
        const messages = require("@pulumi/pulumi/proto/provider_pb");
        const { Struct } = require("google-protobuf/google/protobuf/struct_pb");
        const { Empty } = require("google-protobuf/google/protobuf/empty_pb");
        const call = (method: string, request: unknown): Promise<any> =>
            new Promise((resolve, reject) =>
                client[method](request, (err: Error | null, response: any) => (err ? reject(err) : resolve(response))),
            );

        before(async () => {
            if (!commandOnPath("node")) throw new Error("`node` is not on PATH");
            const main = path.resolve(__dirname, "..", "plugins", "docker", "main.ts");
            // A plugin gets no DOCKER_HOST here: the engine address must come from Configure.
            const env = { ...process.env };
            delete env.DOCKER_HOST;
            plugin = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", main], { stdio: ["ignore", "pipe", "pipe"], env });
            atTestEnd(() => stopChild(plugin, 5_000));
            let stdout = "";
            let stderr = "";
            plugin.stdout!.on("data", (chunk) => (stdout += chunk));
            plugin.stderr!.on("data", (chunk) => (stderr += chunk));
            await pollUntil("the plugin to print its port", 30_000, async () => {
                if (plugin.exitCode !== null) throw new Error(`the plugin exited ${plugin.exitCode}: ${stderr}`);
                return /^\d+\n/.test(stdout);
            });
            client = new services.ResourceProviderClient(`127.0.0.1:${stdout.trim()}`, grpc.credentials.createInsecure());
        });

        after(async () => {
            client?.close();
            if (plugin !== undefined) await stopChild(plugin, 5_000);
        });

        it("reports version 5.2.0, takes `host` from Configure and serves check, create, invoke and delete", async () => {
            assert.equal((await call("getPluginInfo", new Empty())).getVersion(), "5.2.0");
            const configure = new messages.ConfigureRequest();
            configure.setArgs(Struct.fromJavaScript({ host: engine.host }));
            configure.setAcceptsecrets(true);
            configure.setAcceptresources(true);
            assert.equal((await call("configure", configure)).getAcceptsecrets(), true);

            const invoke = new messages.InvokeRequest();
            invoke.setTok(REGISTRY_IMAGE);
            invoke.setArgs(Struct.fromJavaScript({ name: `${registry.address}/busybox:1` }));
            assert.equal((await call("invoke", invoke)).getReturn().toJavaScript().sha256Digest, digest);

            const networkUrn = urn(NETWORK, "grpc");
            const check = new messages.CheckRequest();
            check.setUrn(networkUrn);
            check.setOlds(Struct.fromJavaScript({}));
            check.setNews(Struct.fromJavaScript({ name: "sr-grpc" }));
            const checked = await call("check", check);
            assert.deepEqual(checked.getFailuresList(), []);
            const create = new messages.CreateRequest();
            create.setUrn(networkUrn);
            create.setProperties(checked.getInputs());
            const created = await call("create", create);
            assert.equal(created.getId(), (await inspect(engine, "network", "sr-grpc")).Id, "created on the engine Configure named");

            const remove = new messages.DeleteRequest();
            remove.setUrn(networkUrn);
            remove.setId(created.getId());
            remove.setProperties(created.getProperties());
            await call("delete", remove);
            assert.equal(await inspect(engine, "network", "sr-grpc"), undefined);
        });
    });
});
