import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { digestOf } from "./support/fixtures";
import { ROUTER_IMAGE, dockerConfig } from "./support/dockerFixtures";
import { isSecret, plainTextPaths, resource, resourcesOfType, urnOf } from "./support/inspect";
import { ProgramRun, runProgram } from "./support/mockEngine";
import { StackConfig } from "./support/mockProviders";
import { tempDir } from "./support/processes";

const CONTAINER = "docker:index/container:Container";
const canary = dockerConfig({ "release:version": "v1.5.0", "release:previous": "v1.4.2", "release:canaryWeight": 10 });
const DATABASE_URL = "postgres://shop:s3cr3t-pw@db:5432/shop";

function withData(overrides: StackConfig = {}): StackConfig {
    const config = dockerConfig({
        "release:databaseUrl": DATABASE_URL,
        "release:migrate": { command: "npx prisma migrate deploy", component: "api", quiesce: ["worker"] },
        ...overrides,
    });
    (config["release:components"] as any).api.secretEnv = { DATABASE_URL: "config:databaseUrl" };
    return config;
}

async function deployThenStart(config: StackConfig): Promise<ProgramRun> {
    const first = await runProgram({
        config: { ...config, "release:version": "v1.4.2", "release:previous": undefined },
        secretKeys: ["release:databaseUrl"],
    });
    return runProgram({ config, secretKeys: ["release:databaseUrl"], lastOutputs: first.outputs });
}

describe("docker-host resources", () => {
    it("runs a router image given by tag by the digest the registry answers at preview", async () => {
        const config = { ...canary, "release:dockerHost": { routerImage: "nginx:1.27-alpine" } };
        const run = await runProgram({ config, registry: { "nginx:1.27-alpine": digestOf("nginx") } });
        assert.equal(resource(run, CONTAINER, "shop-docker-router").inputs.image, `nginx@${digestOf("nginx")}`);
        assert.equal(
            resource(run, "docker:index/remoteImage:RemoteImage", "shop-docker-router-image").inputs.name,
            `nginx@${digestOf("nginx")}`,
        );
    });

    it("pulls every image by digest and runs each component's container by digest, named after the version", async () => {
        const run = await runProgram({ config: canary });
        assert.deepEqual(
            resourcesOfType(run, "docker:index/remoteImage:RemoteImage").map((i) => [i.name, i.inputs.name, i.inputs.keepLocally]),
            [
                ["shop-docker-router-image", ROUTER_IMAGE, true],
                ["shop-docker-v1.4.2-api-image", `ghcr.io/acme/shop-api@${digestOf("apiv1.4.2")}`, true],
                ["shop-docker-v1.4.2-worker-image", `ghcr.io/acme/shop-api@${digestOf("workerv1.4.2")}`, true],
                ["shop-docker-v1.5.0-api-image", `ghcr.io/acme/shop-api@${digestOf("apiv1.5.0")}`, true],
                ["shop-docker-v1.5.0-worker-image", `ghcr.io/acme/shop-api@${digestOf("workerv1.5.0")}`, true],
            ],
        );
        assert.deepEqual(
            resourcesOfType(run, CONTAINER).map((c) => [c.name, c.inputs.name, c.inputs.image]),
            [
                ["shop-docker-router", "shop-router", ROUTER_IMAGE],
                ["shop-docker-v1.4.2-api", "shop-api-v1-4-2", `ghcr.io/acme/shop-api@${digestOf("apiv1.4.2")}`],
                ["shop-docker-v1.4.2-worker", "shop-worker-v1-4-2", `ghcr.io/acme/shop-api@${digestOf("workerv1.4.2")}`],
                ["shop-docker-v1.5.0-api", "shop-api-v1-5-0", `ghcr.io/acme/shop-api@${digestOf("apiv1.5.0")}`],
                ["shop-docker-v1.5.0-worker", "shop-worker-v1-5-0", `ghcr.io/acme/shop-api@${digestOf("workerv1.5.0")}`],
            ],
        );
        const api = resource(run, CONTAINER, "shop-docker-v1.5.0-api");
        assert.ok(api.dependencies.includes(urnOf(run, "docker:index/remoteImage:RemoteImage", "shop-docker-v1.5.0-api-image")));
    });

    it("gives a web container a health check on its health path, a restart policy, the network and waits for health", async () => {
        const run = await runProgram({ config: canary });
        const api = resource(run, CONTAINER, "shop-docker-v1.5.0-api");
        assert.deepEqual(api.inputs.healthcheck, {
            tests: [
                "CMD-SHELL",
                "wget -q -O /dev/null http://127.0.0.1:8080/health || curl -fsS -o /dev/null http://127.0.0.1:8080/health",
            ],
            interval: "10s",
            timeout: "5s",
            retries: 3,
            startPeriod: "30s",
        });
        assert.deepEqual([api.inputs.restart, api.inputs.wait, api.inputs.waitTimeout], ["unless-stopped", true, 120]);
        assert.deepEqual(api.inputs.networksAdvanced, [{ name: "shop", aliases: ["shop-api-v1-5-0"] }]);
        assert.deepEqual(api.inputs.envs, ["RELEASE_VERSION=v1.5.0"]);
        assert.deepEqual(resource(run, "docker:index/network:Network", "shop-docker-network").inputs.name, "shop");
        const worker = resource(run, CONTAINER, "shop-docker-v1.5.0-worker");
        assert.deepEqual(worker.inputs.command, ["node", "worker.js"]);
        assert.deepEqual([worker.inputs.healthcheck, worker.inputs.wait], [undefined, undefined]);
    });

    it("mounts the same volumes and env file into every version; named volumes outlive the program", async () => {
        const dir = await tempDir("safe-release-envfile-");
        const envFile = path.join(dir, "api.env");
        fs.writeFileSync(envFile, "# shop api\nSESSION_SECRET=pl41n-in-file\n\nLOG_LEVEL=info\n");
        const config = {
            ...canary,
            "release:dockerHost": {
                routerImage: ROUTER_IMAGE,
                volumes: { api: ["/srv/shop/uploads:/uploads", "shop-cache:/cache:ro"] },
                envFile: { api: envFile },
            },
        };
        const run = await runProgram({ config });
        const mounts = [
            { hostPath: "/srv/shop/uploads", containerPath: "/uploads", readOnly: false },
            { volumeName: "shop-cache", containerPath: "/cache", readOnly: true },
        ];
        for (const version of ["v1.4.2", "v1.5.0"]) {
            const api = resource(run, CONTAINER, `shop-docker-${version}-api`);
            assert.deepEqual(api.inputs.volumes, mounts, version);
            assert.ok(isSecret(api.inputs.envs), `${version} envs are a secret`);
            assert.ok(api.dependencies.includes(urnOf(run, "docker:index/volume:Volume", "shop-docker-volume-shop-cache")));
        }
        assert.equal(resource(run, "docker:index/volume:Volume", "shop-docker-volume-shop-cache").retainOnDelete, true);
        for (const r of run.resources.values()) assert.deepEqual(plainTextPaths(r.inputs, "pl41n-in-file"), [], `${r.type} ${r.name}`);
    });

    it("refuses an env file that cannot be read or holds a bare name, without quoting its lines", async () => {
        const dir = await tempDir("safe-release-envfile-");
        const bare = path.join(dir, "bare.env");
        fs.writeFileSync(bare, "A=1\nTOKEN_FROM_SHELL\n");
        const config = (file: string) => ({ ...canary, "release:dockerHost": { routerImage: ROUTER_IMAGE, envFile: { api: file } } });
        await assert.rejects(runProgram({ config: config(path.join(dir, "missing.env")) }), {
            message: `\`release:dockerHost.envFile.api\` names ${path.join(dir, "missing.env")}, which cannot be read (ENOENT); give a path relative to the project or an absolute one`,
        });
        await assert.rejects(runProgram({ config: config(bare) }), {
            message: `\`release:dockerHost.envFile.api\`: line 2 of ${bare} must be \`NAME=value\` (NAME of letters, digits and \`_\`), a \`#\` comment or blank`,
        });
    });

    it("keeps `config:` secrets secret: in the container's envs, never a plain input", async () => {
        const run = await runProgram({ config: withData({ "release:version": "v1.5.0" }), secretKeys: ["release:databaseUrl"] });
        const api = resource(run, CONTAINER, "shop-docker-v1.5.0-api");
        assert.ok(isSecret(api.inputs.envs));
        for (const r of run.resources.values()) assert.deepEqual(plainTextPaths(r.inputs, "s3cr3t-pw"), [], `${r.type} ${r.name}`);
        assert.ok(!JSON.stringify(run.outputs).includes("s3cr3t-pw"));
    });

    it("loads the rendered config into the router after every container is up, with the weights and backends by name", async () => {
        const run = await runProgram({ config: canary });
        const apply = resource(run, "command:local:Command", "shop-docker-router-config");
        for (const name of ["v1.4.2-api", "v1.4.2-worker", "v1.5.0-api", "v1.5.0-worker"]) {
            assert.ok(apply.dependencies.includes(urnOf(run, CONTAINER, `shop-docker-${name}`)), name);
        }
        assert.ok(apply.dependencies.includes(urnOf(run, CONTAINER, "shop-docker-router")));
        assert.equal(apply.inputs.create, apply.inputs.update, "an update applies the new config like a create");
        assert.match(apply.inputs.create, /^docker exec -i shop-router sh -c 'set -e\ncat > \/etc\/nginx\/nginx.conf.next\n/);
        assert.deepEqual(apply.inputs.triggers, ["shop-docker-router-id"]);
        assert.equal(apply.inputs.environment, undefined, "the local daemon needs no DOCKER_HOST");
        const config: string = apply.inputs.stdin;
        assert.ok(config.includes("server 127.0.0.1:9001 weight=10 max_fails=1 fail_timeout=10s;"));
        assert.ok(config.includes("server 127.0.0.1:9002 weight=90 max_fails=1 fail_timeout=10s;"));
        assert.ok(config.includes("server shop-api-v1-5-0:8080 max_fails=1 fail_timeout=10s;"));
        assert.ok(config.includes("server shop-api-v1-4-2:8080 max_fails=1 fail_timeout=10s;"));
        const router = resource(run, CONTAINER, "shop-docker-router");
        assert.deepEqual(router.inputs.ports, [{ internal: 8080, external: 8080, ip: "0.0.0.0" }]);
        assert.equal(run.outputs.url, "http://localhost:8080");
    });

    it("reaches a remote engine through one provider, and the router through DOCKER_HOST", async () => {
        const run = await runProgram({
            config: {
                ...canary,
                "release:dockerHost": { routerImage: ROUTER_IMAGE, host: "ssh://deploy@app.example.com", routerPort: 80 },
            },
        });
        assert.equal(resource(run, "pulumi:providers:docker", "shop-docker-engine").inputs.host, "ssh://deploy@app.example.com");
        assert.deepEqual(resource(run, "command:local:Command", "shop-docker-router-config").inputs.environment, {
            DOCKER_HOST: "ssh://deploy@app.example.com",
        });
        assert.equal(run.outputs.url, "http://app.example.com:80");
    });

    it("migrates as a one-off container of the new image, after the backup, with writers stopped by name", async () => {
        const run = await deployThenStart(
            withData({ "release:version": "v1.5.0", "release:previous": "v1.4.2", "release:canaryWeight": 0 }),
        );
        const migrate = resource(run, "command:local:Command", "shop-migrate-v1.5.0-run");
        assert.equal(
            migrate.inputs.create,
            `node ops/bin/safe-release-ops.js migrate --app shop --version v1.5.0 --digest ${digestOf("apiv1.5.0")} --lock-timeout 10m --stopped-writers worker -- ` +
                "docker run --rm --network shop --label safe-release.app=shop --label safe-release.version=v1.5.0 --label safe-release.role=one-off " +
                `-e RELEASE_VERSION=v1.5.0 -e DATABASE_URL ghcr.io/acme/shop-api@${digestOf("apiv1.5.0")} npx prisma migrate deploy`,
        );
        assert.ok(
            JSON.stringify(migrate.inputs.environment).includes('"DATABASE_URL":"postgres://'),
            "the runner's environment carries DATABASE_URL",
        );
        assert.deepEqual(plainTextPaths(migrate.inputs.environment, "s3cr3t-pw"), [], "as a secret");
        assert.equal(
            resource(run, "command:local:Command", "shop-quiesce-v1.5.0-stop").inputs.create,
            "docker stop --time 30 shop-worker-v1-4-2",
        );
        assert.equal(resource(run, "command:local:Command", "shop-quiesce-v1.5.0-resume").inputs.create, "docker start shop-worker-v1-4-2");
        const resume = urnOf(run, "command:local:Command", "shop-quiesce-v1.5.0-resume");
        for (const name of ["v1.5.0-api", "v1.5.0-worker"]) {
            assert.ok(
                resource(run, CONTAINER, `shop-docker-${name}`).dependencies.includes(resume),
                `${name} starts after the writers resume`,
            );
        }
        assert.ok(
            resource(run, "safe-release:data:Migration", "shop-migrate-v1.5.0").dependencies.includes(
                urnOf(run, "docker:index/network:Network", "shop-docker-network"),
            ),
        );
    });

    it("passes a remote host to one-off and writer commands as `--host`", async () => {
        const config = withData({
            "release:version": "v1.5.0",
            "release:previous": "v1.4.2",
            "release:dockerHost": { routerImage: ROUTER_IMAGE, host: "ssh://deploy@app.example.com" },
        });
        const run = await deployThenStart(config);
        assert.equal(
            resource(run, "command:local:Command", "shop-quiesce-v1.5.0-stop").inputs.create,
            "docker --host ssh://deploy@app.example.com stop --time 30 shop-worker-v1-4-2",
        );
        assert.match(
            resource(run, "command:local:Command", "shop-migrate-v1.5.0-run").inputs.create,
            / -- docker --host ssh:\/\/deploy@app\.example\.com run --rm /,
        );
    });

    it("runs further replicas under numbered names and routes to each", async () => {
        const config = dockerConfig({ "release:version": "v1.5.0" });
        (config["release:components"] as any).api.desiredCount = 2;
        const run = await runProgram({ config });
        assert.deepEqual(
            resourcesOfType(run, CONTAINER).map((c) => c.inputs.name),
            ["shop-router", "shop-api-v1-5-0", "shop-api-v1-5-0-2", "shop-worker-v1-5-0"],
        );
        const config2: string = resource(run, "command:local:Command", "shop-docker-router-config").inputs.stdin;
        assert.ok(config2.includes("server shop-api-v1-5-0-2:8080 max_fails=1 fail_timeout=10s;"));
    });
});
