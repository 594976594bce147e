import { RDSClient } from "@aws-sdk/client-rds";
import { formatElapsed } from "../../core/awsClient";
import { formatDuration } from "../flags";
import { RdsWaitOptions, statusOf } from "./rdsSnapshots";

/** A waiter that does not change state is still reported this often, so a long wait shows it is alive. */
export const QUIET_PROGRESS_MS = 30_000;
/** The SDK's waiters back off up to this between two describe calls. */
const MAX_DELAY_S = 120;

/** An RDS waiter of the SDK (`waitForDBInstanceAvailable`, …): it answers with a state rather than throwing. */
type Waiter<I> = (
    params: { client: RDSClient; maxWaitTime: number; minDelay: number; maxDelay: number },
    input: I,
) => Promise<{ state: string; reason?: unknown }>;

export interface RdsRun extends RdsWaitOptions {
    readonly rds: RDSClient;
    readonly env: NodeJS.ProcessEnv;
    readonly log: (line: string) => void;
}

/**
 * Waits with the SDK's waiter until `what` is `state`, bounded by `--timeout`, with a
 * progress line when the wait starts, every ${QUIET_PROGRESS_MS / 1000} s, and when it
 * ends. Throws a message that says what did not happen and the last status seen.
 */
export async function waitUntil<I>(run: RdsRun, what: string, state: string, waiter: Waiter<I>, input: I): Promise<void> {
    const started = Date.now();
    run.log(`waiting until ${what} is ${state} (at most ${formatDuration(run.timeoutMs)})`);
    const ticker = setInterval(
        () => run.log(`still waiting until ${what} is ${state} (${formatElapsed(Date.now() - started)})`),
        QUIET_PROGRESS_MS,
    );
    let result: { state: string; reason?: unknown };
    try {
        result = await waiter(
            {
                client: run.rds,
                maxWaitTime: run.timeoutMs / 1000,
                minDelay: run.pollMs / 1000,
                maxDelay: Math.max(run.pollMs / 1000, MAX_DELAY_S),
            },
            input,
        );
    } finally {
        clearInterval(ticker);
    }
    const elapsed = formatElapsed(Date.now() - started);
    if (String(result.state) === "SUCCESS") {
        run.log(`${what} is ${state} (${elapsed})`);
        return;
    }
    const last = statusOf(result.reason);
    const seen = last !== undefined ? `; last status: ${last}` : "";
    if (String(result.state) === "TIMEOUT") {
        throw new Error(`${what} was not ${state} within ${formatDuration(run.timeoutMs)} (\`--timeout\`)${seen}`);
    }
    throw new Error(`${what} will not become ${state}${seen}`);
}
