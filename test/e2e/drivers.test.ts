import * as assert from "assert";
import * as fs from "fs";
import * as http from "http";
import * as yaml from "js-yaml";
import { freePort, run as runProgram } from "../support/processes";
import { DriverProject, DriverRun, driverProject } from "./support/driverProject";
import { ReleaseStep, ShopWorld, split, startShopWorld, stopShopWorld } from "./support/shopStack";

/**
 * The promote and rollback drivers against the real CLI: the Automation API runs
 * the toolchain's Pulumi on a docker-host stack of the shop, one `pulumi up` per
 * config change. The canary's metrics are its own Prometheus endpoint, reached
 * through the router pinned to the canary (`X-Release-Target`); user traffic goes
 * through the router meanwhile; the webhook is a server on loopback.
 */
const CANARY = "v1.1.0";
const STABLE = "v1.0.0";
/** Short windows and a low floor, so a bake is a few seconds; p95 generous for a loaded machine. */
const ANALYSIS = { intervalSeconds: 1, maxErrorRate: 0.1, maxP95LatencyMs: 3000, minRequests: 3 };
const DRIVER_TIMEOUT_MS = 240_000;

/** An event line with its clock fields checked and replaced by placeholders: `ts` on every line, `durationMs` on the last. */
function normalized(event: Record<string, unknown>): Record<string, unknown> {
    const shown = JSON.stringify(event);
    assert.match(String(event.ts), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, `ts of ${shown}`);
    const out: Record<string, unknown> = { ...event, ts: "<ts>" };
    if ("durationMs" in event) {
        assert.ok(Number.isInteger(event.durationMs) && (event.durationMs as number) > 0, `durationMs of ${shown}`);
        out.durationMs = "<ms>";
    }
    return out;
}

/** A webhook receiver on loopback: every POST body, in order. */
async function startWebhook(): Promise<{ url: string; bodies: string[]; stop(): Promise<void> }> {
    const bodies: string[] = [];
    const server = http.createServer((request, response) => {
        let body = "";
        request.on("data", (chunk) => (body += chunk));
        request.on("end", () => {
            if (request.method === "POST") bodies.push(body);
            response.writeHead(204).end();
        });
    });
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    return {
        url: `http://127.0.0.1:${port}/hooks/e2e-T0K3N`,
        bodies,
        stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
}

/** The canary's `/metrics` through the router: a loopback hop that adds `X-Release-Target: <version>`. */
async function startCanaryMetrics(routerPort: number, version: string): Promise<{ url: string; stop(): Promise<void> }> {
    const server = http.createServer((request, response) => {
        fetch(`http://127.0.0.1:${routerPort}${request.url}`, { headers: { "X-Release-Target": version } })
            .then(async (answer) => response.writeHead(answer.status, { "Content-Type": "text/plain" }).end(await answer.text()))
            .catch((err: Error) => response.writeHead(502).end(`router: ${err.message}`));
    });
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    return { url: `http://127.0.0.1:${port}/metrics`, stop: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** Users: `GET /` through the router, two at a time, until stopped; answers counted as `<status> <body>`. */
function startUsers(world: ShopWorld): { answers: Record<string, number>; stop(): Promise<void> } {
    const answers: Record<string, number> = {};
    let stopping = false;
    const user = async () => {
        while (!stopping) {
            const { status, body } = await world.get("/").catch((err: Error) => ({ status: 0, body: err.message }));
            const key = `${status} ${body.split(" ")[0]}`;
            answers[key] = (answers[key] ?? 0) + 1;
            await new Promise((resolve) => setTimeout(resolve, 10));
        }
    };
    const users = [user(), user()];
    return {
        answers,
        stop: async () => {
            stopping = true;
            await Promise.all(users);
        },
    };
}

describe("e2e: the promote and rollback drivers against the real CLI", function () {
    let world: ShopWorld | undefined;
    let project: DriverProject;
    let webhook: Awaited<ReturnType<typeof startWebhook>> | undefined;
    let metrics: Awaited<ReturnType<typeof startCanaryMetrics>> | undefined;
    const stackName = "e2e-drivers";

    function shop(): ShopWorld {
        assert.ok(world !== undefined, "the shop world started");
        return world;
    }

    /** A step of this file's walk: the analysis thresholds ride along with every config the test writes. */
    function configure(step: ReleaseStep): void {
        shop().configure({ ...step, moreConfig: { "release:analysis": ANALYSIS } });
    }

    function stackFileConfig(): Record<string, unknown> {
        return (yaml.load(fs.readFileSync(shop().stack.configFile, "utf8")) as { config: Record<string, unknown> }).config;
    }

    /** Runs a driver while users send traffic; the event lines must be what the webhook got, in order. */
    async function drive(command: "promote" | "rollback", args: string[]): Promise<DriverRun & { answers: Record<string, number> }> {
        const posted = webhook!.bodies.length;
        const users = startUsers(shop());
        let run: DriverRun;
        try {
            run = await project.run(command, args, DRIVER_TIMEOUT_MS);
        } finally {
            await users.stop();
        }
        assert.deepStrictEqual(webhook!.bodies.slice(posted), run.eventLines, `the webhook got every event line:\n${run.stderr}`);
        assert.ok(!run.stderr.includes(webhook!.url) && !run.stderr.includes("e2e-T0K3N"), "the webhook URL is never printed");
        return { ...run, answers: users.answers };
    }

    before(async () => {
        // The web command picks FAIL_RATE per version from the first deploy on, so releasing v1.1.0 leaves v1.0.0's container alone.
        world = await startShopWorld("drivers", { version: STABLE, failRates: { [CANARY]: 0.5 } });
        assert.strictEqual(world.stack.name, stackName);
        webhook = await startWebhook();
        metrics = await startCanaryMetrics(world.routerPort, CANARY);
        project = await driverProject(world.stack, { DOCKER_HOST: world.engine.host });
    });
    after(async () => {
        await webhook?.stop();
        await metrics?.stop();
        await stopShopWorld(world);
    });

    it("a shop at v1.0.0, then v1.1.0 released at weight 0 with a canary that fails half its answers", async () => {
        configure({ version: STABLE, failRates: { [CANARY]: 0.5 } });
        await shop().stack.up();
        await shop().stack.setSecret("release:notify", JSON.stringify({ webhookUrl: webhook!.url }));
        configure({ version: CANARY, previous: STABLE, canaryWeight: 0, failRates: { [CANARY]: 0.5 } });
        await shop().stack.up();
        assert.deepStrictEqual((await shop().stack.outputs()).weights, { [CANARY]: 0, [STABLE]: 100 });
        assert.deepStrictEqual(await split(shop(), 10), { [STABLE]: 10 });
    });

    it("promote: the canary's error rate breaches at 10%, the driver reverts to weight 0 on its own", async () => {
        const run = await drive("promote", ["--steps", "10,50,100", "--bake", "20s", "--metrics-url", metrics!.url]);
        assert.strictEqual(run.code, 1, run.stderr);
        assert.deepStrictEqual(run.events.map(normalized), [
            {
                event: "promote_start",
                version: CANARY,
                previous: STABLE,
                steps: [10, 50, 100],
                bakeSeconds: 20,
                retire: false,
                stack: stackName,
                ts: "<ts>",
            },
            {
                event: "promote_revert",
                version: CANARY,
                previous: STABLE,
                fromWeight: 10,
                reason: run.events[1]?.reason,
                sample: run.events[1]?.sample,
                stack: stackName,
                ts: "<ts>",
            },
            {
                event: "promote_complete",
                success: false,
                version: CANARY,
                weight: 0,
                reverted: true,
                reason: run.events[1]?.reason,
                durationMs: "<ms>",
                stack: stackName,
                ts: "<ts>",
            },
        ]);
        assert.match(String(run.events[1].reason), /^error rate \d+\.\d\d% above 10\.00%$/);
        const sample = run.events[1].sample as { requests: number; errorRate: number; p95LatencyMs: number };
        assert.deepStrictEqual(Object.keys(sample), ["requests", "errorRate", "p95LatencyMs"]);
        assert.ok(sample.requests >= ANALYSIS.minRequests && sample.errorRate > 0.1, JSON.stringify(sample));
        assert.strictEqual(run.events[1].reason, `error rate ${(sample.errorRate * 100).toFixed(2)}% above 10.00%`);
        assert.ok(run.answers[`500 ${CANARY}`] > 0, `users met the canary's failures: ${JSON.stringify(run.answers)}`);

        assert.deepStrictEqual((await shop().stack.outputs()).weights, { [CANARY]: 0, [STABLE]: 100 });
        assert.strictEqual(stackFileConfig()["release:canaryWeight"], "0", "the driver's change is in the stack file");
        assert.deepStrictEqual((await project.commitSubjects()).slice(0, 2), [
            `release(${stackName}): canary ${CANARY} 10 → 0 (reverted)`,
            `release(${stackName}): canary ${CANARY} 0 → 10`,
        ]);
        assert.deepStrictEqual(await split(shop(), 20), { [STABLE]: 20 }, "all traffic back on v1.0.0");
    });

    it("promote a healthy canary to 100%: each weight baked, the split measured through the router", async () => {
        configure({ version: CANARY, previous: STABLE, canaryWeight: 0, failRates: { [CANARY]: 0 } });
        await shop().stack.up();
        const run = await drive("promote", ["--steps", "50,100", "--bake", "3s", "--metrics-url", metrics!.url]);
        assert.strictEqual(run.code, 0, run.stderr);
        assert.deepStrictEqual(run.events.map(normalized), [
            {
                event: "promote_start",
                version: CANARY,
                previous: STABLE,
                steps: [50, 100],
                bakeSeconds: 3,
                retire: false,
                stack: stackName,
                ts: "<ts>",
            },
            {
                event: "promote_complete",
                success: true,
                version: CANARY,
                weight: 100,
                retired: false,
                durationMs: "<ms>",
                stack: stackName,
                ts: "<ts>",
            },
        ]);
        assert.match(run.stderr, /step 1\/2 weight 50%: .*; requests \d+, error rate 0\.00%, p95 \d+ ms: healthy/);
        assert.ok(!Object.keys(run.answers).some((answer) => answer.startsWith("5")), JSON.stringify(run.answers));

        assert.deepStrictEqual((await shop().stack.outputs()).weights, { [CANARY]: 100, [STABLE]: 0 });
        assert.deepStrictEqual(await split(shop(), 20), { [CANARY]: 20 });
        assert.deepStrictEqual((await project.commitSubjects()).slice(0, 2), [
            `release(${stackName}): canary ${CANARY} 50 → 100`,
            `release(${stackName}): canary ${CANARY} 0 → 50`,
        ]);
    });

    it("rollback: back to v1.0.0, still warm, from the stack history", async () => {
        const run = await drive("rollback", []);
        assert.strictEqual(run.code, 0, run.stderr);
        assert.deepStrictEqual(run.events.map(normalized), [
            { event: "rollback_start", from: CANARY, to: STABLE, previous: CANARY, targetWarm: true, stack: stackName, ts: "<ts>" },
            { event: "rollback_complete", success: true, from: CANARY, to: STABLE, durationMs: "<ms>", stack: stackName, ts: "<ts>" },
        ]);
        assert.match(run.stderr, /rolling back from v1\.1\.0 to v1\.0\.0 \(v1\.0\.0 is warm: listener weights only\)/);
        // The update's own summary, line by line behind the driver's prefix: the router's config, nothing else.
        assert.match(run.stderr, /^ {2}\| Resources:\n {2}\| {5}~ 1 updated\n {2}\| {5}\d+ unchanged$/m);

        const outputs = await shop().stack.outputs();
        assert.deepStrictEqual([outputs.version, outputs.previous, outputs.schemaHead], [STABLE, CANARY, CANARY]);
        assert.deepStrictEqual(outputs.weights, { [STABLE]: 100, [CANARY]: 0 });
        assert.deepStrictEqual(await split(shop(), 20), { [STABLE]: 20 });
        const config = stackFileConfig();
        assert.deepStrictEqual(
            [config["release:version"], config["release:previous"], config["release:canaryWeight"]],
            [STABLE, CANARY, "100"],
        );
        assert.strictEqual((await project.commitSubjects())[0], `release(${stackName}): rollback ${CANARY} → ${STABLE}`);
        assert.strictEqual(
            (await runProgram("git", ["-C", project.dir, "status", "--porcelain", "--", `Pulumi.${stackName}.yaml`])).stdout,
            "",
            "the driver left its stack file committed",
        );
    });
});
