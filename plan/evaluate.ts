import { readStoresOffline } from "../components/lastRelease";
import { skipLedgerRead } from "../components/schemaHeadCheck";
import { PlanDiff, diffRuns } from "./diff";
import { ProgramRun, RunOptions, runProgram } from "./mockEngine";
import { EvaluatedConfig } from "./stackConfig";

/**
 * What the mocked registry answers for a digest that is not pinned: a valid
 * digest, so the program goes on, that the plan never shows (it shows
 * `LOOKED_UP_DIGEST` instead, from the `unpinnedDigests` output).
 */
export const PLACEHOLDER_DIGEST = `sha256:${"0".repeat(64)}`;

/** A config the program refused; `message` is the program's own. */
export class ProgramRefusal extends Error {
    constructor(
        message: string,
        public readonly original: unknown,
    ) {
        super(message);
    }
}

export interface PlannedUpdate {
    readonly stack: string;
    /** The deployed config; absent for a first deploy. */
    readonly before?: { readonly config: EvaluatedConfig; readonly label: string };
    /**
     * The config the deployed one was applied over (the stack file's previous
     * version), or `"none"` when the deployed config was the stack's first update:
     * with it the plan knows what that update left in the state — the data steps
     * of a release stay there until the next update deletes them.
     */
    readonly earlier?: { readonly config: EvaluatedConfig; readonly label: string } | "none";
    readonly after: EvaluatedConfig;
}

/**
 * Evaluates an update as `pulumi preview` would see it. The deployed state is
 * what the update that applied the deployed config registered: that config
 * evaluated against the outputs of the one before it (itself evaluated at rest,
 * twice, reading its own outputs back). Without an earlier config the deployed
 * one is taken at rest. The new config is then evaluated against the deployed
 * outputs, and each resource compared.
 */
export async function evaluateTransition({ stack, before, earlier, after }: PlannedUpdate): Promise<PlanDiff> {
    // Offline there is no access to the stack's S3 backup store: the recorded `backups` outputs are taken as they are.
    readStoresOffline();
    // Nor to the database: the plan relies on the recorded `schemaHead`, and its report says so.
    skipLedgerRead();
    let deployed: ProgramRun = { resources: new Map(), outputs: {} };
    if (before !== undefined) {
        const options = runOptions(stack, before.config);
        try {
            // The deployed config as its stack's first update, over nothing.
            const first = await runProgram(options);
            const start = earlier !== undefined && earlier !== "none" ? await evaluatedOver(stack, earlier.config) : undefined;
            // The update that applied the deployed config, started from the earlier one's outputs; where the
            // program refuses that step (the history is not a sequence of updates), the deployed config at rest.
            // A config that names a `previous` cannot have been a stack's first update: the file's history
            // starts later than the stack's, so take it at rest.
            const firstUpdate = earlier === "none" && !before.config.config["release:previous"];
            const applied = firstUpdate
                ? first
                : start !== undefined
                  ? await runProgram({ ...options, lastOutputs: start.outputs }).catch(() => undefined)
                  : undefined;
            deployed = applied ?? (await runProgram({ ...options, lastOutputs: first.outputs }));
        } catch (err) {
            throw new ProgramRefusal(`the config it is compared with (${before.label}) does not evaluate: ${(err as Error).message}`, err);
        }
    }
    try {
        return diffRuns(deployed, await runProgram({ ...runOptions(stack, after), lastOutputs: deployed.outputs }));
    } catch (err) {
        throw new ProgramRefusal((err as Error).message, err);
    }
}

/** A config at rest: evaluated, then evaluated again against its own outputs. Undefined when the program refuses it. */
async function evaluatedOver(stack: string, config: EvaluatedConfig): Promise<ProgramRun | undefined> {
    const options = runOptions(stack, config);
    try {
        const first = await runProgram(options);
        return await runProgram({ ...options, lastOutputs: first.outputs });
    } catch {
        // An earlier config the program now refuses says nothing about the state: fall back to the deployed one at rest.
        return undefined;
    }
}

function runOptions(stack: string, config: EvaluatedConfig): RunOptions {
    return { stack, config: config.config, secretKeys: config.secretKeys, unlistedDigest: () => PLACEHOLDER_DIGEST };
}
