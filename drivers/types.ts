import type { UpdateSummary } from "@pulumi/pulumi/automation";

/** The parts of a stack update the drivers read from `pulumi stack history`. */
export type ReleaseUpdate = Pick<UpdateSummary, "kind" | "result" | "version" | "startTime" | "config">;

/** Resource operation counts of a preview, e.g. `{ same: 12, update: 1 }`. */
export type ChangeSummary = Readonly<Record<string, number>>;

/**
 * The stack as the drivers see it. `drivers/automationStack.ts` backs it with the
 * Automation API; tests back it with an in-memory fake that records every call.
 */
export interface ReleaseStack {
    readonly name: string;
    /** The value of a full key such as `release:version`, or undefined when unset. */
    getConfig(key: string): Promise<string | undefined>;
    setConfig(key: string, value: string, secret?: boolean): Promise<void>;
    removeConfig(key: string): Promise<void>;
    /** Runs `pulumi up`; output lines go to `onOutput` as they arrive. Rejects when the update fails. */
    up(onOutput: (line: string) => void): Promise<void>;
    preview(): Promise<ChangeSummary>;
    /** Newest first, as `pulumi stack history` lists them. */
    history(): Promise<ReleaseUpdate[]>;
    /** The stack outputs of the last update, secrets included as plain values. */
    outputs(): Promise<Record<string, unknown>>;
}

/** The canary's traffic over one analysis window. */
export interface MetricSample {
    readonly requests: number;
    /** Fraction of requests answered 5xx, 0–1; 0 when there were no requests. */
    readonly errorRate: number;
    /** 95th percentile latency in milliseconds; 0 when there were no requests. */
    readonly p95LatencyMs: number;
}

/**
 * Where the canary's figures come from. Sources that read cumulative counters
 * (Prometheus, an access log) return the traffic since their previous call, so the
 * driver calls once to start a window and then once per interval; sources that query
 * a time range (a CloudWatch `GetMetricData` over the canary target group's
 * `HTTPCode_Target_5XX_Count`, `RequestCount` and `TargetResponseTime` p95) use
 * `window.seconds` as the range ending now.
 */
export interface MetricSource {
    readonly description: string;
    sample(window: { readonly seconds: number }): Promise<MetricSample>;
}

/** Where the drivers write: progress for people, one JSON event line per milestone for machines. */
export interface DriverIO {
    /** Human-readable progress (stderr). */
    readonly progress: (line: string) => void;
    /** Structured event lines (stdout). */
    readonly events: (line: string) => void;
    /** Injected so tests control time; defaults to the real clock. */
    readonly now?: () => number;
    readonly sleep?: (ms: number) => Promise<void>;
}

export const CONFIG_KEYS = {
    version: "release:version",
    previous: "release:previous",
    canaryWeight: "release:canaryWeight",
    restoreFrom: "release:restoreFrom",
    analysis: "release:analysis",
    notify: "release:notify",
} as const;
