import * as fs from "fs";
import * as path from "path";
import { performance } from "perf_hooks";
import * as yaml from "js-yaml";
import { PLACEHOLDER_DIGEST } from "../plan/evaluate";
import { runProgram } from "../plan/mockEngine";
import { evaluatedConfig, projectDefaults } from "../plan/stackConfig";
import { ensureToolchain, PROJECT_DIR } from "../test/e2e/support/pulumiCli";
import { ReleaseStep, ShopWorld, startShopWorld, stopShopWorld } from "../test/e2e/support/shopStack";
import { runTestEndCleanups, tempDir } from "../test/support/processes";
import { withChildCpu } from "./cpu";

const RUNS = 3;
// Every image pinned by digest, as `prod` requires: an update looks nothing up in the registry.
const START: ReleaseStep = { version: "v1.1.0", previous: "v1.0.0", canaryWeight: 0, pinned: true };
const FORWARD: ReleaseStep = { version: "v1.1.0", previous: "v1.0.0", canaryWeight: 100, pinned: true };
const ROLLBACK: ReleaseStep = { version: "v1.0.0", previous: "v1.1.0", canaryWeight: 100, pinned: true };
const shift = (canaryWeight: number): ReleaseStep => ({ ...START, canaryWeight });
/** The goal of a warm rollback: the previous version takes traffic this soon after `pulumi up` starts. */
const GOAL_SECONDS = 3;
const POLL_MS = 50;
const WAIT_TIMEOUT_MS = 60_000;

const seconds = (fromMs: number) => (performance.now() - fromMs) / 1000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function median(values: number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
}

const fmt = (values: number[]) => `median ${median(values).toFixed(2)} s (${values.map((v) => v.toFixed(2)).join(", ")})`;

/** One `pulumi up`: its wall time and the CPU time of its whole process tree, both in seconds. */
interface Timed {
    readonly wall: number;
    readonly cpu: number;
}

const fmtTimed = (runs: Timed[]) => `${fmt(runs.map((r) => r.wall))}, CPU ${fmt(runs.map((r) => r.cpu))}`;
const fmtOne = (run: Timed) => `${run.wall.toFixed(2)} s, CPU ${run.cpu.toFixed(2)} s`;

/** Applies a step with `pulumi up --skip-preview` (as `world.stack.up()`), or with the engine's own preview first. */
async function timedUp(world: ShopWorld, step: ReleaseStep, withPreview = false): Promise<Timed> {
    world.configure(step);
    const started = performance.now();
    const { cpu } = await withChildCpu(() => (withPreview ? world.stack.cli(["up", "--yes"]) : world.stack.up()));
    return { wall: seconds(started), cpu };
}

/** What `GET /` through the router answered, by time since `started`; a failed request answers its error. */
interface Answer {
    readonly at: number;
    readonly body: string;
}

async function answer(world: ShopWorld, started: number): Promise<Answer> {
    try {
        const response = await fetch(`http://127.0.0.1:${world.routerPort}/`, { signal: AbortSignal.timeout(2000) });
        const body = (await response.text()).trim();
        return { at: seconds(started), body: response.status === 200 ? body : `HTTP ${response.status}` };
    } catch (err) {
        return { at: seconds(started), body: `error ${(err as Error).name}` };
    }
}

/**
 * A warm rollback applied while a user polls `GET /`: the `up`'s wall time and
 * the time from its start after which every answer came from the previous version.
 */
async function rollbackWithPolling(world: ShopWorld): Promise<{ up: Timed; traffic: number | undefined }> {
    world.configure(ROLLBACK);
    const started = performance.now();
    let done = false;
    const answers: Answer[] = [];
    const polling = (async () => {
        while (!done) {
            answers.push(await answer(world, started));
            await sleep(POLL_MS);
        }
    })();
    let cpu: number;
    try {
        cpu = (await withChildCpu(() => world.stack.up())).cpu;
    } finally {
        done = true;
        await polling;
    }
    const up = { wall: seconds(started), cpu };
    const lastOther = answers.map((a) => a.body !== ROLLBACK.version).lastIndexOf(true);
    const first = answers[lastOther + 1];
    return { up, traffic: first?.at };
}

/** Polls until `ready` holds, for at most WAIT_TIMEOUT_MS; says what it waited for when it gives up. */
async function waitFor(what: string, ready: () => Promise<boolean>): Promise<void> {
    const deadline = performance.now() + WAIT_TIMEOUT_MS;
    while (!(await ready())) {
        if (performance.now() > deadline) throw new Error(`gave up after ${WAIT_TIMEOUT_MS / 1000} s waiting for ${what}`);
        await sleep(POLL_MS);
    }
}

interface BaselineTimes {
    readonly healthy: number;
    readonly traffic: number;
    readonly routerReloaded: boolean;
}

/**
 * The runbooks' Compose-style rollback on the same engine (there is no
 * `docker compose` here, so its steps by hand): stop and remove the new
 * version's web container, `docker run -d` the previous tag under the service's
 * name (the name the router resolves, as Compose keeps a service's name) with
 * the warm container's image digest, env, command, health check and network,
 * then wait for its health check and for the router to answer from it. The warm
 * previous container is removed first, untimed: Compose keeps none.
 */
async function composeStyleRollback(world: ShopWorld): Promise<BaselineTimes> {
    const docker = (args: string[]) => world.engine.docker(args);
    const [newName, oldName] = ["shop-web-v1-1-0", "shop-web-v1-0-0"];
    const inspected = JSON.parse((await docker(["inspect", oldName])).stdout)[0];
    const config = inspected.Config as { Image: string; Env: string[]; Cmd: string[] | null; Entrypoint: string[] | null };
    const health = inspected.Config.Healthcheck as {
        Test: string[];
        Interval: number;
        Timeout: number;
        Retries: number;
        StartPeriod: number;
    };
    const networks = Object.keys(inspected.NetworkSettings.Networks as Record<string, unknown>);
    // The env holds the service's database URL: into a file only this process reads, never onto a command line.
    const envDir = await tempDir("safe-release-bench-env-");
    const envFile = path.join(envDir, "web.env");
    fs.writeFileSync(envFile, config.Env.join("\n") + "\n", { mode: 0o600 });
    const nanos = (ns: number) => `${ns / 1e9}s`;
    const healthCmd = health.Test[0] === "CMD-SHELL" ? health.Test[1] : health.Test.slice(1).join(" ");
    try {
        await docker(["rm", "-f", oldName]);
        const started = performance.now();
        await docker(["stop", newName]);
        await docker(["rm", newName]);
        await docker([
            "run",
            "-d",
            "--name",
            newName,
            "--network",
            networks[0],
            // The router's config also names the removed warm container: the alias keeps that name resolving,
            // so a reload (when the container comes back on a new address) loads, as it would with Compose's one name.
            "--network-alias",
            oldName,
            "--env-file",
            envFile,
            "--health-cmd",
            healthCmd,
            "--health-interval",
            nanos(health.Interval),
            "--health-timeout",
            nanos(health.Timeout),
            "--health-retries",
            String(health.Retries),
            "--health-start-period",
            nanos(health.StartPeriod),
            ...(config.Entrypoint !== null ? ["--entrypoint", config.Entrypoint[0]] : []),
            config.Image,
            ...(config.Entrypoint !== null ? config.Entrypoint.slice(1) : []),
            ...(config.Cmd ?? []),
        ]);
        await waitFor(`${newName}'s health check`, async () => {
            const { stdout } = await docker(["inspect", "--format", "{{.State.Health.Status}}", newName]);
            return stdout.trim() === "healthy";
        });
        const healthy = seconds(started);
        const fromPrevious = async () => (await answer(world, started)).body === ROLLBACK.version;
        // nginx resolved the container's name when it loaded its config: a container on a new address needs a
        // reload, which a Compose operator fronting the service with nginx has to do too.
        let routerReloaded = false;
        const quickDeadline = performance.now() + 10_000;
        while (!(await fromPrevious())) {
            if (performance.now() > quickDeadline) {
                await docker(["exec", "shop-router", "nginx", "-s", "reload"]);
                routerReloaded = true;
                await waitFor("the router to answer from the previous version after a reload", fromPrevious);
                break;
            }
            await sleep(POLL_MS);
        }
        return { healthy, traffic: seconds(started), routerReloaded };
    } finally {
        fs.rmSync(envDir, { recursive: true, force: true });
    }
}

/** The program evaluated under mocks with the stack's config and last outputs, as the offline plan evaluates it. */
async function mockEvaluation(world: ShopWorld, step: ReleaseStep): Promise<{ seconds: number; resources: number }> {
    const defaults = projectDefaults(fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.yaml"), "utf8"));
    const evaluated = evaluatedConfig(yaml.dump({ config: world.config(step) }), defaults, "the stack at rest");
    const lastOutputs = await world.stack.outputs();
    const started = performance.now();
    const run = await runProgram({
        stack: world.stack.name,
        config: evaluated.config,
        secretKeys: evaluated.secretKeys,
        lastOutputs,
        unlistedDigest: () => PLACEHOLDER_DIGEST,
    });
    return { seconds: seconds(started), resources: run.resources.size };
}

/**
 * The real engine on the docker-host shop stack: wall time of `pulumi up` for a
 * traffic shift, a warm rollback and a cold release start; the warm rollback
 * against the runbooks' Compose-style one on the same Docker engine; and
 * `pulumi preview` of the stack at rest against the same program under mocks.
 */
export async function run(): Promise<void> {
    let world: ShopWorld | undefined;
    try {
        let started = performance.now();
        world = await startShopWorld("bench");
        console.log(`world started (dockerd, registry, images, PostgreSQL, stack init) in ${seconds(started).toFixed(1)} s`);
        const firstDeploy = await timedUp(world, { version: "v1.0.0", pinned: true });
        const releaseStart = await timedUp(world, START);
        // The first update after a release also deletes its finished data steps: not a plain shift.
        const firstShift = await timedUp(world, shift(10));
        const shiftUp: Timed[] = [];
        const shiftBackWithPreview: Timed[] = [];
        for (let i = 0; i < RUNS; i++) {
            shiftUp.push(await timedUp(world, shift(50)));
            shiftBackWithPreview.push(await timedUp(world, shift(10), true));
        }
        await timedUp(world, FORWARD);
        const rollbackUp: Timed[] = [];
        const rollbackTraffic: number[] = [];
        const forwardWithPreview: Timed[] = [];
        let trafficMissed = 0;
        for (let i = 0; i < RUNS; i++) {
            const rollback = await rollbackWithPolling(world);
            rollbackUp.push(rollback.up);
            if (rollback.traffic === undefined) trafficMissed++;
            else rollbackTraffic.push(rollback.traffic);
            forwardWithPreview.push(await timedUp(world, FORWARD, true));
        }

        // The stack at rest (FORWARD applied): the engine's preview, then the same program under mocks.
        const previews: number[] = [];
        let unchanged = true;
        for (let i = 0; i < RUNS; i++) {
            started = performance.now();
            const { json } = await world.stack.preview();
            previews.push(seconds(started));
            unchanged &&= (json.steps ?? []).every((s) => s.op === "same" || s.op === "read");
        }
        const coldMock = await mockEvaluation(world, FORWARD);
        const mocks: number[] = [];
        for (let i = 0; i < RUNS; i++) mocks.push((await mockEvaluation(world, FORWARD)).seconds);

        const baseline = await composeStyleRollback(world);

        console.log(
            `real engine (CLI 3.250.0, file backend), docker-host shop stack (web + worker, PostgreSQL, digests pinned), vfs dockerd`,
        );
        console.log(`pulumi up wall time and CPU time (user + system, the CLI's whole process tree), --skip-preview unless marked:`);
        console.log(`  first deploy v1.0.0 (1 run)                        ${fmtOne(firstDeploy)}`);
        console.log(`  cold release start v1.1.0 at 0% with data steps (1) ${fmtOne(releaseStart)}`);
        console.log(`  first shift 0 → 10 (deletes finished data steps)   ${fmtOne(firstShift)}`);
        console.log(`  traffic shift 10 → 50                              ${fmtTimed(shiftUp)}`);
        console.log(`  traffic shift 50 → 10, with preview                ${fmtTimed(shiftBackWithPreview)}`);
        console.log(`  warm rollback v1.1.0 → v1.0.0 at 100               ${fmtTimed(rollbackUp)}`);
        console.log(`  roll forward v1.0.0 → v1.1.0 at 100, with preview  ${fmtTimed(forwardWithPreview)}`);
        const wall = (runs: Timed[]) => median(runs.map((r) => r.wall));
        console.log(
            `  preview's share of an up (same one-resource plan): shift +${(wall(shiftBackWithPreview) - wall(shiftUp)).toFixed(2)} s, ` +
                `rollback +${(wall(forwardWithPreview) - wall(rollbackUp)).toFixed(2)} s`,
        );
        const warm = rollbackTraffic.length > 0 ? median(rollbackTraffic) : Number.NaN;
        console.log(
            `warm rollback: every GET / from v1.0.0 after ${rollbackTraffic.length > 0 ? fmt(rollbackTraffic) : "never"} of up wall time` +
                (trafficMissed > 0 ? ` (${trafficMissed} run(s) where v1.0.0 did not have all traffic by the end of up)` : ""),
        );
        console.log(
            `Compose-style rollback (no docker compose here: docker stop + rm of v1.1.0's web, docker run -d of v1.0.0's digest): ` +
                `healthy after ${baseline.healthy.toFixed(2)} s, router answers from v1.0.0 after ${baseline.traffic.toFixed(2)} s` +
                (baseline.routerReloaded
                    ? " (needed an nginx reload: the container came back on a new address)"
                    : " (no router reload needed)"),
        );
        const met = warm < GOAL_SECONDS && warm < baseline.traffic && trafficMissed === 0;
        console.log(
            `goal: a warm rollback takes traffic in < ${GOAL_SECONDS} s of pulumi up wall time and faster than the baseline → ` +
                `${met ? "met" : "NOT met"} (${warm.toFixed(2)} s; baseline / warm = ${(baseline.traffic / warm).toFixed(2)}x)`,
        );
        console.log(
            `engine's own cost at rest (${coldMock.resources} resources${unchanged ? ", no changes" : ", preview NOT empty"}): ` +
                `pulumi preview ${fmt(previews)}; program under mocks in process ${fmt(mocks)} ` +
                `(first, with module loading, ${coldMock.seconds.toFixed(2)} s); preview / mocks = ${(median(previews) / median(mocks)).toFixed(1)}x`,
        );
    } finally {
        await stopShopWorld(world);
        await runTestEndCleanups();
        if (world !== undefined) {
            fs.rmSync(world.stack.dir, { recursive: true, force: true });
            fs.rmSync((await ensureToolchain()).home, { recursive: true, force: true });
        }
    }
}
