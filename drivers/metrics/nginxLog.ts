import * as fs from "fs";
import { percentile } from "../analysis";
import { MetricSample, MetricSource } from "../types";

/** One request of the router's JSON access log (`log_format … escape=json`). */
export interface AccessLogEntry {
    readonly version: string;
    readonly status: number;
    /** nginx `$request_time`: seconds with millisecond resolution. */
    readonly requestTimeSeconds: number;
}

/** A line of the JSON access log, or undefined for anything else (blank, truncated, another format). */
export function parseAccessLogLine(line: string): AccessLogEntry | undefined {
    let record: unknown;
    try {
        record = JSON.parse(line);
    } catch {
        return undefined;
    }
    if (typeof record !== "object" || record === null) return undefined;
    const { version, status, request_time: requestTime } = record as Record<string, unknown>;
    const statusNumber = Number(status);
    const seconds = Number(requestTime);
    if (typeof version !== "string" || !Number.isInteger(statusNumber) || requestTime === "" || !Number.isFinite(seconds)) return undefined;
    return { version, status: statusNumber, requestTimeSeconds: seconds };
}

/** The figures of the given version's requests among `entries`. */
export function summarizeEntries(entries: readonly AccessLogEntry[], version: string): MetricSample {
    const mine = entries.filter((e) => e.version === version);
    const errors = mine.filter((e) => e.status >= 500).length;
    return {
        requests: mine.length,
        errorRate: mine.length > 0 ? errors / mine.length : 0,
        p95LatencyMs: percentile(
            mine.map((e) => e.requestTimeSeconds * 1000),
            0.95,
        ),
    };
}

/** Reads the lines appended to the access log since the previous call. */
export class NginxAccessLogSource implements MetricSource {
    readonly description: string;
    private offset?: number;
    /** A line nginx is still writing; completed by the next read. */
    private partial = "";

    constructor(
        private readonly path: string,
        private readonly version: string,
    ) {
        this.description = `nginx access log ${path} for version ${version}`;
    }

    /** The traffic since the previous call; the first call only starts the window and reports none. */
    async sample(): Promise<MetricSample> {
        const size = (await fs.promises.stat(this.path)).size;
        if (this.offset === undefined || size < this.offset) {
            // First call: start at the end. A smaller file was rotated: what is in it now is all new.
            const first = this.offset === undefined;
            this.offset = first ? size : 0;
            this.partial = "";
            if (first) return { requests: 0, errorRate: 0, p95LatencyMs: 0 };
        }
        const length = size - this.offset;
        const buffer = Buffer.alloc(length);
        if (length > 0) {
            const handle = await fs.promises.open(this.path, "r");
            try {
                await handle.read(buffer, 0, length, this.offset);
            } finally {
                await handle.close();
            }
        }
        this.offset = size;
        const lines = (this.partial + buffer.toString("utf8")).split("\n");
        this.partial = lines.pop() ?? "";
        const entries = lines.map(parseAccessLogLine).filter((e): e is AccessLogEntry => e !== undefined);
        return summarizeEntries(entries, this.version);
    }
}
