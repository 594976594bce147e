import { MetricSample, MetricSource } from "../types";

export interface PrometheusOptions {
    /** The text exposition endpoint, e.g. `http://10.0.0.5:9090/metrics`. */
    readonly url: string;
    /** Only series whose `versionLabel` equals this count: the canary's traffic. Unset counts every series. */
    readonly version?: string;
    /** @default "version" */
    readonly versionLabel?: string;
    /** Counter of answered requests. @default "http_requests_total" */
    readonly requestsMetric?: string;
    /** Label on the counter holding the HTTP status; `5xx` values count as errors. @default "status" */
    readonly statusLabel?: string;
    /** Histogram of latencies in seconds (`_bucket` series with `le`). @default "http_request_duration_seconds" */
    readonly durationMetric?: string;
    /** @default 5000 */
    readonly timeoutMs?: number;
}

export interface PromSample {
    readonly name: string;
    readonly labels: Readonly<Record<string, string>>;
    readonly value: number;
}

export interface Counters {
    readonly requests: number;
    readonly errors: number;
    /** Cumulative counts by upper bound, ascending, `Infinity` last. */
    readonly buckets: ReadonlyArray<{ readonly le: number; readonly count: number }>;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/gy;

function parseValue(text: string): number {
    if (text === "+Inf" || text === "Inf") return Infinity;
    if (text === "-Inf") return -Infinity;
    return Number(text);
}

/** Samples of the Prometheus text format (version 0.0.4); comments and malformed lines are skipped. */
export function parsePrometheusText(text: string): PromSample[] {
    const samples: PromSample[] = [];
    for (const raw of text.split("\n")) {
        const line = raw.trim();
        if (line === "" || line.startsWith("#")) continue;
        const match = LINE.exec(line);
        if (!match) continue;
        const labels: Record<string, string> = {};
        if (match[2]) {
            LABEL.lastIndex = 0;
            let label: RegExpExecArray | null;
            while (LABEL.lastIndex < match[2].length && (label = LABEL.exec(match[2])) !== null) {
                labels[label[1]] = label[2].replace(/\\(["\\n])/g, (_, c: string) => (c === "n" ? "\n" : c));
            }
        }
        const value = parseValue(match[3]);
        if (!Number.isNaN(value)) samples.push({ name: match[1], labels, value });
    }
    return samples;
}

function required<T>(value: T | undefined, fallback: T): T {
    return value ?? fallback;
}

/** The canary's cumulative counters in one scrape; throws when a configured metric is absent altogether. */
export function extractCounters(samples: readonly PromSample[], options: Omit<PrometheusOptions, "url">): Counters {
    const requestsMetric = required(options.requestsMetric, "http_requests_total");
    const statusLabel = required(options.statusLabel, "status");
    const bucketMetric = `${required(options.durationMetric, "http_request_duration_seconds")}_bucket`;
    const versionLabel = required(options.versionLabel, "version");
    const mine = (s: PromSample) => options.version === undefined || s.labels[versionLabel] === options.version;
    for (const name of [requestsMetric, bucketMetric]) {
        // A canary without traffic has no series yet, which is fine; a metric missing for every version is a misconfiguration.
        if (!samples.some((s) => s.name === name))
            throw new Error(`the metrics endpoint has no \`${name}\` series; set the metric names to what the service exports`);
    }
    let requests = 0;
    let errors = 0;
    const byBound = new Map<number, number>();
    for (const sample of samples.filter(mine)) {
        if (sample.name === requestsMetric) {
            requests += sample.value;
            if ((sample.labels[statusLabel] ?? "").startsWith("5")) errors += sample.value;
        } else if (sample.name === bucketMetric && sample.labels.le !== undefined) {
            const le = parseValue(sample.labels.le);
            byBound.set(le, (byBound.get(le) ?? 0) + sample.value);
        }
    }
    const buckets = [...byBound].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
    return { requests, errors, buckets };
}

/** Like PromQL's `histogram_quantile`: linear within the bucket holding the rank; the top finite bound for `+Inf`. */
export function histogramQuantile(q: number, buckets: Counters["buckets"]): number {
    const total = buckets.length > 0 ? buckets[buckets.length - 1].count : 0;
    if (total <= 0) return 0;
    const rank = q * total;
    let lowerBound = 0;
    let lowerCount = 0;
    for (const { le, count } of buckets) {
        if (count >= rank) {
            if (le === Infinity) return lowerBound;
            if (count === lowerCount) return le;
            return lowerBound + ((le - lowerBound) * (rank - lowerCount)) / (count - lowerCount);
        }
        lowerBound = le;
        lowerCount = count;
    }
    return lowerBound;
}

/** The traffic between two scrapes. A counter that went down was reset (a restart): its new value is the traffic since. */
export function diffCounters(before: Counters, after: Counters): MetricSample {
    const reset = after.requests < before.requests;
    const base: Counters = reset ? { requests: 0, errors: 0, buckets: [] } : before;
    const requests = after.requests - base.requests;
    const errors = after.errors - base.errors;
    const earlier = new Map(base.buckets.map((b) => [b.le, b.count]));
    const buckets = after.buckets.map((b) => ({ le: b.le, count: Math.max(0, b.count - (earlier.get(b.le) ?? 0)) }));
    return {
        requests,
        errorRate: requests > 0 ? errors / requests : 0,
        p95LatencyMs: histogramQuantile(0.95, buckets) * 1000,
    };
}

export class PrometheusSource implements MetricSource {
    readonly description: string;
    private previous?: Counters;

    constructor(private readonly options: PrometheusOptions) {
        // The URL may carry credentials (`user:pass@`), so only its origin and path are shown.
        const shown = new URL(options.url);
        this.description = `Prometheus metrics at ${shown.origin}${shown.pathname}${options.version ? ` for ${required(options.versionLabel, "version")}="${options.version}"` : ""}`;
    }

    async scrape(): Promise<Counters> {
        const controller = new AbortController();
        const timer = setTimeout(() => controller.abort(), this.options.timeoutMs ?? 5000);
        try {
            const response = await fetch(this.options.url, { signal: controller.signal, headers: { Accept: "text/plain" } });
            const text = await response.text();
            if (!response.ok) throw new Error(`the metrics endpoint answered HTTP ${response.status}`);
            return extractCounters(parsePrometheusText(text), this.options);
        } catch (err) {
            if (controller.signal.aborted)
                throw new Error(`the metrics endpoint did not answer within ${this.options.timeoutMs ?? 5000} ms`);
            const code = (err as { cause?: { code?: string } }).cause?.code;
            throw code ? new Error(`the metrics endpoint cannot be reached: ${code}`) : err;
        } finally {
            clearTimeout(timer);
        }
    }

    /** The traffic since the previous call; the first call only starts the window and reports none. */
    async sample(): Promise<MetricSample> {
        const current = await this.scrape();
        const before = this.previous;
        this.previous = current;
        return before ? diffCounters(before, current) : { requests: 0, errorRate: 0, p95LatencyMs: 0 };
    }
}
