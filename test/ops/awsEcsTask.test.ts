import { strict as assert } from "assert";
import { spawn } from "child_process";
import * as path from "path";
import { CloudWatchLogsClient, CreateLogGroupCommand, CreateLogStreamCommand, PutLogEventsCommand } from "@aws-sdk/client-cloudwatch-logs";
import {
    CreateClusterCommand,
    DescribeTasksCommand,
    ECSClient,
    ListTasksCommand,
    RegisterTaskDefinitionCommand,
    StopTaskCommand,
} from "@aws-sdk/client-ecs";
import { main } from "../../ops/cli";
import { awsClientConfig } from "../../core/awsClient";
import { defaultNetwork, startMoto, TestMoto } from "../support/moto";
import { Capture, OpsRun, runOps, SECRET_ENV, secretsLeaked } from "../support/opsRun";

const CLUSTER = "prod";
const FAMILY = "shop-v1-6-0";
const LOG_GROUP = "/safe-release/shop";
const COMMAND = ["python", "manage.py", "migrate", "--noinput"];
/** The awslogs region of the task definition, not the cluster's: ecs-task must read the stream there. */
const LOG_REGION = "us-east-1";
const OPS = ["node", "ops/bin/safe-release-ops.js"];

/** Elapsed times vary with the machine; everything else in a progress line is exact. */
function stable(stderr: string): string {
    return stderr
        .replace(/\(\d+(m\d\d)?s\)/g, "(T)")
        .replace(/(after|STOPPED) \d+(m\d\d)?s/g, "$1 T")
        .replace(/"elapsedMs":\d+/g, '"elapsedMs":N');
}

/** Runs `safe-release-ops <args>` in-process while the test watches its stderr grow. */
function startOps(args: string[], env: NodeJS.ProcessEnv): { stderr: Capture; done: Promise<OpsRun> } {
    const stdout = new Capture();
    const stderr = new Capture();
    const done = main(args, { env, stdout, stderr }).then((code) => ({ code, stdout: stdout.text, stderr: stderr.text }));
    return { stderr, done };
}

async function waitFor(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (!(await condition())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
    }
}

function result(stdout: string): Record<string, unknown> {
    const parsed = JSON.parse(stdout);
    assert.equal(typeof parsed.elapsedMs, "number");
    delete parsed.elapsedMs;
    return parsed;
}

describe("ecs-task against moto's ECS", function () {
    // moto and the SDK's first load take seconds of CPU on a busy machine; each wait below is bounded on its own.
    this.timeout(60_000);
    let moto: TestMoto;
    let ecs: ECSClient;
    let env: NodeJS.ProcessEnv;
    let logs: CloudWatchLogsClient;
    let definitionArn = "";
    let args: string[] = [];

    /** A task ecs-task started, once moto lists it. */
    async function startedTask(known: readonly string[]): Promise<string> {
        let arn: string | undefined;
        await waitFor(async () => {
            const listed = (await ecs.send(new ListTasksCommand({ cluster: CLUSTER }))).taskArns ?? [];
            arn = listed.find((candidate) => !known.includes(candidate));
            return arn !== undefined;
        }, "the task to be listed");
        return arn!;
    }

    async function listedTasks(): Promise<string[]> {
        return (await ecs.send(new ListTasksCommand({ cluster: CLUSTER }))).taskArns ?? [];
    }

    /** What the container "prints": moto runs no container, so the test writes its awslogs stream. */
    async function containerPrints(taskArn: string, lines: readonly string[], first = false): Promise<void> {
        const logStreamName = `app/v1.6.0/app/${taskArn.slice(taskArn.lastIndexOf("/") + 1)}`;
        if (first) await logs.send(new CreateLogStreamCommand({ logGroupName: LOG_GROUP, logStreamName }));
        const now = Date.now();
        const logEvents = lines.map((message, i) => ({ timestamp: now + i, message }));
        await logs.send(new PutLogEventsCommand({ logGroupName: LOG_GROUP, logStreamName, logEvents }));
    }

    /**
     * moto's own control API: by default a task advances one state per DescribeTasks
     * (RUNNING → DEACTIVATING → STOPPING → DEPROVISIONING → STOPPED); `stuck` keeps it RUNNING.
     */
    async function taskProgression(progression: "default" | "stuck"): Promise<void> {
        const set = progression === "stuck";
        const response = await fetch(`${moto.endpoint}/moto-api/state-manager/${set ? "set" : "unset"}-transition`, {
            method: "POST",
            body: JSON.stringify({ model_name: "ecs::task", ...(set ? { transition: { progression: "manual", times: 1_000_000 } } : {}) }),
            signal: AbortSignal.timeout(10_000),
        });
        assert.ok(response.ok, await response.text());
    }

    before(async () => {
        moto = await startMoto();
        ecs = new ECSClient(awsClientConfig(moto.env, "ECS"));
        env = { ...moto.env, ...SECRET_ENV };
        await ecs.send(new CreateClusterCommand({ clusterName: CLUSTER }));
        logs = new CloudWatchLogsClient(awsClientConfig(moto.env, "CLOUDWATCH_LOGS", LOG_REGION));
        await logs.send(new CreateLogGroupCommand({ logGroupName: LOG_GROUP }));
        const registered = await ecs.send(
            new RegisterTaskDefinitionCommand({
                family: FAMILY,
                requiresCompatibilities: ["FARGATE"],
                networkMode: "awsvpc",
                cpu: "256",
                memory: "512",
                containerDefinitions: [
                    // moto's RunTask needs each container's memory, and reports the first container only.
                    {
                        name: "app",
                        image: "registry.example/shop@sha256:" + "0".repeat(64),
                        memory: 256,
                        logConfiguration: {
                            logDriver: "awslogs",
                            options: { "awslogs-group": LOG_GROUP, "awslogs-region": LOG_REGION, "awslogs-stream-prefix": "app/v1.6.0" },
                        },
                    },
                    { name: "sidecar", image: "registry.example/proxy@sha256:" + "1".repeat(64), memory: 128 },
                ],
            }),
        );
        definitionArn = registered.taskDefinition!.taskDefinitionArn!;
        const { subnet, securityGroup } = await defaultNetwork(moto);
        args = ["ecs-task", "--cluster", CLUSTER, "--task-definition", FAMILY, "--container", "app", "--subnets", subnet];
        args.push("--security-groups", securityGroup, "--poll", "10ms", "--", ...COMMAND);
    });
    after(async () => {
        ecs?.destroy();
        logs?.destroy();
        await moto?.stop();
    });

    it("--ops-result: streams the container's lines while it runs, masked, and prints its JSON result as stdout", async () => {
        await taskProgression("stuck");
        try {
            const known = await listedTasks();
            const backup = [...OPS, "backup", "--app", "shop", "--store", "s3://acme-backups/shop"];
            const withResult = [...args.slice(0, args.indexOf("--")), "--ops-result", "--mask-env", "DATABASE_URL", "--", ...backup];
            const running = startOps(withResult, env);
            const taskArn = await startedTask(known);
            const id = taskArn.slice(taskArn.lastIndexOf("/") + 1);
            await containerPrints(taskArn, [`backup: connecting to ${SECRET_ENV.DATABASE_URL}`, "backup: pg_dump started"], true);
            // Printed while the task still runs: the operator sees a long backup's progress.
            await waitFor(() => running.stderr.text.includes("ecs-task: | backup: pg_dump started\n"), "the first lines on stderr");
            const [task] = (await ecs.send(new DescribeTasksCommand({ cluster: CLUSTER, tasks: [taskArn] }))).tasks!;
            assert.equal(task.lastStatus, "RUNNING");
            const result = `{"ok":true,"id":"shop-v1.6.0-20261202T101500.000Z","target":"${SECRET_ENV.DATABASE_URL}"}`;
            await containerPrints(taskArn, [result, "backup: done"]);
            await waitFor(() => running.stderr.text.includes("ecs-task: | backup: done\n"), "the last line on stderr");
            // The container ends (moto reports exit code 0 for every container it stops).
            await ecs.send(new StopTaskCommand({ cluster: CLUSTER, task: taskArn, reason: "Essential container in task exited" }));
            const run = await running.done;
            assert.equal(run.code, 0, run.stderr);
            assert.equal(run.stdout, '{"ok":true,"id":"shop-v1.6.0-20261202T101500.000Z","target":"***"}\n');
            assert.equal(
                stable(run.stderr),
                [
                    `started task ${taskArn} (${definitionArn}, container \`app\`: ${backup.join(" ")})`,
                    `task ${id}: RUNNING (T)`,
                    "| backup: connecting to ***",
                    "| backup: pg_dump started",
                    '| {"ok":true,"id":"shop-v1.6.0-20261202T101500.000Z","target":"***"}',
                    "| backup: done",
                    `task ${id}: STOPPED (T)`,
                    `summary {"taskArn":"${taskArn}","exitCode":0,"stopCode":null,"stoppedReason":"Essential container in task exited","timedOut":false,"elapsedMs":N}`,
                    `task ${id}: container \`app\` exited 0 after T`,
                    "",
                ]
                    .map((line) => (line === "" ? "" : `ecs-task: ${line}`))
                    .join("\n"),
            );
            assert.deepEqual(secretsLeaked(run), []);
        } finally {
            await taskProgression("default");
        }
    });

    it("runs one Fargate task with the command override, follows it until STOPPED and keeps its JSON summary on stdout", async () => {
        await taskProgression("default");
        const run = await runOps(args, env);
        assert.equal(run.code, 0, run.stderr);
        const outcome = result(run.stdout);
        const taskArn = String(outcome.taskArn);
        const id = taskArn.slice(taskArn.lastIndexOf("/") + 1);
        assert.deepEqual(outcome, { taskArn, exitCode: 0, stopCode: null, stoppedReason: "", timedOut: false });
        // What ECS was asked to run, as moto recorded it.
        const [task] = (await ecs.send(new DescribeTasksCommand({ cluster: CLUSTER, tasks: [taskArn] }))).tasks!;
        assert.deepEqual(
            [task.taskDefinitionArn, task.launchType, task.startedBy, task.overrides?.containerOverrides],
            [definitionArn, "FARGATE", "safe-release-ops", [{ name: "app", command: COMMAND }]],
        );
        const stream = `app/v1.6.0/app/${id}`;
        assert.equal(
            stable(run.stderr),
            [
                `ecs-task: started task ${taskArn} (${definitionArn}, container \`app\`: python manage.py migrate --noinput)`,
                `ecs-task: task ${id}: DEACTIVATING (T)`,
                `ecs-task: task ${id}: STOPPING (T)`,
                `ecs-task: task ${id}: DEPROVISIONING (T)`,
                `ecs-task: task ${id}: STOPPED (T)`,
                // The container never logged (moto runs none), so its stream does not exist; moto words that as the group's absence.
                `ecs-task: no log lines were read from ${LOG_GROUP} ${stream}: CloudWatch Logs GetLogEvents of ${LOG_GROUP} ${stream} failed: ResourceNotFoundException: The specified log group does not exist.`,
                `ecs-task: task ${id}: container \`app\` exited 0 after T`,
                "",
            ].join("\n"),
        );
        assert.deepEqual(secretsLeaked(run), []);
    });

    it("past --timeout: stops the task with StopTask, waits for STOPPED and says what to check for a migration", async () => {
        await taskProgression("stuck");
        try {
            const known = await listedTasks();
            const migrate = [...OPS, "migrate", "--app", "shop", "--version", "v1.6.0", "--", "python", "manage.py", "migrate"];
            const withTimeout = [...args.slice(0, args.indexOf("--")), "--timeout", "300ms", "--", ...migrate];
            const running = startOps(withTimeout, env);
            const taskArn = await startedTask(known);
            await containerPrints(taskArn, ["migrate: lock of `shop` taken"], true);
            const run = await running.done;
            assert.equal(run.code, 1);
            const outcome = result(run.stdout);
            assert.deepEqual(outcome, {
                taskArn,
                exitCode: 0,
                stopCode: null,
                stoppedReason: "safe-release-ops ecs-task: --timeout 300ms exceeded",
                timedOut: true,
            });
            const [task] = (await ecs.send(new DescribeTasksCommand({ cluster: CLUSTER, tasks: [taskArn] }))).tasks!;
            assert.equal(task.stoppedReason, "safe-release-ops ecs-task: --timeout 300ms exceeded");
            const id = taskArn.slice(taskArn.lastIndexOf("/") + 1);
            assert.ok(
                stable(run.stderr).endsWith(
                    [
                        `ecs-task: stopping task ${taskArn}: --timeout 300ms exceeded`,
                        `ecs-task: task ${id}: STOPPED T after StopTask`,
                        `ecs-task: task ${taskArn} did not stop within 300ms (\`--timeout\`); it was stopped and its outcome is unknown`,
                        "ecs-task: its last 1 log line:",
                        "ecs-task: | migrate: lock of `shop` taken",
                        "ecs-task: next: the migration may have run in part: read its row in the ledger first " +
                            "(`SELECT version, status, finished_at FROM safe_release_migrations WHERE app = '<app>'`); an unfinished row refuses " +
                            'the next run (docs/troubleshooting.md, "Migration refused: a failed row is in the ledger"), and the migration lock, ' +
                            "held by the task's database session, ended with the task",
                        "",
                    ].join("\n"),
                ),
                run.stderr,
            );
        } finally {
            await taskProgression("default");
        }
    });

    it("starts nothing when the container is not in the task definition", async () => {
        const before = (await ecs.send(new ListTasksCommand({ cluster: CLUSTER }))).taskArns?.length;
        const run = await runOps(
            args.map((arg) => (arg === "app" ? "web" : arg)),
            env,
        );
        assert.equal(run.code, 1);
        assert.equal(run.stdout, "");
        assert.equal(
            run.stderr,
            `ecs-task: \`--container\` must name a container of ${definitionArn} (app, sidecar); got \`web\`; nothing ran\n`,
        );
        assert.equal((await ecs.send(new ListTasksCommand({ cluster: CLUSTER }))).taskArns?.length, before);
    });

    it("reports a task definition ECS does not know in one line", async () => {
        const run = await runOps(
            args.map((arg) => (arg === FAMILY ? "shop-v9-9-9" : arg)),
            env,
        );
        assert.equal(run.code, 1);
        assert.match(run.stderr, /^ecs-task: ECS DescribeTaskDefinition of `shop-v9-9-9` failed: ClientException: .+\n$/);
    });

    it("gives the container's outcome as the process exit status through the ops binary", async function () {
        const bin = path.join(__dirname, "..", "..", "ops", "bin", "safe-release-ops.js");
        const child = spawn(process.execPath, [bin, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
        let stderr = "";
        child.stderr.on("data", (chunk) => (stderr += chunk));
        child.stdout.resume();
        const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
        assert.equal(code, 0, stderr);
        assert.match(stderr, /container `app` exited 0 after \d+s\n$/);
    });

    it("exits 2 on bad arguments before any AWS call", async () => {
        const run = await runOps(
            ["ecs-task", "--cluster", CLUSTER, "--task-definition", "shop", "--container", "app", "--subnets", "subnet-0a1b2c3d"].concat([
                "--security-groups",
                "default",
                "--",
                "x",
            ]),
            { PATH: process.env.PATH },
        );
        assert.equal(run.code, 2);
        assert.equal(
            run.stderr,
            "ecs-task: `--security-groups` must be a comma-separated list of ids like sg-0123abcd; got `default` in `default`\n",
        );
    });
});
