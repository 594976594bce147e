import { AnalysisConfig, parseAnalysisConfig, parseNotifyConfig } from "../core/gateConfig";
import { SmokeItem, parseSmokeConfig } from "../core/smokeConfig";

/** What gates traffic: smoke tests inside an update, and the analysis the promote driver bakes against. */
export interface GateSettings {
    /** Checks and flows run against a new version before it may take traffic. */
    readonly smoke: SmokeItem[];
    /** The raw `release:smoke` list, handed to `safe-release-ops smoke` as it is. */
    readonly smokeSource: unknown;
    /** Error-rate and latency thresholds: the driver's bake analysis and the CloudWatch alarms. */
    readonly analysis?: AnalysisConfig;
    /** `release:notify` is set (its webhook URL is a secret the drivers read). */
    readonly notify: boolean;
}

export const GATE_KEYS = ["smoke", "smokeOperatorToken", "analysis", "notify"] as const;

export function parseGateSettings(raw: Record<string, unknown>): GateSettings {
    const smoke = raw.smoke === undefined ? [] : parseSmokeConfig(raw.smoke);
    const analysis = raw.analysis === undefined ? undefined : parseAnalysisConfig(raw.analysis);
    if (raw.notify !== undefined) parseNotifyConfig(raw.notify);
    return {
        smoke,
        smokeSource: raw.smoke ?? [],
        ...(analysis !== undefined ? { analysis } : {}),
        notify: raw.notify !== undefined,
    };
}
