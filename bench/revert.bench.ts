import { performance } from "perf_hooks";
import { EventLog } from "../drivers/events";
import { Counters, diffCounters, PrometheusSource } from "../drivers/metrics/prometheus";
import { promote } from "../drivers/promote";
import { MetricSample, MetricSource } from "../drivers/types";
import { FakeStack } from "../test/drivers/fakeStack";
import { startMetricsServer } from "../test/support/metricsServer";

const RUNS = 20;
const INTERVAL_SECONDS = 1;
const ANALYSIS = {
    intervalSeconds: INTERVAL_SECONDS,
    maxErrorRate: 0.05,
    maxP95LatencyMs: 500,
    minRequests: 50,
    onInconclusive: "hold",
} as const;

/**
 * The alternative to windowed samples: judge everything since the bake started.
 * Healthy history dilutes a fresh failure, so it should notice later.
 */
class SinceBakeStartSource implements MetricSource {
    readonly description = "cumulative since the bake started";
    private first?: Counters;

    constructor(private readonly inner: PrometheusSource) {}

    async sample(): Promise<MetricSample> {
        const current = await this.inner.scrape();
        this.first ??= current;
        return diffCounters(this.first, current);
    }
}

/** One promotion whose canary turns bad at a random phase of the sampling; returns ms from bad to the revert `up`. */
async function timeToRevert(kind: "windowed" | "cumulative"): Promise<number> {
    const server = await startMetricsServer({ version: "v1.5.0", previous: "v1.4.2", requestsPerSecond: 1000 });
    const stack = new FakeStack("bench", { "release:version": "v1.5.0", "release:previous": "v1.4.2", "release:canaryWeight": "0" });
    stack.upOutput = [];
    const io = { progress: () => undefined, events: () => undefined };
    const prometheus = new PrometheusSource({ url: server.url, version: "v1.5.0" });
    const metrics = kind === "windowed" ? prometheus : new SinceBakeStartSource(prometheus);
    const timer = setTimeout(() => server.turnBad(), 1500 + Math.random() * INTERVAL_SECONDS * 1000);
    try {
        const code = await promote(
            { stack, metrics, analysis: ANALYSIS, io, log: new EventLog({ io, stack: "bench", secrets: [] }) },
            { steps: [10, 100], bakeMs: 20000, retire: false, dryRun: false },
        );
        if (code !== 1 || stack.calls.join(" ") !== "set release:canaryWeight=10 up set release:canaryWeight=0 up") {
            throw new Error(`expected a revert; got exit ${code} after ${stack.calls.join(", ")}`);
        }
        return stack.upStartedAt[1] - server.turnedBadAt!;
    } finally {
        clearTimeout(timer);
        await server.close();
    }
}

function quantile(values: number[], q: number): number {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)];
}

export async function run(): Promise<void> {
    const started = performance.now();
    // Independent servers and stacks, so the runs may overlap without sharing anything.
    const [windowed, cumulative] = await Promise.all([
        Promise.all(Array.from({ length: RUNS }, () => timeToRevert("windowed"))),
        Promise.all(Array.from({ length: RUNS }, () => timeToRevert("cumulative"))),
    ]);
    const intervalMs = INTERVAL_SECONDS * 1000;
    console.log(
        `revert: time from the canary turning bad (50% 5xx, p95 > 1 s) to the revert \`up\` starting; ` +
            `${RUNS} runs each, analysis interval ${intervalMs} ms, ${((performance.now() - started) / 1000).toFixed(1)} s in all`,
    );
    for (const [name, values] of [
        ["windowed samples (the driver)", windowed],
        ["cumulative since bake start", cumulative],
    ] as const) {
        const median = quantile(values, 0.5);
        console.log(
            `  ${name.padEnd(30)} median ${median.toFixed(0)} ms (${(median / intervalMs).toFixed(2)} intervals), ` +
                `p95 ${quantile(values, 0.95).toFixed(0)} ms, max ${Math.max(...values).toFixed(0)} ms`,
        );
    }
    const ratio = quantile(cumulative, 0.5) / quantile(windowed, 0.5);
    console.log(
        `  cumulative / windowed median: ${ratio.toFixed(2)}x; goal median < 2 intervals: ${quantile(windowed, 0.5) < 2 * intervalMs ? "met" : "MISSED"}`,
    );
}

if (require.main === module) {
    run().catch((err) => {
        console.error(err);
        process.exitCode = 1;
    });
}
