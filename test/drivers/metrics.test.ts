import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { performance } from "perf_hooks";
import { NginxAccessLogSource, parseAccessLogLine, summarizeEntries } from "../../drivers/metrics/nginxLog";
import { diffCounters, extractCounters, histogramQuantile, parsePrometheusText, PrometheusSource } from "../../drivers/metrics/prometheus";
import { startMetricsServer } from "../support/metricsServer";
import { freePort, tempDir } from "../support/processes";

const EXPOSITION = `# HELP http_requests_total Requests.
# TYPE http_requests_total counter
http_requests_total{version="v1.5.0",status="200"} 90
http_requests_total{version="v1.5.0",status="503"} 10 1700000000000
http_requests_total{version="v1.4.2",status="500"} 1000
http_requests_total{path="/a \\"b\\"",version="v1.5.0",status="404"} 5
http_request_duration_seconds_bucket{version="v1.5.0",le="0.1"} 50
http_request_duration_seconds_bucket{version="v1.5.0",le="0.5"} 95
http_request_duration_seconds_bucket{version="v1.5.0",le="+Inf"} 105
http_request_duration_seconds_bucket{version="v1.4.2",le="+Inf"} 1000
not a sample line {
`;

describe("Prometheus metric source", () => {
    it("parses the text format, including escaped label values and timestamps", () => {
        const samples = parsePrometheusText(EXPOSITION);
        assert.strictEqual(samples.length, 8);
        assert.deepStrictEqual(samples[1], { name: "http_requests_total", labels: { version: "v1.5.0", status: "503" }, value: 10 });
        assert.deepStrictEqual(samples[3].labels, { path: '/a "b"', version: "v1.5.0", status: "404" });
        assert.strictEqual(samples[6].value, 105);
    });

    it("counts only the canary's series and reads 5xx as errors", () => {
        const counters = extractCounters(parsePrometheusText(EXPOSITION), { version: "v1.5.0" });
        assert.deepStrictEqual(counters, {
            requests: 105,
            errors: 10,
            buckets: [
                { le: 0.1, count: 50 },
                { le: 0.5, count: 95 },
                { le: Infinity, count: 105 },
            ],
        });
        assert.throws(() => extractCounters(parsePrometheusText(EXPOSITION), { version: "v1.5.0", requestsMetric: "requests_total" }), {
            message: "the metrics endpoint has no `requests_total` series; set the metric names to what the service exports",
        });
        assert.deepStrictEqual(extractCounters(parsePrometheusText(EXPOSITION), { version: "v9.9.9" }), {
            requests: 0,
            errors: 0,
            buckets: [],
        });
    });

    it("computes p95 like histogram_quantile and differences between scrapes, surviving a counter reset", () => {
        const buckets = [
            { le: 0.1, count: 50 },
            { le: 0.5, count: 100 },
            { le: Infinity, count: 100 },
        ];
        assert.ok(Math.abs(histogramQuantile(0.95, buckets) - 0.46) < 1e-12);
        assert.strictEqual(
            histogramQuantile(0.95, [
                { le: 0.1, count: 10 },
                { le: Infinity, count: 100 },
            ]),
            0.1,
        );
        assert.strictEqual(histogramQuantile(0.95, []), 0);
        const before = {
            requests: 100,
            errors: 1,
            buckets: [
                { le: 0.1, count: 100 },
                { le: Infinity, count: 100 },
            ],
        };
        const after = {
            requests: 300,
            errors: 51,
            buckets: [
                { le: 0.1, count: 100 },
                { le: Infinity, count: 300 },
            ],
        };
        assert.deepStrictEqual(diffCounters(before, after), { requests: 200, errorRate: 0.25, p95LatencyMs: 100 });
        const restarted = {
            requests: 40,
            errors: 4,
            buckets: [
                { le: 0.1, count: 40 },
                { le: Infinity, count: 40 },
            ],
        };
        assert.deepStrictEqual(diffCounters(after, restarted), { requests: 40, errorRate: 0.1, p95LatencyMs: 95 });
    });

    it("samples a live endpoint: the first call starts the window, later ones see the canary's traffic only", async () => {
        const server = await startMetricsServer({ version: "v1.5.0", previous: "v1.4.2", requestsPerSecond: 2000 });
        try {
            const source = new PrometheusSource({ url: server.url, version: "v1.5.0" });
            const before = performance.now();
            assert.deepStrictEqual(await source.sample(), { requests: 0, errorRate: 0, p95LatencyMs: 0 });
            await new Promise((r) => setTimeout(r, 100));
            const healthy = await source.sample();
            // 2000 requests a second between two scrapes at least 100 ms apart.
            const ceiling = (performance.now() - before) * 2 + 1;
            assert.ok(healthy.requests >= 199 && healthy.requests <= ceiling, `requests ${healthy.requests}, at most ${ceiling}`);
            // Every healthy request lands in the 50 ms bucket: p95 interpolates to 95% of it.
            assert.deepStrictEqual([healthy.errorRate, Math.abs(healthy.p95LatencyMs - 47.5) < 1e-9], [0, true]);
            server.turnBad();
            await new Promise((r) => setTimeout(r, 100));
            const bad = await source.sample();
            // Half the canary's requests fail once bad (the previous version's 100% errors must not count);
            // the few healthy ones between the last scrape and turning bad lower it a little.
            assert.ok(bad.errorRate >= 0.35 && bad.errorRate <= 0.5, `error rate ${bad.errorRate}`);
            assert.ok(bad.p95LatencyMs > 1000 && bad.p95LatencyMs <= 2500, `p95 ${bad.p95LatencyMs}`);
            server.breakEndpoint();
            await assert.rejects(source.sample(), { message: "the metrics endpoint answered HTTP 503" });
        } finally {
            await server.close();
        }
        const gone = new PrometheusSource({ url: `http://127.0.0.1:${await freePort()}/metrics` });
        await assert.rejects(gone.sample(), { message: "the metrics endpoint cannot be reached: ECONNREFUSED" });
        assert.strictEqual(
            new PrometheusSource({ url: "http://user:pw@127.0.0.1:9/metrics" }).description,
            "Prometheus metrics at http://127.0.0.1:9/metrics",
        );
    });
});

describe("nginx access-log metric source", () => {
    it("parses JSON log lines and skips anything else", () => {
        assert.deepStrictEqual(parseAccessLogLine('{"version":"v1.5.0","status":"502","request_time":"0.250"}'), {
            version: "v1.5.0",
            status: 502,
            requestTimeSeconds: 0.25,
        });
        assert.deepStrictEqual(parseAccessLogLine('{"version":"v1.5.0","status":200,"request_time":0.01}'), {
            version: "v1.5.0",
            status: 200,
            requestTimeSeconds: 0.01,
        });
        for (const line of [
            "",
            '127.0.0.1 - - [22/Nov/2026] "GET /" 200',
            '{"version":"v1.5.0","status":"-","request_time":"0.1"}',
            '{"version":"v1.5.0","status":200,"request_time":""}',
            "null",
        ]) {
            assert.strictEqual(parseAccessLogLine(line), undefined, line);
        }
        const entries = [200, 200, 500, 200].map((status, i) => ({ version: "v1.5.0", status, requestTimeSeconds: (i + 1) / 10 }));
        assert.deepStrictEqual(summarizeEntries([...entries, { version: "v1.4.2", status: 500, requestTimeSeconds: 9 }], "v1.5.0"), {
            requests: 4,
            errorRate: 0.25,
            p95LatencyMs: 400,
        });
    });

    it("reads only lines appended since the previous call, completes partial lines and follows rotation", async () => {
        const dir = await tempDir("access-log-");
        const file = path.join(dir, "access.json");
        const line = (version: string, status: number, seconds: number) =>
            `${JSON.stringify({ version, status: String(status), request_time: seconds.toFixed(3) })}\n`;
        try {
            fs.writeFileSync(file, line("v1.5.0", 500, 9));
            const source = new NginxAccessLogSource(file, "v1.5.0");
            assert.deepStrictEqual(await source.sample(), { requests: 0, errorRate: 0, p95LatencyMs: 0 });
            const half = line("v1.5.0", 503, 0.3);
            fs.appendFileSync(file, line("v1.5.0", 200, 0.1) + line("v1.4.2", 500, 5) + half.slice(0, 10));
            assert.deepStrictEqual(await source.sample(), { requests: 1, errorRate: 0, p95LatencyMs: 100 });
            fs.appendFileSync(file, half.slice(10));
            assert.deepStrictEqual(await source.sample(), { requests: 1, errorRate: 1, p95LatencyMs: 300 });
            fs.writeFileSync(file, line("v1.5.0", 200, 0.02));
            assert.deepStrictEqual(await source.sample(), { requests: 1, errorRate: 0, p95LatencyMs: 20 });
            fs.rmSync(file);
            await assert.rejects(source.sample(), /ENOENT/);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
