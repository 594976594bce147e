import { strict as assert } from "assert";
import { CloudWatchLogsClient, GetLogEventsCommand, GetLogEventsCommandInput } from "@aws-sdk/client-cloudwatch-logs";
import { DescribeTaskDefinitionCommand, DescribeTasksCommand, ECSClient, RunTaskCommand, StopTaskCommand, Task } from "@aws-sdk/client-ecs";
import { mockClient } from "aws-sdk-client-mock";
import { MOTO_CREDENTIALS, MOTO_REGION } from "./moto";
import { SECRET_ENV } from "./opsRun";

/** ECS and CloudWatch Logs answered by aws-sdk-client-mock, for what moto cannot do: exit codes, tasks that never start or never stop. */

export const CLUSTER = "prod";
export const FAMILY = "shop-runner-v1-6-0";
export const TASK_DEF = "arn:aws:ecs:eu-west-1:123456789012:task-definition/shop-runner-v1-6-0:7";
export const TASK_ID = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
export const TASK = `arn:aws:ecs:eu-west-1:123456789012:task/prod/${TASK_ID}`;
export const LOG_GROUP = "/safe-release/shop";
export const STREAM = `runner/v1.6.0/runner/${TASK_ID}`;
/** No endpoint is reached: every call is answered by the mock. */
export const MOCK_ENV = { PATH: process.env.PATH, AWS_REGION: MOTO_REGION, ...MOTO_CREDENTIALS, ...SECRET_ENV };

export function ecsTaskArgs(options: readonly string[], command: readonly string[]): string[] {
    return [
        ...["ecs-task", "--cluster", CLUSTER, "--task-definition", FAMILY, "--container", "runner"],
        ...["--subnets", "subnet-0a1b2c3d", "--security-groups", "sg-0123abcd", "--poll", "10ms", ...options, "--", ...command],
    ];
}

/** Elapsed times vary with the machine; everything else in a line is exact. */
export function stable(stderr: string): string {
    return stderr
        .replace(/\(\d+(m\d\d)?s\)/g, "(T)")
        .replace(/after \d+(m\d\d)?s/g, "after T")
        .replace(/STOPPED \d+(m\d\d)?s after/g, "STOPPED T after")
        .replace(/"elapsedMs":\d+/g, '"elapsedMs":N');
}

/** The wrapper's JSON summary with its elapsed time checked and removed. */
export function summary(json: string): Record<string, unknown> {
    const parsed = JSON.parse(json);
    assert.equal(typeof parsed.elapsedMs, "number");
    delete parsed.elapsedMs;
    return parsed;
}

/** One awslogs stream as GetLogEvents pages it from its head: token `f/<n>` comes after the first n events. */
export class FakeStream {
    readonly messages: string[] = [];
    exists = true;
    readonly inputs: GetLogEventsCommandInput[] = [];
    /** Called before each answer, with how many reads came before: a test adds lines "while the task runs". */
    beforeRead: (reads: number) => void = () => undefined;
    constructor(private readonly pageSize = 4) {}

    async answer(input: GetLogEventsCommandInput): Promise<object> {
        this.beforeRead(this.inputs.length);
        this.inputs.push(input);
        if (!this.exists) throw Object.assign(new Error("The specified log stream does not exist."), { name: "ResourceNotFoundException" });
        const from = input.nextToken !== undefined ? Number(input.nextToken.slice(2)) : 0;
        const page = this.messages.slice(from, from + this.pageSize);
        return {
            events: page.map((message, i) => ({ timestamp: 1_700_000_000_000 + from + i, message: `${message}\n` })),
            nextForwardToken: `f/${from + page.length}`,
            nextBackwardToken: "b/0",
        };
    }
}

export interface Fakes {
    readonly ecs: ReturnType<typeof mockClient>;
    readonly logs: ReturnType<typeof mockClient>;
    readonly stream: FakeStream;
    /** The task as each DescribeTasks answers it: `script(n)` for the n-th call (0-based), `stopped` once StopTask was called. */
    describe(script: (call: number, stopped: boolean) => Partial<Task>): void;
    restore(): void;
}

/** A runner task definition whose container logs through awslogs (or not), RunTask starting `TASK`. */
export function fakeAws(options: { awslogs?: boolean; pageSize?: number } = {}): Fakes {
    const ecs = mockClient(ECSClient);
    const logs = mockClient(CloudWatchLogsClient);
    const stream = new FakeStream(options.pageSize);
    logs.on(GetLogEventsCommand).callsFake((input: GetLogEventsCommandInput) => stream.answer(input));
    const logConfiguration =
        options.awslogs === false
            ? undefined
            : { logDriver: "awslogs" as const, options: { "awslogs-group": LOG_GROUP, "awslogs-stream-prefix": "runner/v1.6.0" } };
    ecs.on(DescribeTaskDefinitionCommand).resolves({
        taskDefinition: { taskDefinitionArn: TASK_DEF, containerDefinitions: [{ name: "runner", logConfiguration }] },
    });
    ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn: TASK, lastStatus: "PROVISIONING" }], failures: [] });
    let stopped = false;
    ecs.on(StopTaskCommand).callsFake(async () => {
        stopped = true;
        return { task: { taskArn: TASK } };
    });
    let calls = 0;
    return {
        ecs,
        logs,
        stream,
        describe: (script) => {
            ecs.on(DescribeTasksCommand).callsFake(async () => ({ tasks: [{ taskArn: TASK, ...script(calls++, stopped) }] }));
        },
        restore: () => {
            ecs.restore();
            logs.restore();
        },
    };
}

export const RUNNING: Partial<Task> = { lastStatus: "RUNNING", startedAt: new Date(1_700_000_000_000) };

export function exited(exitCode: number): Partial<Task> {
    return {
        ...RUNNING,
        lastStatus: "STOPPED",
        stopCode: "EssentialContainerExited",
        stoppedReason: "Essential container in task exited",
        containers: [{ name: "runner", exitCode }],
    };
}
