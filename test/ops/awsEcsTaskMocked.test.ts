import { strict as assert } from "assert";
import { DescribeTasksCommand, RunTaskCommand, StopTaskCommand } from "@aws-sdk/client-ecs";
import { runOps, SECRET_ENV, secretsLeaked } from "../support/opsRun";
import {
    CLUSTER,
    ecsTaskArgs,
    exited,
    fakeAws,
    Fakes,
    FAMILY,
    LOG_GROUP,
    MOCK_ENV,
    RUNNING,
    stable,
    STREAM,
    summary,
    TASK,
    TASK_DEF,
    TASK_ID,
} from "../support/ecsTaskFakes";

const BACKUP = ["node", "ops/bin/safe-release-ops.js", "backup", "--app", "shop", "--store", "s3://acme-backups/shop"];

describe("ecs-task where moto cannot answer (aws-sdk-client-mock): exit codes, a task that never starts or never stops, RunTask placing nothing, DescribeTasks failing", () => {
    let aws: Fakes;
    beforeEach(() => (aws = fakeAws()));
    afterEach(() => aws.restore());

    it("streams the log while the task runs and, when the container exits 3, repeats its last 20 lines and says what to do", async () => {
        const lines = Array.from({ length: 25 }, (_, i) => `backup: step ${String(i + 1).padStart(2, "0")}`);
        aws.describe((call) => {
            // Lines reach the stream between polls: 12 while the first poll reports RUNNING, the rest before the second.
            if (call === 0) aws.stream.messages.push(...lines.slice(0, 12));
            if (call === 1) aws.stream.messages.push(...lines.slice(12));
            return call < 2 ? RUNNING : exited(3);
        });
        const run = await runOps(ecsTaskArgs([], BACKUP), MOCK_ENV);
        assert.equal(run.code, 1);
        assert.deepEqual(summary(run.stdout), {
            taskArn: TASK,
            exitCode: 3,
            stopCode: "EssentialContainerExited",
            stoppedReason: "Essential container in task exited",
            timedOut: false,
        });
        assert.equal(
            stable(run.stderr),
            [
                `started task ${TASK} (${TASK_DEF}, container \`runner\`: ${BACKUP.join(" ")})`,
                `task ${TASK_ID}: RUNNING (T)`,
                ...lines.slice(0, 12).map((line) => `| ${line}`),
                ...lines.slice(12).map((line) => `| ${line}`),
                `task ${TASK_ID}: STOPPED (T)`,
                `task ${TASK} failed: container \`runner\` exited 3; stop reason: Essential container in task exited`,
                "its last 20 log lines:",
                ...lines.slice(5).map((line) => `| ${line}`),
                "next: read the log lines above, fix what they show, and run `pulumi up` again",
                "",
            ]
                .map((line) => (line === "" ? "" : `ecs-task: ${line}`))
                .join("\n"),
        );
        // Followed from the head with the forward token, 4 lines a page, in the task definition's group and stream;
        // at the stop and once more after it, to the end.
        const inputs = aws.stream.inputs;
        assert.deepEqual(inputs[0], { logGroupName: LOG_GROUP, logStreamName: STREAM, startFromHead: true });
        assert.deepEqual(
            inputs.map((input) => input.nextToken ?? "-"),
            ["-", "f/4", "f/8", "f/12", "f/12", "f/16", "f/20", "f/24", "f/25", "f/25", "f/25"],
        );
        assert.deepEqual(secretsLeaked(run), []);
    });

    it("says a task ECS stopped before it started never ran, changed nothing, and why that usually is", async () => {
        aws.stream.exists = false;
        const reason = "CannotPullContainerError: pull image manifest has been retried 5 time(s)";
        aws.describe((call) =>
            call === 0
                ? { lastStatus: "PENDING" }
                : {
                      lastStatus: "STOPPED",
                      containers: [{ name: "runner", reason }],
                      stopCode: "TaskFailedToStart",
                      stoppedReason: "Task failed to start",
                  },
        );
        const run = await runOps(ecsTaskArgs([], BACKUP), MOCK_ENV);
        assert.equal(run.code, 1);
        assert.deepEqual(summary(run.stdout), {
            taskArn: TASK,
            exitCode: null,
            stopCode: "TaskFailedToStart",
            stoppedReason: "Task failed to start",
            containerReason: reason,
            timedOut: false,
        });
        assert.ok(
            run.stderr.endsWith(
                [
                    `ecs-task: task ${TASK} failed: container \`runner\` has no exit code (it did not run); stop reason: Task failed to start; container reason: ${reason}`,
                    `ecs-task: task ${TASK} never ran, so nothing was changed by it: ECS stopped it before its container started`,
                    `ecs-task: no log lines were read from ${LOG_GROUP} ${STREAM}: CloudWatch Logs GetLogEvents of ${LOG_GROUP} ${STREAM} failed: ResourceNotFoundException: The specified log stream does not exist.`,
                    "ecs-task: likely causes: the image digest is not in ECR; the subnets have no route to ECR, S3, CloudWatch Logs and Secrets Manager " +
                        "(a NAT gateway, or VPC endpoints for ecr.api, ecr.dkr, s3, logs and secretsmanager); a secret of the task definition that the " +
                        "execution role cannot read. The stop and container reasons above say which",
                    "ecs-task: next: fix that and run `pulumi up` again",
                    "",
                ].join("\n"),
            ),
            run.stderr,
        );
    });

    it("does not call a task that ran and lost its exit code 'never ran'", async () => {
        aws.describe(() => ({
            ...RUNNING,
            lastStatus: "STOPPED",
            stopCode: "SpotInterruption",
            stoppedReason: "Your Spot Task was interrupted.",
        }));
        const run = await runOps(ecsTaskArgs([], BACKUP), MOCK_ENV);
        assert.equal(run.code, 1);
        assert.match(run.stderr, /ecs-task: it ran, but ECS reports no exit code for it, so its outcome is unknown\n/);
        assert.ok(
            run.stderr.endsWith(
                "ecs-task: next: the backup may be incomplete: do not restore from it; `pulumi up` again takes a fresh one\n",
            ),
        );
        assert.doesNotMatch(run.stderr, /never ran/);
    });

    it("past --timeout: calls StopTask, waits a bounded time for STOPPED, prints the last lines and what to check", async () => {
        aws.stream.messages.push("backup: pg_dump of shop started");
        aws.describe(() => RUNNING);
        const run = await runOps(ecsTaskArgs(["--timeout", "200ms"], BACKUP), MOCK_ENV);
        assert.equal(run.code, 1);
        assert.deepEqual(summary(run.stdout), { taskArn: TASK, exitCode: null, timedOut: true });
        assert.deepEqual(
            aws.ecs.commandCalls(StopTaskCommand).map((call) => call.args[0].input),
            [{ cluster: CLUSTER, task: TASK, reason: "safe-release-ops ecs-task: --timeout 200ms exceeded" }],
        );
        assert.ok(
            stable(run.stderr).endsWith(
                [
                    `ecs-task: stopping task ${TASK}: --timeout 200ms exceeded`,
                    `ecs-task: task ${TASK} was not STOPPED 200ms after StopTask: see it with \`aws ecs describe-tasks --cluster prod --tasks ${TASK}\``,
                    `ecs-task: task ${TASK} did not stop within 200ms (\`--timeout\`); it was stopped and its outcome is unknown`,
                    "ecs-task: its last 1 log line:",
                    "ecs-task: | backup: pg_dump of shop started",
                    "ecs-task: next: the backup may be incomplete: do not restore from it; `pulumi up` again takes a fresh one",
                    "",
                ].join("\n"),
            ),
            run.stderr,
        );
    });

    it("stops the task when its status cannot be read three times in a row, and tolerates fewer", async () => {
        const throttled = Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" });
        aws.ecs
            .on(DescribeTasksCommand)
            .rejectsOnce(throttled)
            .rejectsOnce(throttled)
            .resolves({ tasks: [{ taskArn: TASK, ...exited(0) }] });
        assert.equal((await runOps(ecsTaskArgs([], BACKUP), MOCK_ENV)).code, 0);

        aws.ecs.on(DescribeTasksCommand).rejects(throttled);
        const run = await runOps(ecsTaskArgs([], BACKUP), MOCK_ENV);
        assert.equal(run.code, 1);
        assert.deepEqual(aws.ecs.commandCalls(StopTaskCommand)[0].args[0].input, {
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
                [
                    `ecs-task: could not follow task ${TASK} (3 failed \`DescribeTasks\` calls); it was stopped and its outcome is unknown`,
                    `ecs-task: no log lines were read from ${LOG_GROUP} ${STREAM}`,
                    "ecs-task: next: the backup may be incomplete: do not restore from it; `pulumi up` again takes a fresh one",
                    "",
                ].join("\n"),
            ),
            run.stderr,
        );
    });

    it("reports ECS's reasons when RunTask places no task", async () => {
        aws.ecs.on(RunTaskCommand).resolves({
            tasks: [],
            failures: [
                {
                    arn: "arn:aws:ecs:eu-west-1:123456789012:container-instance/x",
                    reason: "RESOURCE:ENI",
                    detail: "no ENI left in subnet-0a1b2c3d",
                },
            ],
        });
        const run = await runOps(ecsTaskArgs([], BACKUP), MOCK_ENV);
        assert.equal(run.code, 1);
        assert.equal(aws.ecs.commandCalls(DescribeTasksCommand).length, 0);
        assert.equal(
            run.stderr,
            `ecs-task: ECS started no task of ${TASK_DEF}: RESOURCE:ENI (no ENI left in subnet-0a1b2c3d); nothing ran\n`,
        );
    });

    it("reports a refused call in one line, with an echoed secret scrubbed", async () => {
        aws.ecs
            .on(RunTaskCommand)
            .rejects(
                Object.assign(new Error(`signature for ${SECRET_ENV.AWS_SECRET_ACCESS_KEY} rejected`), { name: "AccessDeniedException" }),
            );
        const run = await runOps(ecsTaskArgs([], BACKUP), MOCK_ENV);
        assert.equal(run.code, 1);
        assert.equal(run.stderr, `ecs-task: ECS RunTask of ${TASK_DEF} failed: AccessDeniedException: signature for *** rejected\n`);
        assert.deepEqual(secretsLeaked(run), []);
    });

    it("refuses a --mask-env name that is not set, before any AWS call", async () => {
        const run = await runOps(ecsTaskArgs(["--mask-env", "DATABASE_URL,SMOKE_OPERATOR_TOKEN"], BACKUP), MOCK_ENV);
        assert.equal(run.code, 2);
        assert.match(run.stderr, /^ecs-task: `--mask-env` names `SMOKE_OPERATOR_TOKEN`, not set in ecs-task's environment: /);
        assert.equal(aws.ecs.calls().length, 0);
    });

    it("with --ops-result, starts nothing when the container does not log through awslogs", async () => {
        aws.restore();
        aws = fakeAws({ awslogs: false });
        const run = await runOps(ecsTaskArgs(["--ops-result"], BACKUP), MOCK_ENV);
        assert.equal(run.code, 1);
        assert.equal(
            run.stderr,
            "ecs-task: `--ops-result` reads the program's result from the container's awslogs stream, but container `runner` does not log through awslogs; nothing ran\n",
        );
        assert.equal(aws.ecs.commandCalls(RunTaskCommand).length, 0);
        assert.deepEqual(aws.ecs.calls()[0].args[0].input, { taskDefinition: FAMILY });
    });
});
