import { describeSample, describeVerdict, judgeSample } from "./analysis";
import { formatDuration } from "../core/duration";
import type { PromoteContext } from "./promote";
import { MetricSample, MetricSource } from "./types";

export type BakeOutcome = {
    readonly breach?: { readonly reasons: readonly string[]; readonly sample?: MetricSample };
    /** No window of the bake had `minRequests`: the canary was not observed, so the weight has not been earned. */
    readonly inconclusive?: { readonly reason: string };
};

/**
 * Holds one weight for `bakeMs`, judging a window of canary traffic every
 * `release:analysis.intervalSeconds`. Ends at the first breach, after two lost
 * scrapes in a row, or at the end: inconclusive when no window had enough requests.
 */
export async function bake(
    context: PromoteContext,
    metrics: MetricSource,
    label: string,
    bakeMs: number,
    weight: number,
): Promise<BakeOutcome> {
    const now = context.io.now ?? Date.now;
    const sleep = context.io.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    const { analysis, log } = context;
    const intervalMs = analysis.intervalSeconds * 1000;
    const window = { seconds: analysis.intervalSeconds };
    // Traffic from before the weight change says nothing about this weight, so the first window starts here.
    await metrics.sample(window).catch(() => undefined);
    const end = now() + bakeMs;
    let failedScrapes = 0;
    let windows = 0;
    let judged = 0;
    for (let left = end - now(); left > 0; left = end - now()) {
        await sleep(Math.min(intervalMs, left));
        const prefix = `${label} weight ${weight}%: ${formatDuration(Math.max(0, end - now()))} left`;
        let sample: MetricSample;
        try {
            sample = await metrics.sample(window);
            failedScrapes = 0;
        } catch (err) {
            failedScrapes++;
            const why = log.mask((err as Error).message);
            log.progress(`${prefix}; metrics unavailable (${failedScrapes} in a row): ${why}`);
            // One lost scrape is noise; two in a row means the canary is unobserved, which is not safe to keep shifting.
            if (failedScrapes >= 2) return { breach: { reasons: [`metrics unavailable twice in a row: ${why}`] } };
            continue;
        }
        const verdict = judgeSample(sample, analysis);
        windows++;
        if (verdict.kind !== "thin") judged++;
        log.progress(`${prefix}; ${describeSample(sample)}: ${describeVerdict(verdict, analysis)}`);
        if (verdict.kind === "breach") return { breach: { reasons: verdict.reasons, sample } };
    }
    if (judged === 0) {
        const sampled = windows === 1 ? "1 window sampled" : `${windows} windows sampled`;
        return {
            inconclusive: {
                reason: `inconclusive: no window of the ${formatDuration(bakeMs)} bake at ${weight}% had at least ${analysis.minRequests} requests (${sampled})`,
            },
        };
    }
    return {};
}
