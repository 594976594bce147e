import { OpsCommand, OpsIO } from "../command";
import { formatDuration } from "../flags";
import { asString, callAws, field, formatElapsed, progress, sleep } from "../../core/awsCli";
import { reported } from "../report";
import {
    containerNames,
    DEFAULT_POLL,
    DEFAULT_TASK_TIMEOUT,
    EcsTaskRequest,
    failureMessage,
    LOG_TAIL_LIMIT,
    logLines,
    logLocation,
    logStreamName,
    parseEcsTaskArgs,
    readTaskState,
    runTaskArgs,
    startedTask,
    TaskState,
    taskId,
} from "../aws/ecsTask";

/** Consecutive failed `describe-tasks` calls after which the task is stopped rather than left unwatched. */
export const MAX_POLL_FAILURES = 3;
/** A status that does not change is still reported this often, so a long wait shows it is alive. */
const QUIET_PROGRESS_MS = 30_000;

const USAGE = `usage: safe-release-ops ecs-task --cluster <arn> --task-definition <family[:rev]|arn> --container <name>
                                 --subnets subnet-a[,subnet-b] --security-groups sg-1[,sg-2] [--assign-public-ip]
                                 [--timeout ${DEFAULT_TASK_TIMEOUT}] [--poll ${DEFAULT_POLL}] -- <command> [args…]

Runs one one-off Fargate task of the task definition with <container>'s command replaced
by <command>, waits until it stops and exits with its outcome: 0 when the container exited
0, 1 otherwise. It is the runner that \`safe-release-ops migrate … -- \` wraps.

The task's environment and secrets come from its task definition; <command> travels in the
task's overrides, which anyone who can describe the task can read: never put a secret in it.
The task is polled every --poll; past --timeout it is stopped (\`aws ecs stop-task\`) and the
run fails. The last ${LOG_TAIL_LIMIT} lines of the container's awslogs stream go to stderr.

AWS: the AWS CLI v2 (\`aws\` on PATH, or SAFE_RELEASE_AWS_CLI), with region and credentials
from the environment (AWS_REGION, AWS_PROFILE, …).
stdout: {"taskArn":…,"exitCode":…,"stoppedReason":…,"timedOut":…,"elapsedMs":…}
exit status: 0 the container exited 0, 1 anything else, 2 usage error.
`;

interface TaskRun {
    readonly request: EcsTaskRequest;
    readonly io: OpsIO;
    readonly log: (line: string) => void;
}

async function runEcsTask(args: string[], io: OpsIO): Promise<number> {
    const request = parseEcsTaskArgs(args);
    const run: TaskRun = { request, io, log: progress("ecs-task", io.stderr, io.env) };
    const definition = await callAws(["ecs", "describe-task-definition", "--task-definition", request.taskDefinition], io.env);
    const definitionArn = asString(field(field(definition, "taskDefinition"), "taskDefinitionArn"));
    if (definitionArn === undefined) throw new Error(`task definition \`${request.taskDefinition}\` was not described`);
    const names = containerNames(definition);
    if (!names.includes(request.container)) {
        run.log(
            `\`--container\` must name a container of ${definitionArn} (${names.join(", ")}); got \`${request.container}\`; nothing ran`,
        );
        return 1;
    }
    const logs = logLocation(definition, request.container);
    const started = startedTask(await callAws(runTaskArgs(request, definitionArn), io.env));
    if ("failure" in started) {
        run.log(`ECS started no task of ${definitionArn}: ${started.failure}; nothing ran`);
        return 1;
    }
    const { taskArn } = started;
    run.log(`started task ${taskArn} (${definitionArn}, container \`${request.container}\`: ${request.command.join(" ")})`);
    const startedAt = Date.now();
    const outcome = await waitForStop(run, taskArn, startedAt);
    await printLogTail(run, logs, taskArn);
    const elapsedMs = Date.now() - startedAt;
    const result = {
        taskArn,
        ...("state" in outcome ? resultFields(outcome.state) : { exitCode: null }),
        timedOut: "timedOut" in outcome,
        elapsedMs,
    };
    io.stdout.write(`${JSON.stringify(result)}\n`);
    if (!("state" in outcome)) {
        run.log(outcome.message);
        return 1;
    }
    if (outcome.state.exitCode === 0) {
        run.log(`task ${taskId(taskArn)}: container \`${request.container}\` exited 0 after ${formatElapsed(elapsedMs)}`);
        return 0;
    }
    run.log(failureMessage(taskArn, request.container, outcome.state));
    return 1;
}

function resultFields(state: TaskState): Record<string, unknown> {
    return {
        exitCode: state.exitCode ?? null,
        stopCode: state.stopCode ?? null,
        stoppedReason: state.stoppedReason ?? null,
        ...(state.containerReason !== undefined ? { containerReason: state.containerReason } : {}),
    };
}

type WaitOutcome = { state: TaskState } | { timedOut: true; message: string } | { lost: true; message: string };

async function waitForStop(run: TaskRun, taskArn: string, startedAt: number): Promise<WaitOutcome> {
    const { request, io, log } = run;
    const describe = ["ecs", "describe-tasks", "--cluster", request.cluster, "--tasks", taskArn];
    let lastStatus = "";
    let lastReport = startedAt;
    let failures = 0;
    for (;;) {
        let state: TaskState | undefined;
        try {
            state = readTaskState(await callAws(describe, io.env), taskArn, request.container);
            failures = 0;
        } catch (err) {
            failures++;
            log(`${(err as Error).message} (${failures} of ${MAX_POLL_FAILURES} in a row)`);
            if (failures >= MAX_POLL_FAILURES) {
                await stopTask(run, taskArn, "its status could not be read");
                return {
                    lost: true,
                    message: `could not follow task ${taskArn} (${MAX_POLL_FAILURES} failed \`aws ecs describe-tasks\` calls); it was stopped and its outcome is unknown`,
                };
            }
        }
        const elapsed = Date.now() - startedAt;
        if (state?.lastStatus === "STOPPED") {
            log(`task ${taskId(taskArn)}: STOPPED (${formatElapsed(elapsed)})`);
            return { state };
        }
        const status = state?.lastStatus ?? (failures > 0 ? lastStatus : "not listed yet");
        if (status !== lastStatus || Date.now() - lastReport >= QUIET_PROGRESS_MS) {
            log(`task ${taskId(taskArn)}: ${status} (${formatElapsed(elapsed)})`);
            lastStatus = status;
            lastReport = Date.now();
        }
        if (elapsed >= request.timeoutMs) {
            await stopTask(run, taskArn, `--timeout ${formatDuration(request.timeoutMs)} exceeded`);
            return {
                timedOut: true,
                message: `task ${taskArn} did not stop within ${formatDuration(request.timeoutMs)} (\`--timeout\`); it was stopped and its outcome is unknown`,
            };
        }
        await sleep(request.pollMs);
    }
}

async function stopTask(run: TaskRun, taskArn: string, why: string): Promise<void> {
    const { request, io, log } = run;
    log(`stopping task ${taskArn}: ${why}`);
    try {
        await callAws(
            ["ecs", "stop-task", "--cluster", request.cluster, "--task", taskArn, "--reason", `safe-release-ops ecs-task: ${why}`],
            io.env,
        );
    } catch (err) {
        log(`${(err as Error).message}; stop task ${taskArn} by hand`);
    }
}

/** The tail is for the operator; failing to read it never changes the outcome. */
async function printLogTail(run: TaskRun, logs: ReturnType<typeof logLocation>, taskArn: string): Promise<void> {
    const { request, io, log } = run;
    if ("unavailable" in logs) {
        log(`no log tail: ${logs.unavailable}`);
        return;
    }
    const stream = logStreamName(logs.prefix, request.container, taskArn);
    try {
        const events = await callAws(
            [
                "logs",
                "get-log-events",
                "--log-group-name",
                logs.group,
                "--log-stream-name",
                stream,
                "--limit",
                String(LOG_TAIL_LIMIT),
                "--no-start-from-head",
            ],
            io.env,
            logs.region !== undefined ? { region: logs.region } : {},
        );
        const lines = logLines(events);
        log(`last ${lines.length} log lines of ${logs.group} ${stream}:`);
        lines.forEach((line) => log(`| ${line}`));
    } catch (err) {
        log(`no log tail: ${(err as Error).message}`);
    }
}

export const command: OpsCommand = {
    name: "ecs-task",
    summary: "run one one-off Fargate task with a command override, wait for it, exit with its outcome",
    usage: USAGE,
    run: (args, io) => reported("ecs-task", io, () => runEcsTask(args, io)),
};
