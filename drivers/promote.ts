import { BakeOutcome, bake } from "./bake";
import { formatDuration } from "../core/duration";
import { AnalysisConfig } from "../core/gateConfig";
import { EventLog } from "./events";
import { NO_RECORDING, StackFileRecorder, transitionSubject } from "./stackFile";
import { CONFIG_KEYS, DriverIO, MetricSource, ReleaseStack } from "./types";

export interface PromoteOptions {
    /** Canary weights in order, e.g. [10, 50, 100]. */
    readonly steps: readonly number[];
    /** How long each weight must stay healthy before the next. */
    readonly bakeMs: number;
    /** After the bake at 100, remove `release:previous` so its service is deleted. */
    readonly retire: boolean;
    readonly dryRun: boolean;
}

/** The canary keys of the stack's config, as the driver reads them (strings, unparsed). */
export interface CanaryConfig {
    readonly version?: string;
    readonly previous?: string;
    readonly canaryWeight?: string;
}

export type PlannedStep = { readonly kind: "weight"; readonly weight: number } | { readonly kind: "retire" };

/** The ordered changes a promotion makes; throws when the stack is not in a canary. */
export function planPromotion(stack: string, state: CanaryConfig, options: Pick<PromoteOptions, "steps" | "retire">): PlannedStep[] {
    if (!state.version)
        throw new Error(`\`${CONFIG_KEYS.version}\` is not set on stack \`${stack}\`; deploy a version before promoting it`);
    if (!state.previous) {
        throw new Error(
            `\`${CONFIG_KEYS.previous}\` is not set on stack \`${stack}\`, so there is no canary to promote; ` +
                `start a release first: \`${CONFIG_KEYS.version}\` = the new tag, \`${CONFIG_KEYS.previous}\` = the running tag, \`${CONFIG_KEYS.canaryWeight}\` = 0`,
        );
    }
    const last = options.steps[options.steps.length - 1];
    if (options.retire && last !== 100) throw new Error(`\`--retire\` needs the last of \`--steps\` to be 100; got ${last}`);
    // Re-running after an interruption resumes: weights below the current one were already baked.
    const current = Number(state.canaryWeight ?? 0);
    const steps: PlannedStep[] = options.steps.filter((weight) => weight >= current).map((weight) => ({ kind: "weight", weight }));
    if (steps.length === 0)
        throw new Error(
            `\`${CONFIG_KEYS.canaryWeight}\` is already ${current} on stack \`${stack}\`, above every step of \`--steps\` (${options.steps.join(",")})`,
        );
    return options.retire ? [...steps, { kind: "retire" }] : steps;
}

export function describePlan(plan: readonly PlannedStep[], state: CanaryConfig, bakeMs: number, analysis: AnalysisConfig): string[] {
    const gate =
        `sample every ${analysis.intervalSeconds}s; revert if error rate > ${analysis.maxErrorRate} or p95 > ${analysis.maxP95LatencyMs} ms ` +
        `with at least ${analysis.minRequests} requests; ${analysis.onInconclusive} if no window has that many`;
    return plan.map((step, i) =>
        step.kind === "weight"
            ? `${i + 1}. set ${CONFIG_KEYS.canaryWeight} = ${step.weight} (${state.version} ${step.weight}%, ${state.previous} ${100 - step.weight}%); pulumi up; bake ${formatDuration(bakeMs)} (${gate})`
            : `${i + 1}. remove ${CONFIG_KEYS.previous} (retires ${state.previous}); pulumi up`,
    );
}

export interface PromoteContext {
    readonly stack: ReleaseStack;
    readonly metrics?: MetricSource;
    readonly analysis: AnalysisConfig;
    readonly log: EventLog;
    readonly io: DriverIO;
    /** Commits each change of the stack file (or prints how), so the release workflow deploys what the driver did. */
    readonly stackFile?: StackFileRecorder;
}

/** Shifts traffic step by step, baking each weight; reverts to weight 0 on its own at a breach. Returns the exit code. */
export async function promote(context: PromoteContext, options: PromoteOptions): Promise<number> {
    const { stack, log } = context;
    const state: CanaryConfig = {
        version: await stack.getConfig(CONFIG_KEYS.version),
        previous: await stack.getConfig(CONFIG_KEYS.previous),
        canaryWeight: await stack.getConfig(CONFIG_KEYS.canaryWeight),
    };
    const plan = planPromotion(stack.name, state, options);
    if (options.dryRun) {
        log.progress(
            `dry run: promote ${state.version} on stack \`${stack.name}\` (now ${state.canaryWeight ?? "unset"}%, previous ${state.previous}); nothing will change`,
        );
        for (const line of describePlan(plan, state, options.bakeMs, context.analysis)) log.progress(line);
        const changes = await stack.preview();
        log.progress(`preview of the stack as configured now: ${formatChanges(changes)}`);
        return 0;
    }
    if (!context.metrics) throw new Error("promote needs a metric source: `--metrics-url` or `--access-log`");
    await stackFileOf(context).checkClean();
    log.progress(`metrics: ${context.metrics.description}`);
    const started = (context.io.now ?? Date.now)();
    await log.emit({
        event: "promote_start",
        version: state.version,
        previous: state.previous,
        steps: options.steps,
        bakeSeconds: options.bakeMs / 1000,
        retire: options.retire,
    });
    let weight = Number(state.canaryWeight ?? 0);
    // The weight the stack file holds at HEAD: each commit names the change from it.
    const committed = { weight };
    let retiring = false;
    const total = plan.filter((step) => step.kind === "weight").length;
    try {
        for (const [index, step] of plan.entries()) {
            if (step.kind === "retire") {
                retiring = true;
                log.progress(`retiring ${state.previous}: removing ${CONFIG_KEYS.previous}`);
                await stack.removeConfig(CONFIG_KEYS.previous);
                const retire = `retire previous ${state.previous} → none`;
                try {
                    await up(context);
                } catch (err) {
                    // The file no longer names the previous version either way; committed, the workflow's next run finishes the retirement.
                    await stackFileOf(context)
                        .record(transitionSubject(stack.name, retire), [`pulumi up failed: ${log.mask((err as Error).message)}`])
                        .catch((commitErr: Error) => log.progress(log.mask(commitErr.message)));
                    throw err;
                }
                if (!(await recorded(context, state, weight, started, transitionSubject(stack.name, retire)))) return 1;
                continue;
            }
            weight = step.weight;
            const label = `step ${index + 1}/${total}`;
            log.progress(`${label}: ${CONFIG_KEYS.canaryWeight} = ${weight}`);
            await stack.setConfig(CONFIG_KEYS.canaryWeight, String(weight));
            await up(context);
            const subject = transitionSubject(stack.name, `canary ${state.version} ${committed.weight} → ${weight}`);
            if (!(await recorded(context, state, weight, started, subject))) return 1;
            committed.weight = weight;
            const outcome = await bake(context, context.metrics, label, options.bakeMs, weight);
            if (outcome.breach) return await revert(context, state, weight, outcome.breach, started, committed.weight);
            if (outcome.inconclusive) return await inconclusive(context, state, label, weight, outcome.inconclusive.reason, started);
        }
    } catch (err) {
        const message = log.mask((err as Error).message);
        log.progress(`promotion failed at weight ${weight}: ${message}`);
        if (retiring) {
            // The new version already baked healthy at 100%; a failed retirement is no reason to take its traffic away.
            await log.emit({
                event: "promote_complete",
                success: false,
                version: state.version,
                weight,
                reverted: false,
                error: `retiring ${state.previous} failed: ${message}`,
                durationMs: elapsed(context, started),
            });
            return 1;
        }
        return await revert(context, state, weight, { reasons: [`update failed: ${message}`] }, started, committed.weight);
    }
    await log.emit({
        event: "promote_complete",
        success: true,
        version: state.version,
        weight,
        retired: options.retire,
        durationMs: elapsed(context, started),
    });
    return 0;
}

/**
 * Commits one step's change. A commit that fails stops the promotion where it is,
 * the weight held: the canary is healthy, and the message names the command that
 * records the step by hand before promote is run again.
 */
async function recorded(context: PromoteContext, state: CanaryConfig, weight: number, started: number, subject: string): Promise<boolean> {
    try {
        await stackFileOf(context).record(subject);
        return true;
    } catch (err) {
        const error = context.log.mask((err as Error).message);
        context.log.progress(error);
        await context.log.emit({
            event: "promote_complete",
            success: false,
            version: state.version,
            weight,
            reverted: false,
            error,
            durationMs: elapsed(context, started),
        });
        return false;
    }
}

function elapsed(context: PromoteContext, started: number): number {
    return Math.round((context.io.now ?? Date.now)() - started);
}

function formatChanges(changes: Readonly<Record<string, number>>): string {
    const parts = Object.entries(changes)
        .filter(([, n]) => n > 0)
        .map(([op, n]) => `${n} ${op}`);
    return parts.length > 0 ? parts.join(", ") : "no changes";
}

async function up(context: PromoteContext): Promise<void> {
    await context.stack.up((line) => context.log.progress(`  | ${line.replace(/\n$/, "")}`));
}

/**
 * A bake that judged nothing is not a pass. `hold` keeps the weight the canary has
 * (its traffic is no worse for being thin) and stops, so a person decides; `revert`
 * treats the unobserved canary like a breach.
 */
async function inconclusive(
    context: PromoteContext,
    state: CanaryConfig,
    label: string,
    weight: number,
    reason: string,
    started: number,
): Promise<number> {
    const { log, analysis } = context;
    if (analysis.onInconclusive === "revert") return await revert(context, state, weight, { reasons: [reason] }, started, weight);
    log.progress(
        `${label}: ${reason}; holding ${state.version} at ${weight}% (\`${CONFIG_KEYS.analysis}.onInconclusive\` is hold): ` +
            `send the canary more traffic or lower \`${CONFIG_KEYS.analysis}.minRequests\`, then run promote again to bake ${weight}% anew`,
    );
    await log.emit({
        event: "promote_complete",
        success: false,
        version: state.version,
        weight,
        reverted: false,
        held: true,
        reason,
        durationMs: elapsed(context, started),
    });
    return 1;
}

async function revert(
    context: PromoteContext,
    state: CanaryConfig,
    weight: number,
    breach: NonNullable<BakeOutcome["breach"]>,
    started: number,
    /** The weight at HEAD of the stack file, which the revert's commit starts from. */
    committedWeight: number,
): Promise<number> {
    const { stack, log } = context;
    const reason = breach.reasons.join("; ");
    const notified = log.emit({
        event: "promote_revert",
        version: state.version,
        previous: state.previous,
        fromWeight: weight,
        reason,
        ...(breach.sample ? { sample: breach.sample } : {}),
    });
    log.progress(`reverting: ${CONFIG_KEYS.canaryWeight} = 0 (all traffic to ${state.previous})`);
    let reverted = true;
    let error: string | undefined;
    try {
        await stack.setConfig(CONFIG_KEYS.canaryWeight, "0");
        await up(context);
    } catch (err) {
        reverted = false;
        error = log.mask((err as Error).message);
        log.progress(`revert failed: ${error}; set ${CONFIG_KEYS.canaryWeight} to 0 and run pulumi up by hand`);
    }
    // Committed even when the update failed: the file then asks for weight 0, the safe side for the workflow's next run.
    const subject = transitionSubject(stack.name, `canary ${state.version} ${committedWeight} → 0 (reverted)`);
    try {
        await stackFileOf(context).record(subject, [`reason: ${reason}`, ...(error ? [`pulumi up failed: ${error}`] : [])]);
    } catch (err) {
        log.progress(log.mask((err as Error).message));
        error = error ?? log.mask((err as Error).message);
    }
    await notified;
    await log.emit({
        event: "promote_complete",
        success: false,
        version: state.version,
        weight: reverted ? 0 : weight,
        reverted,
        reason,
        ...(error ? { error } : {}),
        durationMs: elapsed(context, started),
    });
    return 1;
}

/** The context's recorder; none where the caller keeps no stack file (a bench's in-memory stack). */
function stackFileOf(context: { readonly stackFile?: StackFileRecorder }): StackFileRecorder {
    return context.stackFile ?? NO_RECORDING;
}
