import { AnalysisConfig } from "../core/gateConfig";
import { MetricSample } from "./types";

export type Verdict =
    | { readonly kind: "healthy" }
    /** Too few requests to judge: neither a pass nor a breach. */
    | { readonly kind: "thin" }
    | { readonly kind: "breach"; readonly reasons: readonly string[] };

function percent(fraction: number): string {
    return `${(fraction * 100).toFixed(2)}%`;
}

/** Whether one window of canary traffic breaches the thresholds of `release:analysis`. */
export function judgeSample(sample: MetricSample, analysis: AnalysisConfig): Verdict {
    if (sample.requests < analysis.minRequests) return { kind: "thin" };
    const reasons: string[] = [];
    if (sample.errorRate > analysis.maxErrorRate) {
        reasons.push(`error rate ${percent(sample.errorRate)} above ${percent(analysis.maxErrorRate)}`);
    }
    if (sample.p95LatencyMs > analysis.maxP95LatencyMs) {
        reasons.push(`p95 ${Math.round(sample.p95LatencyMs)} ms above ${analysis.maxP95LatencyMs} ms`);
    }
    return reasons.length > 0 ? { kind: "breach", reasons } : { kind: "healthy" };
}

export function describeSample(sample: MetricSample): string {
    return `requests ${sample.requests}, error rate ${percent(sample.errorRate)}, p95 ${Math.round(sample.p95LatencyMs)} ms`;
}

export function describeVerdict(verdict: Verdict, analysis: AnalysisConfig): string {
    if (verdict.kind === "healthy") return "healthy";
    if (verdict.kind === "thin") return `too few requests to judge (need ${analysis.minRequests})`;
    return `BREACH: ${verdict.reasons.join("; ")}`;
}

/** Nearest-rank percentile of raw values; 0 for none. */
export function percentile(values: readonly number[], fraction: number): number {
    if (values.length === 0) return 0;
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.max(0, Math.ceil(fraction * sorted.length) - 1)];
}
