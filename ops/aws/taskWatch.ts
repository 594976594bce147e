import { DescribeTasksCommand, ECSClient, StopTaskCommand } from "@aws-sdk/client-ecs";
import { awsCall, formatElapsed, sleep } from "../../core/awsClient";
import { formatDuration } from "../flags";
import { EcsTaskRequest, readTaskState, TaskState, taskId } from "./ecsTask";
import { TaskLog } from "./taskLog";

/** Consecutive failed `DescribeTasks` calls (each already retried by the SDK) after which the task is stopped rather than left unwatched. */
export const MAX_POLL_FAILURES = 3;
/** After `StopTask`, how long to wait for STOPPED (less when `--timeout` itself is shorter): ECS gives a container 30 s after SIGTERM. */
export const STOP_WAIT_MS = 60_000;
/** A status that does not change is still reported this often, so a long wait shows it is alive. */
const QUIET_PROGRESS_MS = 30_000;

export interface TaskWatch {
    readonly request: EcsTaskRequest;
    readonly env: NodeJS.ProcessEnv;
    readonly ecs: ECSClient;
    readonly log: (line: string) => void;
    /** The container's log, read at every poll; undefined when it does not log through awslogs. */
    readonly taskLog?: TaskLog;
}

export type WatchOutcome =
    /** `ran`: the task was seen RUNNING or its container logged, so it did start. */
    | { readonly kind: "stopped"; readonly state: TaskState; readonly ran: boolean }
    /** Stopped by us past `--timeout`; `state` once it reached STOPPED within the stop wait. */
    | { readonly kind: "timedOut"; readonly state?: TaskState }
    | { readonly kind: "lost" };

/**
 * Polls the task every `--poll` until it is STOPPED, following its log lines at each
 * poll. Past `--timeout` it stops the task and waits, bounded, for STOPPED; when its
 * status cannot be read several times in a row it stops the task too, rather than
 * leave a task running that nobody watches.
 */
export async function watchTask(watch: TaskWatch, taskArn: string, startedAt: number): Promise<WatchOutcome> {
    const { request, log } = watch;
    let lastStatus = "";
    let lastReport = startedAt;
    let failures = 0;
    let sawRunning = false;
    for (;;) {
        let state: TaskState | undefined;
        try {
            state = await describe(watch, taskArn);
            failures = 0;
        } catch (err) {
            failures++;
            log(`${(err as Error).message} (${failures} of ${MAX_POLL_FAILURES} in a row)`);
            if (failures >= MAX_POLL_FAILURES) {
                await stopTask(watch, taskArn, "its status could not be read");
                return { kind: "lost" };
            }
        }
        sawRunning ||= state?.lastStatus === "RUNNING";
        const elapsed = Date.now() - startedAt;
        if (state?.lastStatus === "STOPPED") {
            await watch.taskLog?.read();
            log(`task ${taskId(taskArn)}: STOPPED (${formatElapsed(elapsed)})`);
            const ran = sawRunning || state.startedAt !== undefined || (watch.taskLog?.linesRead ?? 0) > 0;
            return { kind: "stopped", state, ran };
        }
        const status = state?.lastStatus ?? (failures > 0 ? lastStatus : "not listed yet");
        if (status !== lastStatus || Date.now() - lastReport >= QUIET_PROGRESS_MS) {
            log(`task ${taskId(taskArn)}: ${status} (${formatElapsed(elapsed)})`);
            lastStatus = status;
            lastReport = Date.now();
        }
        // After the status line, so each line reads as printed while the task was in that status.
        await watch.taskLog?.read();
        if (elapsed >= request.timeoutMs) {
            await stopTask(watch, taskArn, `--timeout ${formatDuration(request.timeoutMs)} exceeded`);
            return { kind: "timedOut", state: await awaitStopped(watch, taskArn) };
        }
        await sleep(request.pollMs);
    }
}

function describe(watch: TaskWatch, taskArn: string): Promise<TaskState | undefined> {
    const { request, env, ecs } = watch;
    return awsCall(`ECS DescribeTasks of ${taskArn}`, env, async () =>
        readTaskState(await ecs.send(new DescribeTasksCommand({ cluster: request.cluster, tasks: [taskArn] })), taskArn, request.container),
    );
}

/** After `StopTask`: the task's final state once STOPPED, still following its log (a container may say why it stops). */
async function awaitStopped(watch: TaskWatch, taskArn: string): Promise<TaskState | undefined> {
    const { request, log } = watch;
    const bound = Math.min(STOP_WAIT_MS, request.timeoutMs);
    const since = Date.now();
    for (;;) {
        // A failed read here changes nothing: the task was already told to stop.
        const state = await describe(watch, taskArn).catch(() => undefined);
        await watch.taskLog?.read();
        if (state?.lastStatus === "STOPPED") {
            log(`task ${taskId(taskArn)}: STOPPED ${formatElapsed(Date.now() - since)} after StopTask`);
            return state;
        }
        if (Date.now() - since >= bound) {
            log(
                `task ${taskArn} was not STOPPED ${formatDuration(bound)} after StopTask: ` +
                    `see it with \`aws ecs describe-tasks --cluster ${request.cluster} --tasks ${taskArn}\``,
            );
            return undefined;
        }
        await sleep(request.pollMs);
    }
}

export async function stopTask(watch: TaskWatch, taskArn: string, why: string): Promise<void> {
    const { request, env, log, ecs } = watch;
    log(`stopping task ${taskArn}: ${why}`);
    try {
        await awsCall(`ECS StopTask of ${taskArn}`, env, () =>
            ecs.send(new StopTaskCommand({ cluster: request.cluster, task: taskArn, reason: `safe-release-ops ecs-task: ${why}` })),
        );
    } catch (err) {
        log(`${(err as Error).message}; stop task ${taskArn} by hand`);
    }
}
