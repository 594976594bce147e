/** Parsers for the drivers' stack config and arguments; each throws an `Error` naming the key or flag. */
import { isReleaseTag } from "./releaseTags";
import { isPlainObject } from "./values";
import { fromJsonConfig } from "./smokeConfig";

export interface AnalysisConfig {
    /** Seconds between metric samples during a bake. */
    readonly intervalSeconds: number;
    /** A sample breaches above this fraction of 5xx answers, 0–1. */
    readonly maxErrorRate: number;
    readonly maxP95LatencyMs: number;
    /** A sample with fewer requests is too thin to judge: inconclusive, neither a pass nor a breach. @default 1 */
    readonly minRequests: number;
    /**
     * What the promote driver does when a bake ends with no window judged: keep the
     * weight and stop (`hold`), or set the weight back to 0 (`revert`). It never
     * counts as a pass: a canary no one used has shown nothing. @default "hold"
     */
    readonly onInconclusive: InconclusivePolicy;
}

export const INCONCLUSIVE_POLICIES = ["hold", "revert"] as const;
export type InconclusivePolicy = (typeof INCONCLUSIVE_POLICIES)[number];

export interface NotifyConfig {
    readonly webhookUrl: string;
}

function rejectUnknown(key: string, raw: Record<string, unknown>, fields: string[]): void {
    for (const field of Object.keys(raw)) {
        if (!fields.includes(field))
            throw new Error(`\`${key}.${field}\` is not a field of \`${key}\`; valid fields: ${fields.join(", ")}`);
    }
}

function got(value: unknown): string {
    return value === undefined ? "nothing" : JSON.stringify(value);
}

export function parseAnalysisConfig(raw: unknown, key = "release:analysis"): AnalysisConfig {
    const value = fromJsonConfig(key, raw);
    if (!isPlainObject(value)) {
        throw new Error(
            `\`${key}\` must be an object such as {"intervalSeconds":30,"maxErrorRate":0.01,"maxP95LatencyMs":800}; got ${got(value)}`,
        );
    }
    rejectUnknown(key, value, ["intervalSeconds", "maxErrorRate", "maxP95LatencyMs", "minRequests", "onInconclusive"]);
    const { intervalSeconds, maxErrorRate, maxP95LatencyMs } = value;
    const minRequests = value.minRequests ?? 1;
    if (typeof intervalSeconds !== "number" || !Number.isFinite(intervalSeconds) || intervalSeconds < 0.05 || intervalSeconds > 3600) {
        throw new Error(`\`${key}.intervalSeconds\` must be a number of seconds from 0.05 to 3600; got ${got(intervalSeconds)}`);
    }
    if (typeof maxErrorRate !== "number" || !(maxErrorRate >= 0 && maxErrorRate <= 1)) {
        throw new Error(`\`${key}.maxErrorRate\` must be a fraction from 0 to 1, such as 0.01 for 1%; got ${got(maxErrorRate)}`);
    }
    if (typeof maxP95LatencyMs !== "number" || !Number.isFinite(maxP95LatencyMs) || maxP95LatencyMs <= 0) {
        throw new Error(`\`${key}.maxP95LatencyMs\` must be a positive number of milliseconds; got ${got(maxP95LatencyMs)}`);
    }
    if (!Number.isInteger(minRequests) || (minRequests as number) < 1) {
        throw new Error(`\`${key}.minRequests\` must be an integer of at least 1; got ${got(value.minRequests)}`);
    }
    const onInconclusive = value.onInconclusive ?? "hold";
    if (!INCONCLUSIVE_POLICIES.includes(onInconclusive as InconclusivePolicy)) {
        throw new Error(
            `\`${key}.onInconclusive\` must be ${INCONCLUSIVE_POLICIES.map((p) => JSON.stringify(p)).join(" or ")}: ` +
                `what promote does when a bake had too few requests to judge; got ${got(value.onInconclusive)}`,
        );
    }
    return {
        intervalSeconds,
        maxErrorRate,
        maxP95LatencyMs,
        minRequests: minRequests as number,
        onInconclusive: onInconclusive as InconclusivePolicy,
    };
}

export function parseNotifyConfig(raw: unknown, key = "release:notify"): NotifyConfig {
    const value = fromJsonConfig(key, raw);
    if (!isPlainObject(value))
        throw new Error(`\`${key}\` must be an object such as {"webhookUrl":"https://hooks.example.com/…"}; got ${typeof value}`);
    rejectUnknown(key, value, ["webhookUrl"]);
    // The URL is the credential (chat webhooks carry their token in the path), so no message ever quotes it.
    if (typeof value.webhookUrl !== "string" || !/^https?:\/\/[^/\s]+/.test(value.webhookUrl) || !URL.canParse(value.webhookUrl)) {
        throw new Error(`\`${key}.webhookUrl\` must be an http:// or https:// URL (value not shown: it is a secret)`);
    }
    return { webhookUrl: value.webhookUrl };
}

export function parseSteps(raw: string, flag = "--steps"): number[] {
    const fail = () =>
        new Error(
            `\`${flag}\` must be a comma-separated list of increasing integers from 1 to 100, such as 10,50,100; got ${JSON.stringify(raw)}`,
        );
    const parts = raw.split(",").map((p) => p.trim());
    if (parts.some((p) => !/^\d+$/.test(p))) throw fail();
    const steps = parts.map(Number);
    if (steps.some((s, i) => s < 1 || s > 100 || (i > 0 && s <= steps[i - 1]))) throw fail();
    return steps;
}

/** The same tags as `release:version`: `vMAJOR.MINOR.PATCH`, optionally with a pre-release suffix. */
export function parseSemVerTag(raw: string, what = "--to"): string {
    if (!isReleaseTag(raw))
        throw new Error(`\`${what}\` must be a SemVer tag vMAJOR.MINOR.PATCH, such as v1.4.2; got ${JSON.stringify(raw)}`);
    return raw;
}
