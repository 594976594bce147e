import { OpsCommand, OpsIO } from "../command";
import { formatDuration } from "../flags";
import { DescribeTaskDefinitionCommand, ECSClient, RunTaskCommand } from "@aws-sdk/client-ecs";
import { awsCall, formatElapsed, progress, sleep, withClient } from "../../core/awsClient";
import { ecsClient } from "../aws/ecsScale";
import { reported } from "../report";
import {
    containerNames,
    DEFAULT_POLL,
    DEFAULT_TASK_TIMEOUT,
    EcsTaskRequest,
    failureMessage,
    logLocation,
    parseEcsTaskArgs,
    runTaskInput,
    startedTask,
    TaskState,
    taskId,
} from "../aws/ecsTask";
import { FAILURE_TAIL_LINES, PAGES_AT_END, TaskLog } from "../aws/taskLog";
import { MIN_MASKED_LENGTH, taskMask } from "../aws/taskMask";
import { NEXT_AFTER_EXIT, neverRan, tailLines, unknownOutcomeAdvice } from "../aws/taskOutcome";
import { MAX_POLL_FAILURES, STOP_WAIT_MS, watchTask, WatchOutcome } from "../aws/taskWatch";

/** With `--ops-result`, how many more reads (one per `--poll`) wait for a result line that reaches CloudWatch Logs late. */
export const LATE_RESULT_READS = 3;

const USAGE = `usage: safe-release-ops ecs-task --cluster <arn> --task-definition <family[:rev]|arn> --container <name>
                                 --subnets subnet-a[,subnet-b] --security-groups sg-1[,sg-2] [--assign-public-ip]
                                 [--timeout ${DEFAULT_TASK_TIMEOUT}] [--poll ${DEFAULT_POLL}] [--ops-result] [--mask-env NAME[,NAME]]
                                 -- <command> [args…]

Runs one one-off Fargate task of the task definition with <container>'s command replaced
by <command>, waits until it stops and exits with its outcome. It is the runner that
\`safe-release-ops migrate … -- \` wraps, and how an update runs a data step inside the VPC.

The task's environment and secrets come from its task definition; <command> travels in the
task's overrides, which anyone who can describe the task can read: never put a secret in it.
The task is polled every --poll, and its container's awslogs stream is followed meanwhile:
each line goes to stderr as \`ecs-task: | <line>\` as it arrives. Past --timeout the task is
stopped (\`StopTask\`), waited for up to ${formatDuration(STOP_WAIT_MS)}, and the run fails. A failure repeats the
last ${FAILURE_TAIL_LINES} log lines and says what to do next.

  --ops-result      <command> is a \`safe-release-ops\` program: stdout is the last log line
                    that parses as a JSON object (the JSON the program prints when run
                    locally), and the summary below goes to stderr instead. Exit 0 needs
                    the container to exit 0 and that line to exist (up to ${LATE_RESULT_READS} more
                    reads, one per --poll, wait for it after the stop).
  --mask-env A,B    the values of these variables of this process are printed as \`***\`
                    wherever they appear (log lines, messages, the result); URL passwords,
                    \`Bearer\` credentials and secret-looking variables are masked as well.
                    A name that is not set is a usage error; a value shorter than
                    ${MIN_MASKED_LENGTH} characters is not masked (it would garble every line) and is warned of.

AWS: the AWS SDK's default credential chain and region (AWS_REGION, AWS_PROFILE, …);
AWS_ENDPOINT_URL points it at another AWS-compatible endpoint.
stdout: {"taskArn":…,"exitCode":…,"stoppedReason":…,"timedOut":…,"elapsedMs":…}, or with --ops-result the program's JSON
exit status: 0 the container exited 0 (and, with --ops-result, printed its result), 1 anything else, 2 usage error.
`;

interface TaskRun {
    readonly request: EcsTaskRequest;
    readonly io: OpsIO;
    readonly log: (line: string) => void;
    readonly mask: (text: string) => string;
    readonly ecs: ECSClient;
}

async function runEcsTask(args: string[], io: OpsIO): Promise<number> {
    const request = parseEcsTaskArgs(args);
    const { mask, tooShort } = taskMask(request.maskEnv, io.env);
    const print = progress("ecs-task", io.stderr, io.env);
    const log = (line: string) => print(mask(line));
    for (const name of tooShort) {
        log(
            `\`--mask-env\`: the value of \`${name}\` has fewer than ${MIN_MASKED_LENGTH} characters and is not masked: use a longer secret`,
        );
    }
    return withClient(ecsClient(io.env), (ecs) => runTask({ request, io, log, mask, ecs }));
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
    if (request.opsResult && "unavailable" in logs) {
        run.log(`\`--ops-result\` reads the program's result from the container's awslogs stream, but ${logs.unavailable}; nothing ran`);
        return 1;
    }
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
    const noLog = "unavailable" in logs ? logs.unavailable : undefined;
    const taskLog =
        "unavailable" in logs
            ? undefined
            : new TaskLog(logs, request.container, taskArn, io.env, run.mask, { line: (line) => run.log(`| ${line}`), problem: run.log });
    if (noLog !== undefined) run.log(`its log lines cannot be followed: ${noLog}`);
    try {
        const outcome = await watchTask({ request, env: io.env, ecs, log: run.log, taskLog }, taskArn, startedAt);
        // What the container printed last may still be on its way: read to the end of the stream.
        await taskLog?.read(PAGES_AT_END);
        if (request.opsResult && outcome.kind === "stopped" && outcome.state.exitCode === 0) {
            for (let read = 0; read < LATE_RESULT_READS && taskLog?.resultLine() === undefined; read++) {
                await sleep(request.pollMs);
                await taskLog?.read(PAGES_AT_END);
            }
        }
        const silence = taskLog === undefined ? `no log lines: ${noLog}` : taskLog.linesRead === 0 ? taskLog.emptyReason() : undefined;
        const printed: Printed = { tail: taskLog?.tail() ?? [], silence, result: taskLog?.resultLine() };
        return report(run, taskArn, outcome, Date.now() - startedAt, printed);
    } finally {
        taskLog?.close();
    }
}

/** What the container printed, as the report needs it. */
interface Printed {
    /** The last lines, masked. */
    readonly tail: readonly string[];
    /** Why there are no lines at all, when there are none. */
    readonly silence?: string;
    /** The `--ops-result` line, masked. */
    readonly result?: string;
}

/** The summary, the result and, for anything but a clean exit, what went wrong, the last log lines and what to do. */
function report(run: TaskRun, taskArn: string, outcome: WatchOutcome, elapsedMs: number, printed: Printed): number {
    const { request, io, log } = run;
    const state = outcome.kind === "lost" ? undefined : outcome.state;
    const summary = {
        taskArn,
        ...(state !== undefined ? resultFields(state) : { exitCode: null }),
        timedOut: outcome.kind === "timedOut",
        elapsedMs,
    };
    if (request.opsResult) {
        log(`summary ${JSON.stringify(summary)}`);
        if (printed.result !== undefined) io.stdout.write(`${printed.result}\n`);
    } else {
        io.stdout.write(`${run.mask(JSON.stringify(summary))}\n`);
    }
    const fail = (lines: readonly string[], next: readonly string[]): number => {
        const tail = printed.silence !== undefined ? [printed.silence] : tailLines(printed.tail);
        [...lines, ...tail, ...next].forEach((line) => log(line));
        return 1;
    };
    const advice = `next: ${unknownOutcomeAdvice(request.command)}`;
    if (outcome.kind === "lost") {
        return fail(
            [
                `could not follow task ${taskArn} (${MAX_POLL_FAILURES} failed \`DescribeTasks\` calls); it was stopped and its outcome is unknown`,
            ],
            [advice],
        );
    }
    if (outcome.kind === "timedOut") {
        const timeout = formatDuration(request.timeoutMs);
        return fail(
            [`task ${taskArn} did not stop within ${timeout} (\`--timeout\`); it was stopped and its outcome is unknown`],
            [advice],
        );
    }
    const { exitCode } = outcome.state;
    const container = `container \`${request.container}\``;
    if (exitCode === 0 && (!request.opsResult || printed.result !== undefined)) {
        if (printed.silence !== undefined) log(printed.silence);
        log(`task ${taskId(taskArn)}: ${container} exited 0 after ${formatElapsed(elapsedMs)}`);
        return 0;
    }
    if (exitCode === 0) {
        return fail(
            [
                `task ${taskArn}: ${container} exited 0 but printed no result: \`--ops-result\` takes the last log line that parses as a JSON object, and there is none`,
            ],
            ["next: check that the task's command is a `safe-release-ops` program; what it did stands, since it exited 0"],
        );
    }
    const failed = failureMessage(taskArn, request.container, outcome.state);
    if (exitCode !== undefined) return fail([failed], [NEXT_AFTER_EXIT]);
    if (!outcome.ran) {
        const never = neverRan(taskArn);
        return fail([failed, never.what], never.next);
    }
    return fail([failed, "it ran, but ECS reports no exit code for it, so its outcome is unknown"], [advice]);
}

function resultFields(state: TaskState): Record<string, unknown> {
    return {
        exitCode: state.exitCode ?? null,
        stopCode: state.stopCode ?? null,
        stoppedReason: state.stoppedReason ?? null,
        ...(state.containerReason !== undefined ? { containerReason: state.containerReason } : {}),
    };
}

export const command: OpsCommand = {
    name: "ecs-task",
    summary: "run one one-off Fargate task with a command override, follow its log, wait for it, exit with its outcome",
    usage: USAGE,
    run: (args, io) => reported("ecs-task", io, () => runEcsTask(args, io)),
};
