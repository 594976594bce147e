import * as assert from "assert";
import { parseAnalysisConfig } from "../../core/gateConfig";
import { EventLog } from "../../drivers/events";
import { promote } from "../../drivers/promote";
import { MetricSample } from "../../drivers/types";
import { FakeStack, RecordingStackFile } from "./fakeStack";

const THIN: MetricSample = { requests: 3, errorRate: 0, p95LatencyMs: 40 };
const ENOUGH: MetricSample = { requests: 80, errorRate: 0, p95LatencyMs: 40 };

/**
 * One promotion on a simulated clock: `sleep` advances it, so a bake of 3 s at a 1 s
 * interval is exactly three windows whatever the machine's load.
 */
async function promoteWith(windows: MetricSample[], analysis: Record<string, unknown>, steps = [10, 50]) {
    const stack = new FakeStack("prod", { "release:version": "v1.5.0", "release:previous": "v1.4.2", "release:canaryWeight": "0" });
    const stackFile = new RecordingStackFile();
    let clock = 0;
    const progress: string[] = [];
    const events: Array<Record<string, unknown>> = [];
    const io = {
        progress: (line: string) => progress.push(line),
        events: (line: string) => events.push(JSON.parse(line)),
        now: () => clock,
        sleep: async (ms: number) => void (clock += ms),
    };
    const queue = [...windows];
    // The first call of each bake only starts its window; what it returns is not judged.
    const metrics = { description: "scripted", sample: async () => queue.shift() ?? THIN };
    const code = await promote(
        {
            stack,
            metrics,
            analysis: parseAnalysisConfig({ intervalSeconds: 1, maxErrorRate: 0.05, maxP95LatencyMs: 500, minRequests: 50, ...analysis }),
            log: new EventLog({ io, stack: "prod", secrets: [] }),
            io,
            stackFile,
        },
        { steps, bakeMs: 3000, retire: false, dryRun: false },
    );
    // eslint-disable-next-line @typescript-eslint/no-unused-vars -- the timestamp is the simulated clock's
    return { code, stack, stackFile, progress, events: events.map(({ ts, ...rest }) => rest) };
}

const REASON = "inconclusive: no window of the 3s bake at 10% had at least 50 requests (3 windows sampled)";

describe("promote: a bake with too few requests to judge is inconclusive, never a pass", () => {
    it("holds the weight and exits 1 by default (`onInconclusive: hold`)", async () => {
        const run = await promoteWith([THIN, THIN, THIN, THIN], {});
        assert.strictEqual(run.code, 1);
        assert.deepStrictEqual(run.stack.calls, ["set release:canaryWeight=10", "up"]);
        assert.deepStrictEqual(run.stackFile.records, ["check", "release(prod): canary v1.5.0 0 → 10"]);
        assert.deepStrictEqual(run.progress.slice(-4), [
            "step 1/2 weight 10%: 2s left; requests 3, error rate 0.00%, p95 40 ms: too few requests to judge (need 50)",
            "step 1/2 weight 10%: 1s left; requests 3, error rate 0.00%, p95 40 ms: too few requests to judge (need 50)",
            "step 1/2 weight 10%: 0ms left; requests 3, error rate 0.00%, p95 40 ms: too few requests to judge (need 50)",
            `step 1/2: ${REASON}; holding v1.5.0 at 10% (\`release:analysis.onInconclusive\` is hold): ` +
                "send the canary more traffic or lower `release:analysis.minRequests`, then run promote again to bake 10% anew",
        ]);
        assert.deepStrictEqual(run.events.at(-1), {
            event: "promote_complete",
            success: false,
            version: "v1.5.0",
            weight: 10,
            reverted: false,
            held: true,
            reason: REASON,
            durationMs: 3000,
            stack: "prod",
        });
    });

    it("reverts to weight 0 with `onInconclusive: revert`, the reason in both events and the commit", async () => {
        const run = await promoteWith([THIN, THIN, THIN, THIN], { onInconclusive: "revert" });
        assert.strictEqual(run.code, 1);
        assert.deepStrictEqual(run.stack.calls, ["set release:canaryWeight=10", "up", "set release:canaryWeight=0", "up"]);
        assert.deepStrictEqual(
            run.events.map((e) => [e.event, e.reason ?? null, e.weight ?? e.fromWeight ?? null]),
            [
                ["promote_start", null, null],
                ["promote_revert", REASON, 10],
                ["promote_complete", REASON, 0],
            ],
        );
        assert.deepStrictEqual(run.stackFile.records, [
            "check",
            "release(prod): canary v1.5.0 0 → 10",
            `release(prod): canary v1.5.0 10 → 0 (reverted)\nreason: ${REASON}`,
        ]);
    });

    it("counts a bake with one window of enough requests, among thin ones, as judged", async () => {
        const run = await promoteWith([THIN, THIN, ENOUGH, THIN, THIN, THIN, ENOUGH, THIN], {});
        assert.strictEqual(run.code, 0, run.progress.join("\n"));
        assert.deepStrictEqual(run.stack.calls, ["set release:canaryWeight=10", "up", "set release:canaryWeight=50", "up"]);
        assert.deepStrictEqual(run.events.at(-1), {
            event: "promote_complete",
            success: true,
            version: "v1.5.0",
            weight: 50,
            retired: false,
            durationMs: 6000,
            stack: "prod",
        });
    });

    it("holds at the later weight when only that bake is thin, naming it", async () => {
        const run = await promoteWith([THIN, ENOUGH, ENOUGH, ENOUGH, THIN, THIN, THIN, THIN], {});
        assert.strictEqual(run.code, 1);
        assert.deepStrictEqual(run.stack.calls, ["set release:canaryWeight=10", "up", "set release:canaryWeight=50", "up"]);
        assert.strictEqual(
            run.events.at(-1)?.reason,
            "inconclusive: no window of the 3s bake at 50% had at least 50 requests (3 windows sampled)",
        );
        assert.deepStrictEqual(run.stackFile.records.slice(-1), ["release(prod): canary v1.5.0 10 → 50"]);
    });
});
