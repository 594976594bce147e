import * as assert from "assert";
import { MetricsServer, startMetricsServer, startWebhookReceiver } from "../support/metricsServer";
import { assertNoSecrets, FakeStack, OPERATOR_TOKEN, runDriver, stable, WEBHOOK_PATH } from "./fakeStack";

const INTERVAL_MS = 100;
const ANALYSIS = JSON.stringify({ intervalSeconds: INTERVAL_MS / 1000, maxErrorRate: 0.05, maxP95LatencyMs: 500, minRequests: 20 });

type Receiver = Awaited<ReturnType<typeof startWebhookReceiver>>;

function canaryStack(webhookUrl: string): FakeStack {
    const stack = new FakeStack("dev", {
        "release:version": "v1.5.0",
        "release:previous": "v1.4.2",
        "release:canaryWeight": "0",
        "release:analysis": ANALYSIS,
        "release:notify": JSON.stringify({ webhookUrl }),
    });
    // Update output that echoes credentials, as a misbehaving provider or program might.
    stack.upOutput = [
        "Updating (dev):",
        `  notify ${webhookUrl}`,
        `  header Authorization: Bearer ${OPERATOR_TOKEN}`,
        `  raw ${OPERATOR_TOKEN}`,
    ];
    return stack;
}

describe("promote driver (fake stack, real metrics endpoint, real webhook)", () => {
    let metrics: MetricsServer;
    let receiver: Receiver;
    beforeEach(async () => {
        metrics = await startMetricsServer({ version: "v1.5.0", previous: "v1.4.2" });
        receiver = await startWebhookReceiver(WEBHOOK_PATH);
    });
    afterEach(async () => {
        await metrics.close();
        await receiver.close();
    });

    it("walks 10 → 50 → 100, bakes each, retires the previous version and notifies start and completion", async () => {
        const stack = canaryStack(receiver.url);
        const run = await runDriver(stack, [
            "promote",
            "dev",
            "--steps",
            "10,50,100",
            "--bake",
            "300ms",
            "--retire",
            "--metrics-url",
            metrics.url,
        ]);
        assert.strictEqual(run.code, 0, run.progress.join("\n"));
        assert.deepStrictEqual(stack.calls, [
            "set release:canaryWeight=10",
            "up",
            "set release:canaryWeight=50",
            "up",
            "set release:canaryWeight=100",
            "up",
            "remove release:previous",
            "up",
        ]);
        const expected = [
            {
                event: "promote_start",
                version: "v1.5.0",
                previous: "v1.4.2",
                steps: [10, 50, 100],
                bakeSeconds: 0.3,
                retire: true,
                stack: "dev",
            },
            { event: "promote_complete", success: true, version: "v1.5.0", weight: 100, retired: true, stack: "dev" },
        ];
        assert.deepStrictEqual(stable(run.events), expected);
        assert.deepStrictEqual(stable(receiver.received), expected);
        for (const step of ["1/3 weight 10%", "2/3 weight 50%", "3/3 weight 100%"]) {
            const samples = run.progress.filter((l) => l.startsWith(`step ${step}: `));
            assert.ok(samples.length >= 2, `step ${step} sampled ${samples.length} times`);
            // A last, shorter window may hold too few requests to judge; it must never read as a breach.
            for (const line of samples)
                assert.match(
                    line,
                    /: \d+(ms|\.\d+s|s) left; requests \d+, error rate 0\.00%, p95 \d+ ms: (healthy|too few requests to judge \(need 20\))$/,
                );
            assert.ok(
                samples.some((l) => /error rate 0\.00%, p95 4[78] ms: healthy$/.test(l)),
                samples.join("\n"),
            );
        }
        assert.ok(run.progress.includes("metrics: Prometheus metrics at " + metrics.url + ' for version="v1.5.0"'));
        assertNoSecrets(run.lines, receiver.url);
    });

    it("reverts to weight 0 on its own within two analysis intervals of the canary turning bad", async () => {
        const stack = canaryStack(receiver.url);
        const timer = setTimeout(() => metrics.turnBad(), 250);
        const run = await runDriver(stack, ["promote", "dev", "--steps", "10,100", "--bake", "3s", "--metrics-url", metrics.url]);
        clearTimeout(timer);
        assert.strictEqual(run.code, 1);
        assert.deepStrictEqual(stack.calls, ["set release:canaryWeight=10", "up", "set release:canaryWeight=0", "up"]);
        const delay = stack.upStartedAt[1] - metrics.turnedBadAt!;
        assert.ok(delay > 0 && delay <= 2 * INTERVAL_MS, `revert started ${delay.toFixed(1)} ms after the canary turned bad`);
        const expected = [
            {
                event: "promote_start",
                version: "v1.5.0",
                previous: "v1.4.2",
                steps: [10, 100],
                bakeSeconds: 3,
                retire: false,
                stack: "dev",
            },
            { event: "promote_revert", version: "v1.5.0", previous: "v1.4.2", fromWeight: 10, stack: "dev" },
            { event: "promote_complete", success: false, version: "v1.5.0", weight: 0, reverted: true, stack: "dev" },
        ];
        assert.deepStrictEqual(stable(run.events), expected);
        assert.deepStrictEqual(stable(receiver.received), expected);
        assert.match(String(run.events[1].reason), /^error rate \d+\.\d\d% above 5\.00%(; p95 \d+ ms above 500 ms)?$/);
        assert.strictEqual(run.events[2].reason, run.events[1].reason);
        const sample = run.events[1].sample as { requests: number; errorRate: number };
        assert.ok(sample.requests >= 20 && sample.errorRate > 0.05);
        assert.ok(run.progress.some((l) => /^step 1\/2 weight 10%: .* BREACH: error rate/.test(l)));
        assertNoSecrets(run.lines, receiver.url);
    });

    it("reverts when an update fails mid-promotion, without printing the failure's secrets", async () => {
        const stack = canaryStack(receiver.url);
        stack.failUp = new Set([1]);
        stack.failMessage = `update failed: webhook ${receiver.url} rejected Bearer ${OPERATOR_TOKEN}`;
        const run = await runDriver(stack, ["promote", "dev", "--steps", "10,50", "--bake", "100ms", "--metrics-url", metrics.url]);
        assert.strictEqual(run.code, 1);
        assert.deepStrictEqual(stack.calls, [
            "set release:canaryWeight=10",
            "up",
            "set release:canaryWeight=50",
            "up",
            "set release:canaryWeight=0",
            "up",
        ]);
        assert.deepStrictEqual(
            run.events.map((e) => [e.event, e.reason ?? null]),
            [
                ["promote_start", null],
                ["promote_revert", "update failed: update failed: webhook [masked] rejected Bearer [masked]"],
                ["promote_complete", "update failed: update failed: webhook [masked] rejected Bearer [masked]"],
            ],
        );
        assertNoSecrets(run.lines, receiver.url);
    });

    it("keeps the new version at 100 when only retiring the previous one fails", async () => {
        const stack = canaryStack(receiver.url);
        stack.failUp = new Set([2]);
        const run = await runDriver(stack, [
            "promote",
            "dev",
            "--steps",
            "50,100",
            "--bake",
            "100ms",
            "--retire",
            "--metrics-url",
            metrics.url,
        ]);
        assert.strictEqual(run.code, 1);
        assert.deepStrictEqual(stack.calls, [
            "set release:canaryWeight=50",
            "up",
            "set release:canaryWeight=100",
            "up",
            "remove release:previous",
            "up",
        ]);
        assert.deepStrictEqual(stable(run.events)[1], {
            event: "promote_complete",
            success: false,
            version: "v1.5.0",
            weight: 100,
            reverted: false,
            error: "retiring v1.4.2 failed: update failed: 1 resource failed",
            stack: "dev",
        });
    });

    it("reverts when the metrics endpoint fails twice in a row", async () => {
        const stack = canaryStack(receiver.url);
        const timer = setTimeout(() => metrics.breakEndpoint(), 150);
        const run = await runDriver(stack, ["promote", "dev", "--steps", "10", "--bake", "2s", "--metrics-url", metrics.url]);
        clearTimeout(timer);
        assert.strictEqual(run.code, 1);
        assert.deepStrictEqual(stack.calls, ["set release:canaryWeight=10", "up", "set release:canaryWeight=0", "up"]);
        assert.strictEqual(run.events[1].reason, "metrics unavailable twice in a row: the metrics endpoint answered HTTP 503");
    });

    it("prints the plan and a preview summary on --dry-run and changes nothing", async () => {
        const stack = canaryStack(receiver.url);
        const run = await runDriver(stack, ["promote", "dev", "--dry-run", "--steps", "10,100", "--bake", "5m", "--retire"]);
        assert.strictEqual(run.code, 0);
        assert.deepStrictEqual(stack.calls, ["preview"]);
        const gate =
            "bake 5m (sample every 0.1s; revert if error rate > 0.05 or p95 > 500 ms with at least 20 requests; hold if no window has that many)";
        assert.deepStrictEqual(run.progress, [
            "dry run: promote v1.5.0 on stack `dev` (now 0%, previous v1.4.2); nothing will change",
            `1. set release:canaryWeight = 10 (v1.5.0 10%, v1.4.2 90%); pulumi up; ${gate}`,
            `2. set release:canaryWeight = 100 (v1.5.0 100%, v1.4.2 0%); pulumi up; ${gate}`,
            "3. remove release:previous (retires v1.4.2); pulumi up",
            "preview of the stack as configured now: 14 same, 1 update",
        ]);
        assert.deepStrictEqual([run.events, receiver.received, metrics.scrapes], [[], [], 0]);
    });
});
