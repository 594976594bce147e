import { UsageError } from "../command";
import { parseDuration, parseFlags, requireValue } from "../flags";
import { DescribeTaskDefinitionResponse, DescribeTasksResponse, RunTaskCommandInput, RunTaskResponse } from "@aws-sdk/client-ecs";
import { GetLogEventsResponse } from "@aws-sdk/client-cloudwatch-logs";

export const DEFAULT_TASK_TIMEOUT = "30m";
export const DEFAULT_POLL = "5s";
export const STARTED_BY = "safe-release-ops";
/** `RunTask` refuses overrides longer than this, counted as JSON (the formatting characters included). */
export const MAX_OVERRIDES_CHARS = 8192;

export interface EcsTaskRequest {
    readonly cluster: string;
    readonly taskDefinition: string;
    readonly container: string;
    readonly subnets: readonly string[];
    readonly securityGroups: readonly string[];
    readonly assignPublicIp: boolean;
    readonly timeoutMs: number;
    readonly pollMs: number;
    /** `--ops-result`: the command is a `safe-release-ops` program whose one JSON line is the run's stdout. */
    readonly opsResult: boolean;
    /** `--mask-env`: names of variables of this process whose values never appear in what it prints. */
    readonly maskEnv: readonly string[];
    /** The container's command for this one run. */
    readonly command: readonly string[];
}

const NAME_OR_ARN = /^[A-Za-z0-9][A-Za-z0-9_:/.-]{0,1599}$/;
const CONTAINER = /^[A-Za-z0-9_-]{1,255}$/;
const SUBNET = /^subnet-[0-9a-f]{8,17}$/;
const SECURITY_GROUP = /^sg-[0-9a-f]{8,17}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

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
        "ops-result": "switch",
        "mask-env": "value",
    });
    const container = requireValue(flags, "container", "the container whose command is overridden");
    if (!CONTAINER.test(container)) {
        throw new UsageError(`\`--container\` must be a container name of letters, digits, \`-\` or \`_\`; got \`${container}\``);
    }
    if (flags.rest.length === 0) {
        throw new UsageError("a command is required after `--`, e.g. `-- python manage.py migrate --noinput`");
    }
    const overrides = JSON.stringify(overridesOf(container, flags.rest)).length;
    if (overrides > MAX_OVERRIDES_CHARS) {
        throw new UsageError(
            `the command after \`--\` makes task overrides of ${overrides} characters, more than ECS's ${MAX_OVERRIDES_CHARS}: shorten it (a smoke list: fewer or shorter checks)`,
        );
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
        opsResult: flags.switches.has("ops-result"),
        maskEnv: parseEnvNames(flags.values.get("mask-env")),
        command: flags.rest,
    };
}

function parseEnvNames(text: string | undefined): string[] {
    if (text === undefined) return [];
    const names = text.split(",").map((name) => name.trim());
    const bad = names.find((name) => !ENV_NAME.test(name));
    if (bad !== undefined) {
        throw new UsageError(
            `\`--mask-env\` must be a comma-separated list of environment variable names like DATABASE_URL,SMOKE_OPERATOR_TOKEN; got \`${bad}\` in \`${text}\``,
        );
    }
    return [...new Set(names)];
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
        overrides: overridesOf(request.container, request.command),
    };
}

/** The task's overrides: the one container's command, nothing else. */
function overridesOf(container: string, command: readonly string[]): { containerOverrides: [{ name: string; command: string[] }] } {
    return { containerOverrides: [{ name: container, command: [...command] }] };
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
    /** When the task reached RUNNING; absent for a task ECS stopped before it ran. */
    readonly startedAt?: Date;
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
        startedAt: task.startedAt,
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
