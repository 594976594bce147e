import { DockerEngine } from "./engine";
import { Props } from "./wire";

/**
 * `wait: true`: after start, poll the container until Docker reports it
 * `healthy`, for at most `waitTimeout` seconds (upstream polls once a second
 * for the same bound). Upstream's failure says only "container failed to be in
 * healthy state"; this one names the container and quotes the last health
 * check, which is what an operator needs first. The health log is what the
 * check command printed; `docker inspect`'s environment is never read into it.
 */

const OUTPUT_LIMIT = 300;

export interface HealthWait {
    readonly name: string;
    readonly timeoutSeconds: number;
    readonly pollMs?: number;
}

export async function waitUntilHealthy(engine: DockerEngine, id: string, wait: HealthWait): Promise<void> {
    const deadline = Date.now() + wait.timeoutSeconds * 1000;
    for (;;) {
        const inspect = await engine.json("GET", `/containers/${id}/json`);
        if (inspect === undefined)
            throw new Error(`container "${wait.name}" (${id.slice(0, 12)}) vanished while waiting for it to become healthy`);
        const state = (inspect.State ?? {}) as Props;
        if (state.Health === undefined || state.Health === null) {
            throw new Error(
                `container "${wait.name}": \`wait\` needs a health check, from \`healthcheck\` or the image's HEALTHCHECK, and the container has none`,
            );
        }
        if (state.Health.Status === "healthy") return;
        if (Date.now() >= deadline) throw new Error(unhealthyMessage(wait.name, wait.timeoutSeconds, state));
        await new Promise((resolve) => setTimeout(resolve, Math.min(wait.pollMs ?? 1000, Math.max(0, deadline - Date.now()))));
    }
}

/** What failed, for how long, and what the last check said. */
export function unhealthyMessage(name: string, timeoutSeconds: number, state: Props): string {
    const health = (state.Health ?? {}) as Props;
    const log = (health.Log ?? []) as Props[];
    const last = log[log.length - 1];
    const running = state.Running ? "running" : `${state.Status ?? "not running"}, exit code ${state.ExitCode ?? "unknown"}`;
    const streak = health.FailingStreak ? `, ${health.FailingStreak} failing check${health.FailingStreak === 1 ? "" : "s"} in a row` : "";
    const lastCheck =
        last === undefined
            ? "no health check has finished yet"
            : `last check exited ${last.ExitCode}${last.Output ? `: ${condense(String(last.Output))}` : " with no output"}`;
    return (
        `container "${name}" did not become healthy within ${timeoutSeconds}s (\`waitTimeout\`): ` +
        `health is "${health.Status ?? "unknown"}" (container ${running})${streak}; ${lastCheck}`
    );
}

function condense(output: string): string {
    const line = output.replace(/\s+/g, " ").trim();
    return line.length > OUTPUT_LIMIT ? `${line.slice(0, OUTPUT_LIMIT)}…` : line;
}
