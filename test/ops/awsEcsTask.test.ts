import { strict as assert } from "assert";
import { spawn } from "child_process";
import * as path from "path";
import { CloudWatchLogsClient, CreateLogGroupCommand, GetLogEventsCommand } from "@aws-sdk/client-cloudwatch-logs";
import {
    CreateClusterCommand,
    DescribeTasksCommand,
    ECSClient,
    ListTasksCommand,
    RegisterTaskDefinitionCommand,
} from "@aws-sdk/client-ecs";
import { mockClient } from "aws-sdk-client-mock";
import { awsClientConfig } from "../../core/awsClient";
import { defaultNetwork, startMoto, TestMoto } from "../support/moto";
import { runOps, SECRET_ENV, secretsLeaked } from "../support/opsRun";

const CLUSTER = "prod";
const FAMILY = "shop-v1-6-0";
const LOG_GROUP = "/safe-release/shop";
const COMMAND = ["python", "manage.py", "migrate", "--noinput"];

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

describe("ecs-task against moto's ECS", function () {
    // moto and the SDK's first load take seconds of CPU on a busy machine; each wait below is bounded on its own.
    this.timeout(60_000);
    let moto: TestMoto;
    let ecs: ECSClient;
    let env: NodeJS.ProcessEnv;
    let definitionArn = "";
    let args: string[] = [];

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
        const logs = new CloudWatchLogsClient(awsClientConfig(moto.env, "CLOUDWATCH_LOGS"));
        await logs.send(new CreateLogGroupCommand({ logGroupName: LOG_GROUP }));
        logs.destroy();
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
                            options: { "awslogs-group": LOG_GROUP, "awslogs-region": "us-east-1", "awslogs-stream-prefix": "app/v1.6.0" },
                        },
                    },
                    { name: "sidecar", image: "registry.example/proxy@sha256:" + "1".repeat(64), memory: 128 },
                ],
            }),
        );
        definitionArn = registered.taskDefinition!.taskDefinitionArn!;
        const { subnet, securityGroup } = await defaultNetwork(moto);
        args = ["ecs-task", "--cluster", CLUSTER, "--task-definition", FAMILY, "--container", "app", "--subnets", subnet];
        args.push("--security-groups", securityGroup, "--poll", "20ms", "--", ...COMMAND);
    });
    after(async () => {
        ecs?.destroy();
        await moto?.stop();
    });

    it("runs one Fargate task with the command override, follows it until STOPPED and exits 0", async () => {
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
        assert.equal(
            stable(run.stderr),
            [
                `ecs-task: started task ${taskArn} (${definitionArn}, container \`app\`: python manage.py migrate --noinput)`,
                `ecs-task: task ${id}: DEACTIVATING (T)`,
                `ecs-task: task ${id}: STOPPING (T)`,
                `ecs-task: task ${id}: DEPROVISIONING (T)`,
                `ecs-task: task ${id}: STOPPED (T)`,
                // The log group lives in the region awslogs names, not the cluster's: moto has none there.
                `ecs-task: no log tail: CloudWatch Logs GetLogEvents of ${LOG_GROUP} app/v1.6.0/app/${id} failed: ResourceNotFoundException: The specified log group does not exist.`,
                `ecs-task: task ${id}: container \`app\` exited 0 after T`,
                "",
            ].join("\n"),
        );
        assert.deepEqual(secretsLeaked(run), []);
    });

    it("prints the last log lines, read in the log group's own region (aws-sdk-client-mock for GetLogEvents)", async () => {
        await taskProgression("default");
        // moto's tasks run no container, so no stream ever gets lines; ECS itself still answers from moto.
        const logs = mockClient(CloudWatchLogsClient);
        try {
            logs.on(GetLogEventsCommand).resolves({
                events: [
                    { timestamp: 1, message: "Applying shop.0042_add_index... OK\n" },
                    { timestamp: 2, message: "line one\nline two" },
                ],
            });
            const run = await runOps(args, env);
            assert.equal(run.code, 0, run.stderr);
            const taskArn = String(result(run.stdout).taskArn);
            const id = taskArn.slice(taskArn.lastIndexOf("/") + 1);
            assert.equal(logs.calls().length, 1);
            const call = logs.call(0);
            assert.deepEqual(call.args[0].input, {
                logGroupName: LOG_GROUP,
                logStreamName: `app/v1.6.0/app/${id}`,
                limit: 50,
                startFromHead: false,
            });
            assert.equal(await (call.thisValue as CloudWatchLogsClient).config.region(), "us-east-1");
            assert.ok(
                run.stderr.includes(
                    [
                        `ecs-task: last 3 log lines of ${LOG_GROUP} app/v1.6.0/app/${id}:`,
                        "ecs-task: | Applying shop.0042_add_index... OK",
                        "ecs-task: | line one",
                        "ecs-task: | line two",
                        "",
                    ].join("\n"),
                ),
                run.stderr,
            );
        } finally {
            logs.restore();
        }
    });

    it("stops the task with StopTask and fails when it outlives --timeout", async () => {
        await taskProgression("stuck");
        try {
            const withTimeout = [...args.slice(0, args.indexOf("--")), "--timeout", "300ms", ...args.slice(args.indexOf("--"))];
            const run = await runOps(withTimeout, env);
            assert.equal(run.code, 1);
            const outcome = result(run.stdout);
            const taskArn = String(outcome.taskArn);
            assert.deepEqual(outcome, { taskArn, exitCode: null, timedOut: true });
            const [task] = (await ecs.send(new DescribeTasksCommand({ cluster: CLUSTER, tasks: [taskArn] }))).tasks!;
            assert.equal(task.stoppedReason, "safe-release-ops ecs-task: --timeout 300ms exceeded");
            assert.ok(run.stderr.includes(`ecs-task: stopping task ${taskArn}: --timeout 300ms exceeded\n`), run.stderr);
            assert.ok(
                run.stderr.endsWith(
                    `ecs-task: task ${taskArn} did not stop within 300ms (\`--timeout\`); it was stopped and its outcome is unknown\n`,
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
