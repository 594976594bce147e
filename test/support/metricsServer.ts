import * as http from "http";
import { performance } from "perf_hooks";

/** Latency bucket bounds in seconds, as a Prometheus client exports them. */
const BOUNDS = [0.05, 0.1, 0.25, 0.5, 1, 2.5];

interface Traffic {
    ok: number;
    errors: number;
    /** Non-cumulative counts per bound index; the last slot is +Inf. */
    buckets: number[];
}

export interface MetricsServer {
    readonly url: string;
    /** `performance.now()` when the canary turned bad; undefined while healthy. */
    readonly turnedBadAt: number | undefined;
    readonly scrapes: number;
    /** From now on the canary answers half its requests with 500 after 1.2 s. */
    turnBad(): void;
    /** The endpoint answers 503 from now on, as a dead exporter would. */
    breakEndpoint(): void;
    close(): Promise<void>;
}

export interface MetricsServerOptions {
    /** The canary's version label. */
    readonly version: string;
    /** The previous version: always serving errors, so a source that ignores the version label would breach. */
    readonly previous: string;
    /** Simulated canary requests per second. @default 1000 */
    readonly requestsPerSecond?: number;
    /** Turn bad on its own this long after starting. */
    readonly badAfterMs?: number;
}

function emptyTraffic(): Traffic {
    return { ok: 0, errors: 0, buckets: BOUNDS.map(() => 0).concat(0) };
}

function series(lines: string[], version: string, traffic: Traffic): void {
    lines.push(`http_requests_total{version="${version}",status="200"} ${traffic.ok}`);
    lines.push(`http_requests_total{version="${version}",status="500"} ${traffic.errors}`);
    let cumulative = 0;
    traffic.buckets.forEach((count, i) => {
        cumulative += count;
        const le = i < BOUNDS.length ? String(BOUNDS[i]) : "+Inf";
        lines.push(`http_request_duration_seconds_bucket{version="${version}",le="${le}"} ${cumulative}`);
    });
    lines.push(`http_request_duration_seconds_count{version="${version}"} ${cumulative}`);
}

/**
 * A real Prometheus text endpoint on 127.0.0.1 whose counters grow with wall time at a
 * fixed rate: healthy (all 200 in under 50 ms) until it turns bad.
 */
export function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
    const rate = (options.requestsPerSecond ?? 1000) / 1000;
    const canary = emptyTraffic();
    const previous = emptyTraffic();
    let last = performance.now();
    let carry = 0;
    let turnedBadAt: number | undefined;
    let broken = false;
    let scrapes = 0;
    const started = performance.now();

    function advance(): void {
        const now = performance.now();
        if (turnedBadAt === undefined && options.badAfterMs !== undefined && now - started >= options.badAfterMs) {
            // Traffic up to the moment it turned bad was healthy.
            advanceTo(started + options.badAfterMs);
            turnedBadAt = started + options.badAfterMs;
        }
        advanceTo(now);
    }

    function advanceTo(now: number): void {
        const exact = (now - last) * rate + carry;
        const count = Math.floor(exact);
        carry = exact - count;
        last = now;
        if (turnedBadAt === undefined) {
            canary.ok += count;
            canary.buckets[0] += count;
        } else {
            const errors = Math.ceil(count / 2);
            canary.errors += errors;
            canary.ok += count - errors;
            canary.buckets[BOUNDS.indexOf(2.5)] += count;
        }
        previous.errors += count;
        previous.buckets[BOUNDS.length] += count;
    }

    const server = http.createServer((req, res) => {
        if (req.url !== "/metrics") return void res.writeHead(404).end();
        scrapes++;
        if (broken) return void res.writeHead(503).end("exporter down");
        advance();
        const lines = ["# HELP http_requests_total Requests answered.", "# TYPE http_requests_total counter"];
        series(lines, options.version, canary);
        series(lines, options.previous, previous);
        res.writeHead(200, { "Content-Type": "text/plain; version=0.0.4" }).end(`${lines.join("\n")}\n`);
    });
    return new Promise((resolve) =>
        server.listen(0, "127.0.0.1", () => {
            const { port } = server.address() as { port: number };
            resolve({
                url: `http://127.0.0.1:${port}/metrics`,
                get turnedBadAt() {
                    return turnedBadAt;
                },
                get scrapes() {
                    return scrapes;
                },
                turnBad() {
                    advance();
                    turnedBadAt = performance.now();
                },
                breakEndpoint() {
                    broken = true;
                },
                close: () =>
                    new Promise<void>((done) => {
                        server.closeAllConnections();
                        server.close(() => done());
                    }),
            });
        }),
    );
}

/** A webhook receiver on 127.0.0.1 that keeps every JSON body it is sent. */
export function startWebhookReceiver(
    secretPath: string,
): Promise<{ url: string; received: Array<Record<string, unknown>>; close(): Promise<void> }> {
    const received: Array<Record<string, unknown>> = [];
    const server = http.createServer((req, res) => {
        let body = "";
        req.on("data", (chunk) => (body += chunk));
        req.on("end", () => {
            if (req.method !== "POST" || req.url !== secretPath) return void res.writeHead(404).end();
            received.push(JSON.parse(body));
            res.writeHead(204).end();
        });
    });
    return new Promise((resolve) =>
        server.listen(0, "127.0.0.1", () => {
            const { port } = server.address() as { port: number };
            resolve({
                url: `http://127.0.0.1:${port}${secretPath}`,
                received,
                close: () =>
                    new Promise<void>((done) => {
                        server.closeAllConnections();
                        server.close(() => done());
                    }),
            });
        }),
    );
}
