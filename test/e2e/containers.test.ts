import { strict as assert } from "assert";
import * as fs from "fs";
import * as http from "http";
import { applyConfigCommand, routerSpec } from "../../components/dockerHost/router";
import { readConfigFingerprint, renderNginxConfig } from "../../core/nginxConfig";
import { extractCounters, parsePrometheusText } from "../../drivers/metrics/prometheus";
import { parseComponents } from "../../settings/components";
import { freePortRun, run } from "../support/processes";
import { DockerEngine, pollUntil, startDockerEngine, waitForHealthy } from "./support/dockerEngine";
import { BuiltImages, SERVICE_VERSIONS, buildImages } from "./support/images";
import { Registry, startRegistry } from "./support/registry";
import { ServiceDatabase, startServiceDatabase } from "./support/serviceDatabase";

/*
 * The substrate of the end-to-end tests, checked on its own: a private Docker
 * engine, a registry on loopback, the router and service images built from the
 * host's binaries, and the service database reachable from host and containers.
 */

const NETWORK = "e2e-app";
// The program's health check of the router (components/dockerHost/dockerPlatform.ts), as a shell command.
const ROUTER_HEALTH = "wget -q -O /dev/null http://127.0.0.1:8081/healthz";
const SERVICE_HEALTH = "wget -q -O /dev/null http://127.0.0.1:8080/healthz";

/**
 * One request on a fresh connection (`Connection: close`), as each new client would make it: a
 * kept-alive connection may still be held by an nginx worker of the previous config.
 */
function get(url: string, headers: Record<string, string> = {}, method = "GET") {
    return new Promise<{ status: number; body: string; version: string | null }>((resolve, reject) => {
        const request = http.request(
            url,
            { method, headers: { ...headers, Connection: "close" }, agent: false, timeout: 10_000 },
            (response) => {
                let body = "";
                response.setEncoding("utf8");
                response.on("data", (chunk) => (body += chunk));
                response.on("end", () => {
                    const version = response.headers["x-release-version"];
                    resolve({ status: response.statusCode ?? 0, body: body.trim(), version: typeof version === "string" ? version : null });
                });
            },
        );
        request.on("timeout", () => request.destroy(new Error(`${method} ${url} did not answer within 10 s`)));
        request.on("error", reject);
        request.end();
    });
}

/** `docker` with the database URL in its environment: `-e DATABASE_URL` copies it, so it is never on a command line. */
function dockerWithDatabase(engine: DockerEngine, db: ServiceDatabase, args: string[]) {
    return run("docker", args, { env: { ...engine.env, DATABASE_URL: db.containerUrl } });
}

/** Processes whose command line names `dir`: dockerd, containerd and shims of an engine rooted there. */
function processesUnder(dir: string): string[] {
    return fs
        .readdirSync("/proc")
        .filter((entry) => /^\d+$/.test(entry))
        .flatMap((pid) => {
            try {
                const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
                return cmdline.includes(dir) ? [`${pid}: ${cmdline}`] : [];
            } catch {
                return [];
            }
        });
}

describe("e2e substrate: Docker engine, registry, images, service database", function () {
    let engine: DockerEngine;
    let registry: Registry;
    let images: BuiltImages;
    let db: ServiceDatabase;
    const service = (version: string) => `${images.service.repository}@${images.service.digests[version]}`;
    /** A one-off `service migrate` of the version's image on the app network, as the program's migration runs it. */
    const migrate = (version: string) =>
        dockerWithDatabase(engine, db, ["run", "--rm", "--network", NETWORK, "-e", "DATABASE_URL", service(version), "service", "migrate"]);
    /** A detached service container with the program's web health check, `env` as `NAME=value`, and the port published if given. */
    const startService = async (name: string, version: string, env: string[], port?: number) => {
        const published = port === undefined ? [] : ["-p", `127.0.0.1:${port}:8080`];
        const health = ["--health-cmd", SERVICE_HEALTH, "--health-interval", "1s"];
        const envArgs = ["DATABASE_URL", `RELEASE_VERSION=${version}`, ...env].flatMap((entry) => ["-e", entry]);
        await dockerWithDatabase(engine, db, [
            "run",
            "-d",
            "--name",
            name,
            "--network",
            NETWORK,
            ...envArgs,
            ...health,
            ...published,
            service(version),
        ]);
        await waitForHealthy(engine, name);
    };

    before(async function () {
        engine = await startDockerEngine();
        registry = await startRegistry();
        const started = Date.now();
        images = await buildImages(engine, registry);
        process.stderr.write(`e2e images: ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
        db = await startServiceDatabase(engine);
        // Created after the database, as the program does: the database cannot be attached to it beforehand.
        await engine.docker(["network", "create", "--driver", "bridge", NETWORK]);
    });

    after(async function () {
        await db?.stop();
        await registry?.stop();
        await engine?.stop();
    });

    describe("the engine", function () {
        it("stops every container and dockerd, and removes its bridge and directories", async function () {
            const other = await startDockerEngine();
            await other.docker(["pull", "--quiet", service("v1.0.0")]);
            await other.docker(["run", "-d", "--name", "left-running", service("v1.0.0")]);
            assert.equal(processesUnder(other.rootDir).length > 0, true);
            await other.stop();
            await other.stop(); // idempotent
            assert.throws(() => process.kill(other.pid, 0), /ESRCH/);
            assert.deepEqual(processesUnder(other.rootDir), []);
            assert.equal(fs.existsSync(other.rootDir), false);
            const links = (await run("ip", ["-o", "link", "show"])).stdout;
            assert.equal(links.includes(`${other.bridge}:`), false, `bridge ${other.bridge} is still there`);
        });

        it("lets two containers on one bridge network reach each other by name", async function () {
            await engine.docker(["run", "-d", "--name", "names-web", "--network", NETWORK, service("v1.0.0")]);
            await engine.docker([
                "run",
                "--rm",
                "--network",
                NETWORK,
                service("v1.0.0"),
                "sh",
                "-c",
                "until wget -q -O /dev/null http://names-web:8080/healthz; do sleep 0.2; done",
            ]);
            const { stdout } = await engine.docker([
                "run",
                "--rm",
                "--network",
                NETWORK,
                service("v1.0.0"),
                "wget",
                "-q",
                "-O",
                "-",
                "http://names-web:8080/",
            ]);
            assert.equal(stdout.trim(), "v1.0.0");
        });

        it("publishes a container port on 127.0.0.1", async function () {
            const port = await freePortRun(1);
            await engine.docker([
                "run",
                "-d",
                "--name",
                "published",
                "--health-cmd",
                SERVICE_HEALTH,
                "--health-interval",
                "1s",
                "-p",
                `127.0.0.1:${port}:8080`,
                service("v1.1.0"),
            ]);
            await waitForHealthy(engine, "published");
            assert.deepEqual(await get(`http://127.0.0.1:${port}/`), { status: 200, body: "v1.1.0", version: null });
        });
    });

    describe("the images", function () {
        it("are in the registry, one digest per service tag", async function () {
            assert.deepEqual(Object.keys(images.service.digests), [...SERVICE_VERSIONS]);
            const digests = Object.values(images.service.digests);
            for (const digest of [...digests, images.router.digest]) assert.match(digest, /^sha256:[0-9a-f]{64}$/);
            assert.equal(new Set(digests).size, 3);
            for (const version of SERVICE_VERSIONS)
                assert.equal(await registry.digest("service", version), images.service.digests[version]);
            assert.equal(images.router.repository, `${registry.address}/router`);
            assert.equal(images.router.tag, "1.22");
        });

        it("pull by digest into an engine that has never seen them, and carry their version", async function () {
            const sizes = await engine.docker(["image", "ls", "--format", "{{.Repository}}:{{.Tag}} {{.Size}}"]);
            process.stderr.write(`e2e images: sizes\n${sizes.stdout}`);
            const fresh = await startDockerEngine();
            try {
                for (const version of SERVICE_VERSIONS) {
                    await fresh.docker(["pull", "--quiet", service(version)]);
                    const { stdout } = await fresh.docker(["run", "--rm", service(version), "cat", "/etc/service-release"]);
                    assert.equal(stdout.trim(), version);
                }
                const router = `${images.router.repository}@${images.router.digest}`;
                await fresh.docker(["pull", "--quiet", router]);
                const { stdout } = await fresh.docker(["image", "inspect", "--format", "{{json .RepoDigests}}", router]);
                assert.deepEqual(JSON.parse(stdout), [router]);
            } finally {
                await fresh.stop();
            }
        });
    });

    describe("the service", function () {
        let port: number;

        it("migrates v1.0.0: creates `items`", async function () {
            const { stdout } = await migrate("v1.0.0");
            assert.match(stdout, /migrate v1\.0\.0: 2 statements in one transaction\n/);
            assert.match(stdout, /migrate v1\.0\.0: committed\n$/);
            assert.deepEqual(await db.query("SELECT count(*)::int AS n FROM items"), [{ n: 0 }]);
        });

        it("answers /healthz, / and /smoke, and writes rows through the container URL", async function () {
            port = await freePortRun(1);
            await startService("svc-v1", "v1.0.0", [], port);
            const base = `http://127.0.0.1:${port}`;
            assert.deepEqual(await get(`${base}/healthz`), { status: 200, body: "ok", version: null });
            assert.deepEqual(await get(`${base}/`), { status: 200, body: "v1.0.0", version: null });
            assert.deepEqual(await get(`${base}/smoke`), { status: 200, body: "smoke ok", version: null });
            assert.deepEqual(await get(`${base}/items`, {}, "POST"), { status: 201, body: "1", version: null });
            assert.deepEqual(await get(`${base}/items`, {}, "POST"), { status: 201, body: "2", version: null });
            assert.deepEqual(await get(`${base}/items/count`), { status: 200, body: "2", version: null });
            assert.deepEqual(await db.query("SELECT id::int, version FROM items ORDER BY id"), [
                { id: 1, version: "v1.0.0" },
                { id: 2, version: "v1.0.0" },
            ]);
        });

        it("exports the metrics the promote driver reads, counted by status", async function () {
            const { body } = await get(`http://127.0.0.1:${port}/metrics`);
            assert.match(body, /^http_requests_total\{version="v1\.0\.0",handler="\/items",status="201"\} 2$/m);
            assert.match(body, /^http_requests_total\{version="v1\.0\.0",handler="\/",status="200"\} 1$/m);
            const counters = extractCounters(parsePrometheusText(body), { version: "v1.0.0" });
            assert.equal(counters.errors, 0);
            assert.equal(counters.requests >= 6, true, `requests ${counters.requests}`);
            assert.equal(counters.buckets[counters.buckets.length - 1].le, Infinity);
            assert.equal(counters.buckets[counters.buckets.length - 1].count, counters.requests);
        });

        it("fails the share FAIL_RATE of `GET /` and /smoke under SMOKE_FAIL=1", async function () {
            const failing = await freePortRun(1);
            await startService("svc-failing", "v1.1.0", ["FAIL_RATE=0.25", "SMOKE_FAIL=1"], failing);
            const statuses: number[] = [];
            for (let i = 0; i < 8; i++) statuses.push((await get(`http://127.0.0.1:${failing}/`)).status);
            assert.deepEqual(statuses, [200, 200, 200, 500, 200, 200, 200, 500]);
            assert.deepEqual(await get(`http://127.0.0.1:${failing}/smoke`), {
                status: 500,
                body: "v1.1.0 smoke check failed (SMOKE_FAIL=1)",
                version: null,
            });
            const counters = extractCounters(parsePrometheusText((await get(`http://127.0.0.1:${failing}/metrics`)).body), {
                version: "v1.1.0",
            });
            assert.equal(counters.errors, 3);
        });

        it("refuses a FAIL_RATE outside 0..1", async function () {
            await assert.rejects(
                engine.docker(["run", "--rm", "-e", "FAIL_RATE=2", service("v1.0.0")]),
                /exited 1: service serve: FAIL_RATE must be a number from 0 to 1; got "2"$/,
            );
        });

        it("migrates v1.1.0: adds `priority` with a default for existing rows", async function () {
            const { stdout } = await migrate("v1.1.0");
            assert.match(stdout, /migrate v1\.1\.0: \[1\/1\] ALTER TABLE items ADD COLUMN priority integer NOT NULL DEFAULT 0;\n/);
            assert.deepEqual(await db.query("SELECT id::int, priority FROM items ORDER BY id"), [
                { id: 1, priority: 0 },
                { id: 2, priority: 0 },
            ]);
        });

        it("fails the v1.2.0 migration half way, exits non-zero and leaves no trace", async function () {
            await assert.rejects(
                migrate("v1.2.0"),
                /exited 1: service migrate: migration v1\.2\.0 failed at statement 2 of 2, rolled back: ERROR: relation "item_tags" does not exist \(SQLSTATE 42P01\)$/,
            );
            const columns = await db.query(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'items' ORDER BY ordinal_position",
            );
            assert.deepEqual(
                columns.map((c) => c.column_name),
                ["id", "version", "created_at", "priority"],
            );
        });

        it("runs a worker that writes a heartbeat every second until stopped", async function () {
            await dockerWithDatabase(engine, db, [
                "run",
                "-d",
                "--name",
                "svc-worker",
                "--network",
                NETWORK,
                "-e",
                "DATABASE_URL",
                "-e",
                "RELEASE_VERSION=v1.1.0",
                service("v1.1.0"),
                "service",
                "worker",
            ]);
            const beats = async () =>
                (await db.query("SELECT count(*)::int AS n FROM worker_heartbeats WHERE version = 'v1.1.0'"))[0].n as number;
            await pollUntil("three heartbeats", 20_000, async () => (await beats()) >= 3);
            await engine.docker(["stop", "--time", "10", "svc-worker"]);
            const stopped = await beats();
            await new Promise((resolve) => setTimeout(resolve, 2500));
            assert.equal(await beats(), stopped);
            const { stdout } = await engine.docker(["inspect", "--format", "{{.State.ExitCode}}", "svc-worker"]);
            assert.equal(stdout.trim(), "0");
        });
    });

    describe("the router", function () {
        it("starts healthy, then reloads the program's rendered configs without a restart", async function () {
            const port = await freePortRun(1);
            const image = `${images.router.repository}@${images.router.digest}`;
            await engine.docker([
                "run",
                "-d",
                "--name",
                "e2e-router",
                "--network",
                NETWORK,
                "--health-cmd",
                ROUTER_HEALTH,
                "--health-interval",
                "1s",
                "-p",
                `127.0.0.1:${port}:8080`,
                image,
            ]);
            await waitForHealthy(engine, "e2e-router");
            const base = `http://127.0.0.1:${port}`;
            assert.deepEqual(await get(`${base}/`), { status: 503, body: "no release is routed yet", version: null });
            // As `pulumi up` does (`wait: true`): a backend joins the router only once healthy.
            await startService("web-v1", "v1.0.0", []);
            await startService("web-v11", "v1.1.0", []);
            const masterPid = (await engine.docker(["exec", "e2e-router", "cat", "/run/nginx.pid"])).stdout.trim();
            const startedAt = (await engine.docker(["inspect", "--format", "{{.State.StartedAt}}", "e2e-router"])).stdout;

            const components = parseComponents({ web: { image: images.service.repository, role: "web", port: 8080 } });
            const workers = async () => {
                const { stdout } = await engine.docker(["exec", "e2e-router", "ps", "-o", "pid,args"]);
                return stdout.split("\n").flatMap((line) => (/nginx: worker process/.test(line) ? [line.trim().split(/\s+/)[0]] : []));
            };
            // Exactly what the program's `local.Command` runs: `sh -c <command>` with the config on stdin.
            const apply = async (config: string) => {
                const old = await workers();
                await run("sh", ["-c", applyConfigCommand("e2e-router", config)], { env: engine.env, input: config });
                // The command returns once one new worker serves; a worker of the old config may still accept a
                // connection until it has handled nginx's shutdown signal, so wait until every old worker is gone.
                await pollUntil("the old nginx workers to exit", 15_000, async () => {
                    const current = await workers();
                    return !old.some((pid) => current.includes(pid));
                });
            };
            const first = renderNginxConfig(
                routerSpec(components, [{ version: "v1.0.0", weight: 100, backends: { web: ["web-v1:8080"] } }]),
            );
            await apply(first);
            assert.deepEqual(await get(`${base}/`), { status: 200, body: "v1.0.0", version: "v1.0.0" });

            const canary = renderNginxConfig(
                routerSpec(components, [
                    { version: "v1.1.0", weight: 50, backends: { web: ["web-v11:8080"] } },
                    { version: "v1.0.0", weight: 50, backends: { web: ["web-v1:8080"] } },
                ]),
            );
            await apply(canary);
            const served: string[] = [];
            for (let i = 0; i < 10; i++) served.push((await get(`${base}/`)).body);
            assert.equal(served.filter((v) => v === "v1.1.0").length, 5, `served ${served.join(" ")}`);
            assert.deepEqual(await get(`${base}/`, { "X-Release-Target": "v1.1.0" }), { status: 200, body: "v1.1.0", version: "v1.1.0" });
            const status = await engine.docker(["exec", "e2e-router", "wget", "-q", "-O", "-", "http://127.0.0.1:8081/healthz"]);
            assert.equal(status.stdout.trim(), `{"status":"ok","config":"${readConfigFingerprint(canary)}"}`);

            // A config nginx refuses never replaces the one that serves.
            await assert.rejects(apply("# safe-release router config 0123456789abcdef\nhttp {\n"), /exited 1/);
            assert.equal((await get(`${base}/`, { "X-Release-Target": "v1.0.0" })).body, "v1.0.0");

            assert.equal((await engine.docker(["exec", "e2e-router", "cat", "/run/nginx.pid"])).stdout.trim(), masterPid);
            assert.equal((await engine.docker(["inspect", "--format", "{{.State.StartedAt}}", "e2e-router"])).stdout, startedAt);
            assert.equal((await engine.docker(["inspect", "--format", "{{.RestartCount}}", "e2e-router"])).stdout.trim(), "0");
        });
    });
});
