import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import { performance } from "perf_hooks";
import {
    HostStep,
    HostWorld,
    buildDemoArtifact,
    getJson,
    startHostWorld,
    stopHostWorld,
    supervisorctl,
} from "../test/e2e/support/hostWorld";
import { PROJECT_DIR } from "../test/e2e/support/pulumiCli";
import { LoadMethod, Outcome, failuresByMethod } from "../test/support/httpLoad";
import { withChildCpu } from "./cpu";

/** Measured rollbacks of each kind; each is undone (unmeasured) before the next. */
const RUNS = 3;
const HEALTH_WAIT_MS = 30_000;
const LOAD_CONCURRENCY = 4;

/**
 * A warm rollback on `host` (`pulumi up --skip-preview` with `version` and
 * `previous` swapped, canary mode: the old version still runs, the router's
 * weights move) against the runbook's procedure done by hand on the same
 * service and machine: `supervisorctl stop`, swap the release directory
 * (`mv web web.new && mv web.old web`), `supervisorctl start`, wait for
 * `/healthz`. A steady load of GETs and POSTs goes through the router during
 * each. The pair is v1.0.0 and v1.0.1, a build of v1.0.0's code under a new
 * tag: both read the same data format, so a request can only fail because of
 * the way the rollback is done (v1.1.0's migration makes data v1.0.0 refuses
 * to write, which no way of rolling back fixes without the backup). By hand,
 * v1.0.0 is retired first: the runbook runs one version at a time.
 */
export async function run(): Promise<void> {
    const started = performance.now();
    let world: HostWorld | undefined;
    try {
        world = await startHostWorld("host-bench");
        const v101 = await buildV101(world.dir);
        const artifacts = { "v1.0.1": { web: v101 } };
        const forward: HostStep = { version: "v1.0.1", previous: "v1.0.0", canaryWeight: 100, artifacts };
        const back: HostStep = { version: "v1.0.0", previous: "v1.0.1", canaryWeight: 100, artifacts };
        await up(world, { version: "v1.0.0", artifacts });
        await up(world, { ...forward, canaryWeight: 0 });
        await up(world, forward);
        await expectServing(world, "v1.0.1");

        const engine: Measured[] = [];
        for (let i = 0; i < RUNS; i++) {
            world.configure(back);
            engine.push(await underLoad(world, () => world!.stack.up().then(() => undefined)));
            await expectServing(world, "v1.0.0");
            await up(world, forward);
        }

        // By hand, the runbook runs one version: with v1.0.0 warm behind the router, the router would
        // send the stopped version's requests to it and hide what the procedure does to users.
        await up(world, { version: "v1.0.1", artifacts });
        const manual: Measured[] = [];
        const swap = new ManualSwap(world);
        swap.prepare();
        for (let i = 0; i < RUNS; i++) {
            manual.push(await underLoad(world, () => swap.rollBack()));
            await expectServing(world, "v1.0.0");
            await swap.rollForward();
            await expectServing(world, "v1.0.1");
        }

        console.log(
            `host: a warm rollback v1.0.1 → v1.0.0 of the demo under a load of GETs and POSTs through the router ` +
                `(${LOAD_CONCURRENCY} loops), ${RUNS} runs each, ${((performance.now() - started) / 1000).toFixed(1)} s in all`,
        );
        report("pulumi up (canary: weights only)", engine);
        // By hand, the CPU counted is supervisorctl's: the service's own processes are supervisord's children.
        report("by hand (stop, mv, start, health)", manual);
        const faster = median(engine.map((m) => m.ms)) < median(manual.map((m) => m.ms));
        const clean = engine.every((m) => m.failed.GET.failed + m.failed.POST.failed === 0);
        console.log(`  goal: faster than by hand: ${faster ? "met" : "MISSED"}; no request failed during it: ${clean ? "met" : "MISSED"}`);
    } finally {
        await stopHostWorld(world);
    }
}

interface Measured {
    readonly ms: number;
    /** CPU seconds of the processes it ran and waited for (`pulumi up`'s whole tree; by hand, `supervisorctl`). */
    readonly cpu: number;
    readonly failed: ReturnType<typeof failuresByMethod>;
    /** Failed outcomes by status or error, for the report. */
    readonly why: Record<string, number>;
}

async function up(world: HostWorld, step: HostStep): Promise<void> {
    world.configure(step);
    await world.stack.up();
}

/** Waits (bounded) until the router answers from `version`. */
async function expectServing(world: HostWorld, version: string): Promise<void> {
    const deadline = Date.now() + HEALTH_WAIT_MS;
    for (;;) {
        const answer = await getJson(world, "/").catch((err: Error) => ({ error: err.message }));
        if ("version" in answer && answer.version === version) return;
        if (Date.now() > deadline) throw new Error(`the router should answer from ${version}; got ${JSON.stringify(answer)}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
}

/** Runs `rollback` with the load going, and returns its wall time and the requests that failed during it. */
async function underLoad(world: HostWorld, rollback: () => Promise<void>): Promise<Measured> {
    let stop = false;
    const agent = new http.Agent({ keepAlive: true, maxSockets: LOAD_CONCURRENCY });
    const outcomes: Outcome[] = [];
    const loops = Array.from({ length: LOAD_CONCURRENCY }, async (_, loop) => {
        for (let sequence = 0; !stop; sequence++) {
            outcomes.push(await send(world.routerPort, agent, loop % 2 === 0 ? "GET" : "POST", sequence));
        }
    });
    const begun = performance.now();
    let cpu: number;
    try {
        cpu = (await withChildCpu(rollback)).cpu;
    } finally {
        stop = true;
    }
    const ms = performance.now() - begun;
    await Promise.all(loops);
    agent.destroy();
    const why: Record<string, number> = {};
    for (const outcome of outcomes) {
        if (outcome.error === undefined && (outcome.status === 200 || outcome.status === 201)) continue;
        const key = `${outcome.method} ${outcome.error ?? outcome.status}`;
        why[key] = (why[key] ?? 0) + 1;
    }
    // A note's POST answers 201: count it as served, as `failed` in httpLoad counts a GET's 200.
    const served = outcomes.map((o) => (o.error === undefined && o.status === 201 ? { ...o, status: 200 } : o));
    return { ms, cpu, failed: failuresByMethod(served), why };
}

/**
 * One request: a GET of `/` or a POST of a note (the demo takes `{"text"}`, so
 * httpLoad's `{"order"}` body would only ever get a 400). Never resent.
 */
function send(port: number, agent: http.Agent, method: LoadMethod, sequence: number): Promise<Outcome> {
    return new Promise((resolve) => {
        const body = method === "POST" ? JSON.stringify({ text: `bench note ${sequence}` }) : undefined;
        const request = http.request(
            {
                host: "127.0.0.1",
                port,
                method,
                path: method === "POST" ? "/notes" : "/",
                agent,
                headers: body === undefined ? {} : { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) },
            },
            (response) => {
                let text = "";
                response.setEncoding("utf8");
                response.on("data", (chunk) => (text += chunk));
                response.on("end", () =>
                    resolve({ method, status: response.statusCode ?? 0, body: text, version: undefined, retried: false }),
                );
                response.on("error", (err) => resolve({ method, error: err.message }));
            },
        );
        request.on("error", (err) => resolve({ method, error: err.message }));
        request.setTimeout(5000, () => request.destroy(new Error("request timed out after 5000 ms")));
        request.end(body);
    });
}

/** v1.0.0's code and data format under the tag v1.0.1. */
async function buildV101(dir: string): Promise<{ path: string; sha256: string }> {
    const source = (file: string) => fs.readFileSync(path.join(PROJECT_DIR, "examples", "demo", "v1.0.0", file), "utf8");
    const store = source("store.js");
    if (!store.includes('const VERSION = "v1.0.0"')) throw new Error("examples/demo/v1.0.0/store.js no longer declares VERSION v1.0.0");
    return buildDemoArtifact(dir, "v1.0.1", {
        store: store.replace('const VERSION = "v1.0.0"', 'const VERSION = "v1.0.1"'),
        migrate: source("migrate.js"),
    });
}

/**
 * The runbook by hand on the program that takes the traffic (v1.0.1's, which
 * the router sends everything to): its release directory is swapped for a copy
 * of v1.0.0's, so the same program, port and route serve the old code.
 */
class ManualSwap {
    private readonly program = "demo-web-v1-0-1";
    private readonly dir: string;
    private readonly port: number;

    constructor(private readonly world: HostWorld) {
        this.dir = `${world.root}/releases/v1.0.1/web`;
        // v1.0.0 took slot 0 at the first deploy; v1.0.1 the next one.
        this.port = world.basePort + 1;
    }

    /** What an operator has at hand before a rollback: the old version's files beside the live ones. */
    prepare(): void {
        fs.cpSync(`${this.world.root}/releases/v1.0.0/web`, `${this.dir}.old`, { recursive: true });
    }

    async rollBack(): Promise<void> {
        await supervisorctl(this.world, ["stop", this.program]);
        fs.renameSync(this.dir, `${this.dir}.new`);
        fs.renameSync(`${this.dir}.old`, this.dir);
        await supervisorctl(this.world, ["start", this.program]);
        await this.healthy("v1.0.0");
    }

    async rollForward(): Promise<void> {
        await supervisorctl(this.world, ["stop", this.program]);
        fs.renameSync(this.dir, `${this.dir}.old`);
        fs.renameSync(`${this.dir}.new`, this.dir);
        await supervisorctl(this.world, ["start", this.program]);
        await this.healthy("v1.0.1");
    }

    private async healthy(version: string): Promise<void> {
        const deadline = Date.now() + HEALTH_WAIT_MS;
        for (;;) {
            try {
                const response = await fetch(`http://127.0.0.1:${this.port}/healthz`, { signal: AbortSignal.timeout(1000) });
                const body = (await response.json()) as { status?: string; version?: string };
                if (response.status === 200 && body.version === version) return;
            } catch {
                // Not listening yet.
            }
            if (Date.now() > deadline)
                throw new Error(`${this.program} did not answer /healthz as ${version} on ${this.port} within ${HEALTH_WAIT_MS} ms`);
            await new Promise((resolve) => setTimeout(resolve, 50));
        }
    }
}

function median(values: number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.floor((sorted.length - 1) / 2)];
}

function report(name: string, runs: Measured[]): void {
    const ms = runs.map((m) => m.ms);
    const sum = (method: LoadMethod) => runs.reduce((n, m) => n + m.failed[method].failed, 0);
    const sent = (method: LoadMethod) => runs.reduce((n, m) => n + m.failed[method].sent, 0);
    const why: Record<string, number> = {};
    for (const run of runs) for (const [key, n] of Object.entries(run.why)) why[key] = (why[key] ?? 0) + n;
    console.log(
        `  ${name.padEnd(34)} median ${(median(ms) / 1000).toFixed(2)} s, min ${(Math.min(...ms) / 1000).toFixed(2)} s, ` +
            `max ${(Math.max(...ms) / 1000).toFixed(2)} s, CPU median ${median(runs.map((m) => m.cpu)).toFixed(2)} s; failed GET ${sum("GET")}/${sent("GET")}, POST ${sum("POST")}/${sent("POST")}` +
            (Object.keys(why).length > 0 ? ` (${JSON.stringify(why)})` : ""),
    );
}

if (require.main === module) {
    run().catch((err) => {
        console.error(err);
        process.exitCode = 1;
    });
}
