import { OpsCommand, OpsIO } from "../command";
import { formatDuration } from "../flags";
import { CloudWatchLogsClient, GetLogEventsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { DescribeTaskDefinitionCommand, DescribeTasksCommand, ECSClient, RunTaskCommand, StopTaskCommand } from "@aws-sdk/client-ecs";
import { awsCall, awsClientConfig, formatElapsed, progress, sleep, withClient } from "../../core/awsClient";
import { ecsClient } from "../aws/ecsScale";
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
    runTaskInput,
    startedTask,
    TaskState,
    taskId,
} from "../aws/ecsTask";

/** Consecutive failed `DescribeTasks` calls (each already retried by the SDK) after which the task is stopped rather than left unwatched. */
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
The task is polled every --poll; past --timeout it is stopped (\`StopTask\`) and the
run fails. The last ${LOG_TAIL_LIMIT} lines of the container's awslogs stream go to stderr.

AWS: the AWS SDK's default credential chain and region (AWS_REGION, AWS_PROFILE, …);
AWS_ENDPOINT_URL points it at another AWS-compatible endpoint.
stdout: {"taskArn":…,"exitCode":…,"stoppedReason":…,"timedOut":…,"elapsedMs":…}
exit status: 0 the container exited 0, 1 anything else, 2 usage error.
`;

interface TaskRun {
    readonly request: EcsTaskRequest;
    readonly io: OpsIO;
    readonly log: (line: string) => void;
    readonly ecs: ECSClient;
}

async function runEcsTask(args: string[], io: OpsIO): Promise<number> {
    const request = parseEcsTaskArgs(args);
    return withClient(ecsClient(io.env), (ecs) => runTask({ request, io, log: progress("ecs-task", io.stderr, io.env), ecs }));
}

async function runTask(run: TaskRun): Promise<number> {
    const { request, io, ecs } = run;
    const definition = await awsCall(`ECS DescribeTaskDefinition of \`${request.taskDefinition}\``, io.env, () =>
        ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: request.taskDefinition })),
    );
    const definitionArn = definition.taskDefinition?.taskDefinitionArn;
    if (definitionArn === undefined) throw new Error(`task definition \`${request.taskDefinition}\` was not described`);
    const names = containerNames(definition);
    if (!names.includes(request.container)) {
        run.log(
            `\`--container\` must name a container of ${definitionArn} (${names.join(", ")}); got \`${request.container}\`; nothing ran`,
        );
        return 1;
    }
    const logs = logLocation(definition, request.container);
    const started = startedTask(
        await awsCall(`ECS RunTask of ${definitionArn}`, io.env, () => ecs.send(new RunTaskCommand(runTaskInput(request, definitionArn)))),
    );
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
    const { request, io, log, ecs } = run;
    const describe = () =>
        awsCall(`ECS DescribeTasks of ${taskArn}`, io.env, () =>
            ecs.send(new DescribeTasksCommand({ cluster: request.cluster, tasks: [taskArn] })),
        );
    let lastStatus = "";
    let lastReport = startedAt;
    let failures = 0;
    for (;;) {
        let state: TaskState | undefined;
        try {
            state = readTaskState(await describe(), taskArn, request.container);
            failures = 0;
        } catch (err) {
            failures++;
            log(`${(err as Error).message} (${failures} of ${MAX_POLL_FAILURES} in a row)`);
            if (failures >= MAX_POLL_FAILURES) {
                await stopTask(run, taskArn, "its status could not be read");
                return {
                    lost: true,
                    message: `could not follow task ${taskArn} (${MAX_POLL_FAILURES} failed \`DescribeTasks\` calls); it was stopped and its outcome is unknown`,
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
    const { request, io, log, ecs } = run;
    log(`stopping task ${taskArn}: ${why}`);
    try {
        await awsCall(`ECS StopTask of ${taskArn}`, io.env, () =>
            ecs.send(new StopTaskCommand({ cluster: request.cluster, task: taskArn, reason: `safe-release-ops ecs-task: ${why}` })),
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
        // The log group may live in another region than the cluster (`awslogs-region`).
        const events = await withClient(new CloudWatchLogsClient(awsClientConfig(io.env, "CLOUDWATCH_LOGS", logs.region)), (client) =>
            awsCall(`CloudWatch Logs GetLogEvents of ${logs.group} ${stream}`, io.env, () =>
                client.send(
                    new GetLogEventsCommand({
                        logGroupName: logs.group,
                        logStreamName: stream,
                        limit: LOG_TAIL_LIMIT,
                        startFromHead: false,
                    }),
                ),
            ),
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
