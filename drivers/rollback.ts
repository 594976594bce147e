import { compareTags, isReleaseTag } from "../core/releaseTags";
import { EventLog } from "./events";
import { NO_RECORDING, StackFileRecorder, transitionSubject } from "./stackFile";
import { CONFIG_KEYS, DriverIO, ReleaseStack, ReleaseUpdate } from "./types";

export interface RollbackState {
    readonly stack: string;
    readonly version?: string;
    readonly previous?: string;
    readonly restoreFrom?: string;
    /** Stack output `schemaHead`: the newest version whose migration has run. */
    readonly schemaHead?: string;
}

export interface RollbackPlan {
    readonly from: string;
    readonly to: string;
    /** True when `to` is the warm `release:previous`, so the update only moves listener weights. */
    readonly targetWarm: boolean;
    readonly changes: ReadonlyArray<{ readonly key: string; readonly value: string }>;
}

/** The newest successful update that ran a version other than `current`: the last known good. */
export function pickPriorVersion(history: readonly ReleaseUpdate[], current: string): string | undefined {
    const newestFirst = [...history].sort((a, b) => b.version - a.version);
    for (const update of newestFirst) {
        if (update.kind !== "update" || update.result !== "succeeded") continue;
        const version = update.config?.[CONFIG_KEYS.version]?.value;
        if (version !== undefined && version !== current && isReleaseTag(version)) return version;
    }
    return undefined;
}

export function schemaHeadRefusal(state: RollbackState, from: string, to: string): string {
    return (
        `refusing to roll back stack \`${state.stack}\` from ${from} to ${to}: the database schema head is ${state.schemaHead} ` +
        `(stack output \`schemaHead\`), newer than ${to}, and no warm version at or above ${state.schemaHead} would serve it after the rollback. ` +
        `Set \`${CONFIG_KEYS.restoreFrom}\` to the id of the backup taken before the ${state.schemaHead} migration, so the update stops writers, ` +
        `restores and verifies it before ${to} takes traffic, then run this rollback again.`
    );
}

/**
 * The config changes of a rollback. The current version stays warm as `release:previous`:
 * the rollback is then a weight change whenever the target was the warm previous, a wrong
 * rollback can be undone as fast, the schema head's version stays live (so its migration
 * and backup resources stay put), and retiring it is a separate, deliberate step.
 */
export function planRollback(state: RollbackState, history: readonly ReleaseUpdate[], to?: string): RollbackPlan {
    const from = state.version;
    if (!from) throw new Error(`\`${CONFIG_KEYS.version}\` is not set on stack \`${state.stack}\`; there is nothing to roll back`);
    const target = to ?? pickPriorVersion(history, from);
    if (target === undefined) {
        throw new Error(
            `no successful update in the history of stack \`${state.stack}\` ran a version other than ${from}; pass \`--to vX.Y.Z\``,
        );
    }
    if (target === from)
        throw new Error(`\`--to ${target}\` is already \`${CONFIG_KEYS.version}\` on stack \`${state.stack}\`; nothing to roll back`);
    const head = state.schemaHead;
    if (head !== undefined && isReleaseTag(head) && compareTags(head, target) > 0 && !state.restoreFrom) {
        const warmServesHead = isReleaseTag(from) && compareTags(from, head) >= 0;
        if (!warmServesHead) throw new Error(schemaHeadRefusal(state, from, target));
    }
    return {
        from,
        to: target,
        targetWarm: state.previous === target,
        changes: [
            { key: CONFIG_KEYS.version, value: target },
            { key: CONFIG_KEYS.previous, value: from },
            // The weight is the share of `version`: all traffic to the rolled-back-to version.
            { key: CONFIG_KEYS.canaryWeight, value: "100" },
        ],
    };
}

export interface RollbackContext {
    readonly stack: ReleaseStack;
    readonly log: EventLog;
    readonly io: DriverIO;
    /** Commits the stack file's change (or prints how), so the release workflow deploys the rollback too. */
    readonly stackFile?: StackFileRecorder;
}

export async function readRollbackState(stack: ReleaseStack): Promise<RollbackState> {
    const outputs = await stack.outputs();
    const schemaHead = typeof outputs.schemaHead === "string" ? outputs.schemaHead : undefined;
    return {
        stack: stack.name,
        version: await stack.getConfig(CONFIG_KEYS.version),
        previous: await stack.getConfig(CONFIG_KEYS.previous),
        restoreFrom: await stack.getConfig(CONFIG_KEYS.restoreFrom),
        schemaHead,
    };
}

/** Redeploys the last known good version (or `to`); returns the exit code. */
export async function rollback(context: RollbackContext, options: { readonly to?: string; readonly dryRun: boolean }): Promise<number> {
    const { stack, log } = context;
    const now = context.io.now ?? Date.now;
    const state = await readRollbackState(stack);
    const plan = planRollback(state, await stack.history(), options.to);
    const warmth = plan.targetWarm ? `${plan.to} is warm: listener weights only` : `${plan.to} is not warm: its service starts first`;
    if (options.dryRun) {
        log.progress(`dry run: roll back stack \`${stack.name}\` from ${plan.from} to ${plan.to} (${warmth}); nothing will change`);
        plan.changes.forEach((c, i) => log.progress(`${i + 1}. set ${c.key} = ${c.value}`));
        log.progress(
            `${plan.changes.length + 1}. pulumi up${state.restoreFrom ? ` (restores \`${CONFIG_KEYS.restoreFrom}\` ${state.restoreFrom} first)` : ""}`,
        );
        const changes = await stack.preview();
        const summary =
            Object.entries(changes)
                .filter(([, n]) => n > 0)
                .map(([op, n]) => `${n} ${op}`)
                .join(", ") || "no changes";
        log.progress(`preview of the stack as configured now: ${summary}`);
        return 0;
    }
    await stackFileOf(context).checkClean();
    const started = now();
    await log.emit({
        event: "rollback_start",
        from: plan.from,
        to: plan.to,
        previous: plan.from,
        targetWarm: plan.targetWarm,
        ...(state.restoreFrom ? { restoreFrom: state.restoreFrom } : {}),
    });
    log.progress(`rolling back from ${plan.from} to ${plan.to} (${warmth})`);
    const subject = transitionSubject(stack.name, `rollback ${plan.from} → ${plan.to}`);
    const changes = plan.changes.map((c) => `${c.key}: ${c.value}`).join(", ");
    let changed = false;
    let error: string | undefined;
    try {
        for (const change of plan.changes) {
            changed = true;
            await stack.setConfig(change.key, change.value);
        }
        await stack.up((line) => log.progress(`  | ${line.replace(/\n$/, "")}`));
    } catch (err) {
        error = log.mask((err as Error).message);
        log.progress(`rollback failed: ${error}`);
    }
    if (changed) {
        // Committed even when the update failed: the file asks for the rollback, and the workflow's next run must not undo it.
        try {
            await stackFileOf(context).record(subject, [changes, ...(error === undefined ? [] : [`pulumi up failed: ${error}`])]);
        } catch (err) {
            const commitError = log.mask((err as Error).message);
            log.progress(commitError);
            error = error ?? commitError;
        }
    }
    if (error !== undefined) {
        await log.emit({
            event: "rollback_complete",
            success: false,
            from: plan.from,
            to: plan.to,
            error,
            durationMs: Math.round(now() - started),
        });
        return 1;
    }
    await log.emit({ event: "rollback_complete", success: true, from: plan.from, to: plan.to, durationMs: Math.round(now() - started) });
    return 0;
}

/** The context's recorder; none where the caller keeps no stack file (a bench's in-memory stack). */
function stackFileOf(context: { readonly stackFile?: StackFileRecorder }): StackFileRecorder {
    return context.stackFile ?? NO_RECORDING;
}
