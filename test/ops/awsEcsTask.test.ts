import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as path from "path";
import { fakeAws, FakeResponse, FakeRule, runOps, SECRET_ENV, secretsLeaked } from "../support/fakeAws";

const CLUSTER = "arn:aws:ecs:eu-west-1:123456789012:cluster/prod";
const TASK_DEF = "arn:aws:ecs:eu-west-1:123456789012:task-definition/shop-v1-6-0:7";
const TASK = "arn:aws:ecs:eu-west-1:123456789012:task/prod/0f1e2d3c4b5a69788796a5b4c3d2e1f0";
const TASK_ID = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
const NETWORK =
    '{"awsvpcConfiguration":{"subnets":["subnet-0a1b2c3d","subnet-0e1f2a3b"],"securityGroups":["sg-0123abcd"],"assignPublicIp":"DISABLED"}}';
const OVERRIDES = '{"containerOverrides":[{"name":"app","command":["python","manage.py","migrate","--noinput"]}]}';

const ARGS = [
    "ecs-task",
    "--cluster",
    CLUSTER,
    "--task-definition",
    "shop-v1-6-0",
    "--container",
    "app",
    "--subnets",
    "subnet-0a1b2c3d,subnet-0e1f2a3b",
    "--security-groups",
    "sg-0123abcd",
    "--poll",
    "20ms",
    "--",
    "python",
    "manage.py",
    "migrate",
    "--noinput",
];

function taskDefinition(logRegion = "eu-west-1"): FakeResponse {
    return {
        json: {
            taskDefinition: {
                taskDefinitionArn: TASK_DEF,
                containerDefinitions: [
                    { name: "sidecar" },
                    {
                        name: "app",
                        logConfiguration: {
                            logDriver: "awslogs",
                            options: {
                                "awslogs-group": "/safe-release/shop",
                                "awslogs-region": logRegion,
                                "awslogs-stream-prefix": "app/v1.6.0",
                            },
                        },
                    },
                ],
            },
        },
    };
}

function task(lastStatus: string, container: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): FakeResponse {
    return {
        json: {
            tasks: [
                {
                    taskArn: TASK,
                    lastStatus,
                    containers: [
                        { name: "sidecar", exitCode: 0 },
                        { name: "app", ...container },
                    ],
                    ...extra,
                },
            ],
            failures: [],
        },
    };
}

const STOPPED = { stopCode: "EssentialContainerExited", stoppedReason: "Essential container in task exited" };
const LOG_EVENTS: FakeResponse = {
    json: {
        events: [
            { timestamp: 1, message: "Applying shop.0042_add_index... OK\n" },
            { timestamp: 2, message: "line one\nline two" },
        ],
    },
};

function scenario(describeTasks: FakeResponse[], overrides: Partial<Record<string, FakeResponse[]>> = {}): FakeRule[] {
    return [
        { command: "ecs describe-task-definition", responses: overrides["describe-task-definition"] ?? [taskDefinition()] },
        {
            command: "ecs run-task",
            responses: overrides["run-task"] ?? [{ json: { tasks: [{ taskArn: TASK, lastStatus: "PROVISIONING" }], failures: [] } }],
        },
        { command: "ecs describe-tasks", responses: describeTasks },
        { command: "ecs stop-task", responses: [{ json: { task: { taskArn: TASK } } }] },
        { command: "logs get-log-events", responses: overrides["get-log-events"] ?? [LOG_EVENTS] },
    ];
}

const DESCRIBE_TASK_DEF = ["ecs", "describe-task-definition", "--task-definition", "shop-v1-6-0"];
const RUN_TASK = [
    "ecs",
    "run-task",
    "--cluster",
    CLUSTER,
    "--task-definition",
    TASK_DEF,
    "--launch-type",
    "FARGATE",
    "--count",
    "1",
    "--started-by",
    "safe-release-ops",
    "--network-configuration",
    NETWORK,
    "--overrides",
    OVERRIDES,
];
const DESCRIBE_TASKS = ["ecs", "describe-tasks", "--cluster", CLUSTER, "--tasks", TASK];
const GET_LOGS = [
    "logs",
    "get-log-events",
    "--log-group-name",
    "/safe-release/shop",
    "--log-stream-name",
    `app/v1.6.0/app/${TASK_ID}`,
    "--limit",
    "50",
    "--no-start-from-head",
];

/** Elapsed times vary with the machine; everything else in a progress line is exact. */
function stable(stderr: string): string {
    return stderr.replace(/\(\d+(m\d\d)?s\)/g, "(T)").replace(/after \d+(m\d\d)?s/g, "after T");
}

function result(stdout: string): Record<string, unknown> {
    const parsed = JSON.parse(stdout);
    assert.equal(typeof parsed.elapsedMs, "number");
    delete parsed.elapsedMs;
    return parsed;
}

describe("ecs-task against a fake aws CLI", () => {
    it("runs the task, follows it PENDING → RUNNING → STOPPED, prints the log tail and exits 0", async () => {
        const fake = await fakeAws(scenario([task("PENDING"), task("RUNNING"), task("STOPPED", { exitCode: 0 }, STOPPED)]));
        const run = await runOps(fake, ARGS);
        assert.equal(run.code, 0, run.stderr);
        assert.deepEqual(fake.argvs(), [DESCRIBE_TASK_DEF, RUN_TASK, DESCRIBE_TASKS, DESCRIBE_TASKS, DESCRIBE_TASKS, GET_LOGS]);
        assert.deepEqual(result(run.stdout), {
            taskArn: TASK,
            exitCode: 0,
            stopCode: "EssentialContainerExited",
            stoppedReason: "Essential container in task exited",
            timedOut: false,
        });
        assert.equal(
            stable(run.stderr),
            [
                `ecs-task: started task ${TASK} (${TASK_DEF}, container \`app\`: python manage.py migrate --noinput)`,
                `ecs-task: task ${TASK_ID}: PENDING (T)`,
                `ecs-task: task ${TASK_ID}: RUNNING (T)`,
                `ecs-task: task ${TASK_ID}: STOPPED (T)`,
                `ecs-task: last 3 log lines of /safe-release/shop app/v1.6.0/app/${TASK_ID}:`,
                "ecs-task: | Applying shop.0042_add_index... OK",
                "ecs-task: | line one",
                "ecs-task: | line two",
                `ecs-task: task ${TASK_ID}: container \`app\` exited 0 after T`,
                "",
            ].join("\n"),
        );
        // Region and profile reach the CLI through its environment, and the pager is off.
        assert.deepEqual(
            fake.calls().map((c) => c.env),
            Array(6).fill({ AWS_REGION: "eu-west-1", AWS_PROFILE: "ops", AWS_PAGER: "" }),
        );
        assert.deepEqual(secretsLeaked(fake, run), []);
    });

    it("exits 1 naming the task, exit code and stop reason when the container exits 3", async () => {
        const fake = await fakeAws(scenario([task("RUNNING"), task("STOPPED", { exitCode: 3 }, STOPPED)]));
        const run = await runOps(fake, ARGS);
        assert.equal(run.code, 1);
        assert.deepEqual(fake.argvs(), [DESCRIBE_TASK_DEF, RUN_TASK, DESCRIBE_TASKS, DESCRIBE_TASKS, GET_LOGS]);
        assert.equal(result(run.stdout).exitCode, 3);
        assert.ok(
            run.stderr.endsWith(
                `ecs-task: task ${TASK} failed: container \`app\` exited 3; stop reason: Essential container in task exited\n`,
            ),
            run.stderr,
        );
    });

    it("fails a task whose container never ran, with the task's and the container's reasons", async () => {
        const fake = await fakeAws(
            scenario(
                [
                    task(
                        "STOPPED",
                        { reason: "CannotPullContainerError: pull image manifest has been retried 5 time(s)" },
                        {
                            stopCode: "TaskFailedToStart",
                            stoppedReason: "Task failed to start",
                        },
                    ),
                ],
                {
                    "get-log-events": [
                        {
                            exit: 254,
                            stderr: "\nAn error occurred (ResourceNotFoundException) when calling the GetLogEvents operation: The specified log stream does not exist.\n",
                        },
                    ],
                },
            ),
        );
        const run = await runOps(fake, ARGS);
        assert.equal(run.code, 1);
        assert.deepEqual(result(run.stdout), {
            taskArn: TASK,
            exitCode: null,
            stopCode: "TaskFailedToStart",
            stoppedReason: "Task failed to start",
            containerReason: "CannotPullContainerError: pull image manifest has been retried 5 time(s)",
            timedOut: false,
        });
        assert.ok(
            run.stderr.includes(
                "ecs-task: no log tail: aws logs get-log-events failed (exit 254): An error occurred (ResourceNotFoundException) when calling the GetLogEvents operation: The specified log stream does not exist.\n",
            ),
            run.stderr,
        );
        assert.ok(
            run.stderr.endsWith(
                `ecs-task: task ${TASK} failed: container \`app\` has no exit code (it did not run); stop reason: Task failed to start; ` +
                    "container reason: CannotPullContainerError: pull image manifest has been retried 5 time(s)\n",
            ),
            run.stderr,
        );
    });

    it("stops the task with stop-task and fails when it outlives --timeout", async () => {
        const fake = await fakeAws(scenario([task("RUNNING")]));
        const run = await runOps(fake, [...ARGS.slice(0, ARGS.indexOf("--")), "--timeout", "150ms", ...ARGS.slice(ARGS.indexOf("--"))]);
        assert.equal(run.code, 1);
        const calls = fake.argvs();
        const stopAt = calls.findIndex((argv) => argv[1] === "stop-task");
        assert.ok(stopAt >= 3, JSON.stringify(calls));
        assert.deepEqual(calls.slice(0, 3), [DESCRIBE_TASK_DEF, RUN_TASK, DESCRIBE_TASKS]);
        assert.deepEqual(calls.slice(2, stopAt), Array(stopAt - 2).fill(DESCRIBE_TASKS));
        assert.deepEqual(calls.slice(stopAt), [
            ["ecs", "stop-task", "--cluster", CLUSTER, "--task", TASK, "--reason", "safe-release-ops ecs-task: --timeout 150ms exceeded"],
            GET_LOGS,
        ]);
        assert.deepEqual(result(run.stdout), { taskArn: TASK, exitCode: null, timedOut: true });
        assert.ok(run.stderr.includes(`ecs-task: stopping task ${TASK}: --timeout 150ms exceeded\n`), run.stderr);
        assert.ok(
            run.stderr.endsWith(
                `ecs-task: task ${TASK} did not stop within 150ms (\`--timeout\`); it was stopped and its outcome is unknown\n`,
            ),
            run.stderr,
        );
    });

    it("stops the task when its status cannot be read three times in a row, and tolerates fewer", async () => {
        const throttled: FakeResponse = {
            exit: 254,
            stderr: "An error occurred (ThrottlingException) when calling the DescribeTasks operation: Rate exceeded\n",
        };
        const recovered = await fakeAws(scenario([throttled, throttled, task("STOPPED", { exitCode: 0 }, STOPPED)]));
        assert.equal((await runOps(recovered, ARGS)).code, 0);

        const fake = await fakeAws(scenario([throttled]));
        const run = await runOps(fake, ARGS);
        assert.equal(run.code, 1);
        assert.deepEqual(fake.argvs(), [
            DESCRIBE_TASK_DEF,
            RUN_TASK,
            DESCRIBE_TASKS,
            DESCRIBE_TASKS,
            DESCRIBE_TASKS,
            [
                "ecs",
                "stop-task",
                "--cluster",
                CLUSTER,
                "--task",
                TASK,
                "--reason",
                "safe-release-ops ecs-task: its status could not be read",
            ],
            GET_LOGS,
        ]);
        assert.ok(
            run.stderr.includes(
                "ecs-task: aws ecs describe-tasks failed (exit 254): An error occurred (ThrottlingException) when calling the DescribeTasks operation: Rate exceeded (3 of 3 in a row)\n",
            ),
            run.stderr,
        );
        assert.ok(
            run.stderr.endsWith(
                `ecs-task: could not follow task ${TASK} (3 failed \`aws ecs describe-tasks\` calls); it was stopped and its outcome is unknown\n`,
            ),
            run.stderr,
        );
    });

    it("reads the log tail in the log group's own region", async () => {
        const fake = await fakeAws(
            scenario([task("STOPPED", { exitCode: 0 }, STOPPED)], { "describe-task-definition": [taskDefinition("us-east-1")] }),
        );
        assert.equal((await runOps(fake, ARGS)).code, 0);
        assert.deepEqual(
            fake.calls().map((c) => c.env.AWS_REGION),
            ["eu-west-1", "eu-west-1", "eu-west-1", "us-east-1"],
        );
    });

    it("starts nothing when the container is not in the task definition", async () => {
        const fake = await fakeAws(scenario([task("STOPPED")]));
        const run = await runOps(
            fake,
            ARGS.map((arg) => (arg === "app" ? "web" : arg)),
        );
        assert.equal(run.code, 1);
        assert.deepEqual(fake.argvs(), [DESCRIBE_TASK_DEF]);
        assert.equal(run.stdout, "");
        assert.equal(
            run.stderr,
            `ecs-task: \`--container\` must name a container of ${TASK_DEF} (sidecar, app); got \`web\`; nothing ran\n`,
        );
    });

    it("reports ECS's reasons when run-task places no task", async () => {
        const fake = await fakeAws(
            scenario([], {
                "run-task": [
                    {
                        json: {
                            tasks: [],
                            failures: [
                                {
                                    arn: "arn:aws:ecs:eu-west-1:123456789012:container-instance/x",
                                    reason: "RESOURCE:ENI",
                                    detail: "no ENI left in subnet-0a1b2c3d",
                                },
                            ],
                        },
                    },
                ],
            }),
        );
        const run = await runOps(fake, ARGS);
        assert.equal(run.code, 1);
        assert.deepEqual(fake.argvs(), [DESCRIBE_TASK_DEF, RUN_TASK]);
        assert.equal(
            run.stderr,
            `ecs-task: ECS started no task of ${TASK_DEF}: RESOURCE:ENI (no ENI left in subnet-0a1b2c3d); nothing ran\n`,
        );
    });

    it("reports a refused call in one line, with an echoed secret scrubbed", async () => {
        const fake = await fakeAws(
            scenario([], {
                "describe-task-definition": [
                    {
                        exit: 254,
                        stderr: `\nAn error occurred (AccessDeniedException) when calling the DescribeTaskDefinition operation: signature for ${SECRET_ENV.AWS_SECRET_ACCESS_KEY} rejected\n`,
                    },
                ],
            }),
        );
        const run = await runOps(fake, ARGS);
        assert.equal(run.code, 1);
        assert.equal(
            run.stderr,
            "ecs-task: aws ecs describe-task-definition failed (exit 254): An error occurred (AccessDeniedException) when calling the DescribeTaskDefinition operation: signature for *** rejected\n",
        );
        assert.deepEqual(secretsLeaked(fake, run), []);
    });

    it("names SAFE_RELEASE_AWS_CLI when the CLI is missing", async () => {
        const fake = await fakeAws([]);
        const run = await runOps(fake, ARGS, { SAFE_RELEASE_AWS_CLI: "/nonexistent/aws" });
        assert.equal(run.code, 1);
        assert.equal(
            run.stderr,
            "ecs-task: aws ecs describe-task-definition: the AWS CLI v2 (`/nonexistent/aws`) was not found; install it or set `SAFE_RELEASE_AWS_CLI` to its path\n",
        );
    });

    it("exits 2 on bad arguments without calling aws", async () => {
        const fake = await fakeAws([]);
        const run = await runOps(fake, [
            "ecs-task",
            "--cluster",
            CLUSTER,
            "--task-definition",
            "shop",
            "--container",
            "app",
            "--subnets",
            "subnet-0a1b2c3d",
            "--security-groups",
            "default",
            "--",
            "x",
        ]);
        assert.equal(run.code, 2);
        assert.equal(
            run.stderr,
            "ecs-task: `--security-groups` must be a comma-separated list of ids like sg-0123abcd; got `default` in `default`\n",
        );
        assert.deepEqual(fake.calls(), []);
    });

    it("gives the container's outcome as the process exit status through the ops binary", async function () {
        this.timeout(30_000);
        const fake = await fakeAws(scenario([task("STOPPED", { exitCode: 3 }, STOPPED)]));
        const bin = path.join(__dirname, "..", "..", "ops", "bin", "safe-release-ops.js");
        const child = spawnSync(process.execPath, [bin, ...ARGS], {
            env: { PATH: process.env.PATH, SAFE_RELEASE_AWS_CLI: fake.program, AWS_REGION: "eu-west-1", ...SECRET_ENV },
            encoding: "utf8",
        });
        assert.equal(child.status, 1, child.stderr);
        assert.ok(
            child.stderr.endsWith(
                `ecs-task: task ${TASK} failed: container \`app\` exited 3; stop reason: Essential container in task exited\n`,
            ),
            child.stderr,
        );
    });
});
