import { strict as assert } from "assert";
import { CloudWatchLogsClient, GetLogEventsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { DescribeTaskDefinitionCommand, DescribeTasksCommand, ECSClient, RunTaskCommand, StopTaskCommand } from "@aws-sdk/client-ecs";
import { mockClient } from "aws-sdk-client-mock";
import { MOTO_CREDENTIALS, MOTO_REGION } from "../support/moto";
import { runOps, SECRET_ENV, secretsLeaked } from "../support/opsRun";

const CLUSTER = "prod";
const FAMILY = "shop-v1-6-0";
/** No endpoint is reached: every ECS and CloudWatch Logs call is answered by the mock. */
const env = { PATH: process.env.PATH, AWS_REGION: MOTO_REGION, ...MOTO_CREDENTIALS, ...SECRET_ENV };

function result(stdout: string): Record<string, unknown> {
    const parsed = JSON.parse(stdout);
    assert.equal(typeof parsed.elapsedMs, "number");
    delete parsed.elapsedMs;
    return parsed;
}

describe("ecs-task where moto cannot answer (aws-sdk-client-mock): a container that exits non-zero or never ran, RunTask placing nothing, DescribeTasks failing", () => {
    const TASK_DEF = "arn:aws:ecs:eu-west-1:123456789012:task-definition/shop-v1-6-0:7";
    const TASK = "arn:aws:ecs:eu-west-1:123456789012:task/prod/0f1e2d3c4b5a69788796a5b4c3d2e1f0";
    const MOCK_ARGS = ["ecs-task", "--cluster", CLUSTER, "--task-definition", FAMILY, "--container", "app"];
    MOCK_ARGS.push("--subnets", "subnet-0a1b2c3d", "--security-groups", "sg-0123abcd", "--poll", "20ms", "--", "migrate");
    const STOPPED = { stopCode: "EssentialContainerExited" as const, stoppedReason: "Essential container in task exited" };

    let mock: ReturnType<typeof mockClient>;
    let logsMock: ReturnType<typeof mockClient>;
    beforeEach(() => {
        mock = mockClient(ECSClient);
        logsMock = mockClient(CloudWatchLogsClient);
        logsMock.on(GetLogEventsCommand).resolves({ events: [] });
        mock.on(DescribeTaskDefinitionCommand).resolves({
            taskDefinition: { taskDefinitionArn: TASK_DEF, containerDefinitions: [{ name: "app" }] },
        });
        mock.on(RunTaskCommand).resolves({ tasks: [{ taskArn: TASK, lastStatus: "PROVISIONING" }], failures: [] });
        mock.on(StopTaskCommand).resolves({ task: { taskArn: TASK } });
    });
    afterEach(() => {
        mock.restore();
        logsMock.restore();
    });

    it("exits 1 naming the task, exit code and stop reason when the container exits 3", async () => {
        mock.on(DescribeTasksCommand).resolves({
            tasks: [{ taskArn: TASK, lastStatus: "STOPPED", containers: [{ name: "app", exitCode: 3 }], ...STOPPED }],
        });
        const run = await runOps(MOCK_ARGS, env);
        assert.equal(run.code, 1);
        assert.deepEqual(result(run.stdout), { taskArn: TASK, exitCode: 3, ...STOPPED, timedOut: false });
        assert.ok(
            run.stderr.endsWith(
                `ecs-task: task ${TASK} failed: container \`app\` exited 3; stop reason: Essential container in task exited\n`,
            ),
            run.stderr,
        );
    });

    it("fails a task whose container never ran, with the task's and the container's reasons", async () => {
        const reason = "CannotPullContainerError: pull image manifest has been retried 5 time(s)";
        mock.on(DescribeTasksCommand).resolves({
            tasks: [
                {
                    taskArn: TASK,
                    lastStatus: "STOPPED",
                    containers: [{ name: "app", reason }],
                    stopCode: "TaskFailedToStart",
                    stoppedReason: "Task failed to start",
                },
            ],
        });
        const run = await runOps(MOCK_ARGS, env);
        assert.equal(run.code, 1);
        assert.deepEqual(result(run.stdout), {
            taskArn: TASK,
            exitCode: null,
            stopCode: "TaskFailedToStart",
            stoppedReason: "Task failed to start",
            containerReason: reason,
            timedOut: false,
        });
        assert.ok(
            run.stderr.endsWith(
                `ecs-task: task ${TASK} failed: container \`app\` has no exit code (it did not run); stop reason: Task failed to start; ` +
                    `container reason: ${reason}\n`,
            ),
            run.stderr,
        );
    });

    it("stops the task when its status cannot be read three times in a row, and tolerates fewer", async () => {
        const throttled = Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" });
        mock.on(DescribeTasksCommand)
            .rejectsOnce(throttled)
            .rejectsOnce(throttled)
            .resolves({ tasks: [{ taskArn: TASK, lastStatus: "STOPPED", containers: [{ name: "app", exitCode: 0 }] }] });
        assert.equal((await runOps(MOCK_ARGS, env)).code, 0);

        mock.on(DescribeTasksCommand).rejects(throttled);
        const run = await runOps(MOCK_ARGS, env);
        assert.equal(run.code, 1);
        assert.deepEqual(mock.commandCalls(StopTaskCommand)[0].args[0].input, {
            cluster: CLUSTER,
            task: TASK,
            reason: "safe-release-ops ecs-task: its status could not be read",
        });
        assert.ok(
            run.stderr.includes(`ecs-task: ECS DescribeTasks of ${TASK} failed: ThrottlingException: Rate exceeded (3 of 3 in a row)\n`),
            run.stderr,
        );
        assert.ok(
            run.stderr.endsWith(
                `ecs-task: could not follow task ${TASK} (3 failed \`DescribeTasks\` calls); it was stopped and its outcome is unknown\n`,
            ),
            run.stderr,
        );
    });

    it("reports ECS's reasons when RunTask places no task", async () => {
        mock.on(RunTaskCommand).resolves({
            tasks: [],
            failures: [
                {
                    arn: "arn:aws:ecs:eu-west-1:123456789012:container-instance/x",
                    reason: "RESOURCE:ENI",
                    detail: "no ENI left in subnet-0a1b2c3d",
                },
            ],
        });
        const run = await runOps(MOCK_ARGS, env);
        assert.equal(run.code, 1);
        assert.equal(mock.commandCalls(DescribeTasksCommand).length, 0);
        assert.equal(
            run.stderr,
            `ecs-task: ECS started no task of ${TASK_DEF}: RESOURCE:ENI (no ENI left in subnet-0a1b2c3d); nothing ran\n`,
        );
    });

    it("reports a refused call in one line, with an echoed secret scrubbed", async () => {
        mock.on(DescribeTaskDefinitionCommand).rejects(
            Object.assign(new Error(`signature for ${SECRET_ENV.AWS_SECRET_ACCESS_KEY} rejected`), { name: "AccessDeniedException" }),
        );
        const run = await runOps(MOCK_ARGS, env);
        assert.equal(run.code, 1);
        assert.equal(
            run.stderr,
            `ecs-task: ECS DescribeTaskDefinition of \`${FAMILY}\` failed: AccessDeniedException: signature for *** rejected\n`,
        );
        assert.deepEqual(secretsLeaked(run), []);
    });
});
