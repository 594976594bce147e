import { UsageError } from "../command";
import { parseDuration, parseFlags, requireValue } from "../flags";
import { DescribeTaskDefinitionResponse, DescribeTasksResponse, RunTaskCommandInput, RunTaskResponse } from "@aws-sdk/client-ecs";
import { GetLogEventsResponse } from "@aws-sdk/client-cloudwatch-logs";

export const DEFAULT_TASK_TIMEOUT = "30m";
export const DEFAULT_POLL = "5s";
export const LOG_TAIL_LIMIT = 50;
export const STARTED_BY = "safe-release-ops";

export interface EcsTaskRequest {
    readonly cluster: string;
    readonly taskDefinition: string;
    readonly container: string;
    readonly subnets: readonly string[];
    readonly securityGroups: readonly string[];
    readonly assignPublicIp: boolean;
    readonly timeoutMs: number;
    readonly pollMs: number;
    /** The container's command for this one run. */
    readonly command: readonly string[];
}

const NAME_OR_ARN = /^[A-Za-z0-9][A-Za-z0-9_:/.-]{0,1599}$/;
const CONTAINER = /^[A-Za-z0-9_-]{1,255}$/;
const SUBNET = /^subnet-[0-9a-f]{8,17}$/;
const SECURITY_GROUP = /^sg-[0-9a-f]{8,17}$/;

/** `a,b` → [a, b]; every item must match `pattern`. */
export function parseIdList(text: string, option: string, pattern: RegExp, example: string): string[] {
    const items = text.split(",").map((item) => item.trim());
    const bad = items.find((item) => !pattern.test(item));
    if (bad !== undefined) {
        throw new UsageError(`\`--${option}\` must be a comma-separated list of ids like ${example}; got \`${bad}\` in \`${text}\``);
    }
    return items;
}

export function validateNameOrArn(value: string, option: string, what: string): string {
    if (!NAME_OR_ARN.test(value)) throw new UsageError(`\`--${option}\` must be ${what}; got \`${value}\``);
    return value;
}

export function parseEcsTaskArgs(args: readonly string[]): EcsTaskRequest {
    const flags = parseFlags(args, {
        cluster: "value",
        "task-definition": "value",
        container: "value",
        subnets: "value",
        "security-groups": "value",
        "assign-public-ip": "switch",
        timeout: "value",
        poll: "value",
    });
    const container = requireValue(flags, "container", "the container whose command is overridden");
    if (!CONTAINER.test(container)) {
        throw new UsageError(`\`--container\` must be a container name of letters, digits, \`-\` or \`_\`; got \`${container}\``);
    }
    if (flags.rest.length === 0) {
        throw new UsageError("a command is required after `--`, e.g. `-- python manage.py migrate --noinput`");
    }
    return {
        cluster: validateNameOrArn(requireValue(flags, "cluster", "the ECS cluster to run in"), "cluster", "an ECS cluster name or ARN"),
        taskDefinition: validateNameOrArn(
            requireValue(flags, "task-definition", "the task definition to run"),
            "task-definition",
            "a task definition family[:revision] or ARN",
        ),
        container,
        subnets: parseIdList(requireValue(flags, "subnets", "the task's subnets"), "subnets", SUBNET, "subnet-0123abcd"),
        securityGroups: parseIdList(
            requireValue(flags, "security-groups", "the task's security groups"),
            "security-groups",
            SECURITY_GROUP,
            "sg-0123abcd",
        ),
        assignPublicIp: flags.switches.has("assign-public-ip"),
        timeoutMs: parseDuration(flags.values.get("timeout") ?? DEFAULT_TASK_TIMEOUT, "--timeout"),
        pollMs: parseDuration(flags.values.get("poll") ?? DEFAULT_POLL, "--poll"),
        command: flags.rest,
    };
}

/**
 * `RunTask` for one Fargate task of the resolved revision. The overrides carry only the
 * command: the task's environment and secrets come from its task definition.
 */
export function runTaskInput(request: EcsTaskRequest, taskDefinitionArn: string): RunTaskCommandInput {
    return {
        cluster: request.cluster,
        taskDefinition: taskDefinitionArn,
        launchType: "FARGATE",
        count: 1,
        startedBy: STARTED_BY,
        networkConfiguration: {
            awsvpcConfiguration: {
                subnets: [...request.subnets],
                securityGroups: [...request.securityGroups],
                assignPublicIp: request.assignPublicIp ? "ENABLED" : "DISABLED",
            },
        },
        overrides: { containerOverrides: [{ name: request.container, command: [...request.command] }] },
    };
}

/** The last part of a task ARN (`arn:aws:ecs:…:task/<cluster>/<id>`), which names its log stream. */
export function taskId(taskArn: string): string {
    return taskArn.slice(taskArn.lastIndexOf("/") + 1);
}

/** Where a container's awslogs go, or why its tail cannot be read. */
export type LogLocation = { readonly group: string; readonly prefix: string; readonly region?: string } | { readonly unavailable: string };

export function containerNames(taskDefinitionOutput: DescribeTaskDefinitionResponse): string[] {
    const definitions = taskDefinitionOutput.taskDefinition?.containerDefinitions ?? [];
    return definitions.map((c) => c.name).filter((name): name is string => name !== undefined);
}

/** The container's awslogs options in a `DescribeTaskDefinition` answer. */
export function logLocation(taskDefinitionOutput: DescribeTaskDefinitionResponse, container: string): LogLocation {
    const containerDefinition = (taskDefinitionOutput.taskDefinition?.containerDefinitions ?? []).find((c) => c.name === container);
    if (containerDefinition === undefined) return { unavailable: `container \`${container}\` is not in the task definition` };
    const logConfiguration = containerDefinition.logConfiguration;
    if (logConfiguration?.logDriver !== "awslogs") {
        return { unavailable: `container \`${container}\` does not log through awslogs` };
    }
    const options = logConfiguration.options ?? {};
    const group = options["awslogs-group"];
    const prefix = options["awslogs-stream-prefix"];
    // Without a stream prefix awslogs names the stream after the Docker container id, which the task does not report.
    if (group === undefined || prefix === undefined) {
        return { unavailable: `container \`${container}\` has no \`awslogs-group\` and \`awslogs-stream-prefix\`` };
    }
    const region = options["awslogs-region"];
    return { group, prefix, ...(region !== undefined ? { region } : {}) };
}

/** `<prefix>/<container>/<task id>`: the stream awslogs writes for one task's container. */
export function logStreamName(prefix: string, container: string, taskArn: string): string {
    return `${prefix}/${container}/${taskId(taskArn)}`;
}

export interface TaskState {
    readonly lastStatus: string;
    readonly stopCode?: string;
    readonly stoppedReason?: string;
    /** Absent when the container never ran (an image pull failed, no capacity). */
    readonly exitCode?: number;
    readonly containerReason?: string;
}

/** The task and its container in a `DescribeTasks` answer; undefined while ECS does not list it yet. */
export function readTaskState(describeOutput: DescribeTasksResponse, taskArn: string, container: string): TaskState | undefined {
    const task = (describeOutput.tasks ?? []).find((t) => t.taskArn === taskArn);
    if (task === undefined) return undefined;
    const containerState = (task.containers ?? []).find((c) => c.name === container);
    const optional = {
        stopCode: task.stopCode,
        stoppedReason: task.stoppedReason,
        exitCode: containerState?.exitCode,
        containerReason: containerState?.reason,
    };
    return {
        lastStatus: task.lastStatus ?? "UNKNOWN",
        ...Object.fromEntries(Object.entries(optional).filter(([, value]) => value !== undefined)),
    };
}

/** The task ARN of a `RunTask` answer, or the reasons ECS gave for placing none. */
export function startedTask(runTaskOutput: RunTaskResponse): { taskArn: string } | { failure: string } {
    const taskArn = runTaskOutput.tasks?.[0]?.taskArn;
    if (taskArn !== undefined) return { taskArn };
    const reasons = (runTaskOutput.failures ?? []).map((f) => {
        const reason = f.reason ?? "unknown reason";
        return f.detail !== undefined ? `${reason} (${f.detail})` : reason;
    });
    return { failure: reasons.length > 0 ? reasons.join("; ") : "no task and no failure reported" };
}

/** What the operator reads when the container did not exit 0. */
export function failureMessage(taskArn: string, container: string, state: TaskState): string {
    const ran =
        state.exitCode !== undefined
            ? `container \`${container}\` exited ${state.exitCode}`
            : `container \`${container}\` has no exit code (it did not run)`;
    const reasons = [
        `stop reason: ${state.stoppedReason ?? "none given"}`,
        ...(state.containerReason !== undefined ? [`container reason: ${state.containerReason}`] : []),
    ];
    return `task ${taskArn} failed: ${ran}; ${reasons.join("; ")}`;
}

/** Log events as lines, each message's own line breaks kept. */
export function logLines(getLogEventsOutput: GetLogEventsResponse): string[] {
    return (getLogEventsOutput.events ?? [])
        .map((event) => event.message ?? "")
        .flatMap((message) => message.replace(/\r?\n$/, "").split(/\r?\n/));
}
