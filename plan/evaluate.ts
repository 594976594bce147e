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
    readonly after: EvaluatedConfig;
}

/**
 * Evaluates an update as `pulumi preview` would see it: the deployed config is
 * evaluated twice (the second run reads its own outputs back, like a stack at
 * rest), then the new config against those outputs.
 */
export async function evaluateTransition({ stack, before, after }: PlannedUpdate): Promise<PlanDiff> {
    let deployed: ProgramRun = { resources: new Map(), outputs: {} };
    if (before !== undefined) {
        const options = runOptions(stack, before.config);
        try {
            const first = await runProgram(options);
            deployed = await runProgram({ ...options, lastOutputs: first.outputs });
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

function runOptions(stack: string, config: EvaluatedConfig): RunOptions {
    return { stack, config: config.config, secretKeys: config.secretKeys, unlistedDigest: () => PLACEHOLDER_DIGEST };
}
