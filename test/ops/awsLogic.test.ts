import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { ContainerDefinition, DescribeTaskDefinitionResponse, DescribeTasksResponse } from "@aws-sdk/client-ecs";
import { awsClientConfig, awsErrorText, formatElapsed } from "../../core/awsClient";
import { envRedactor } from "../../core/mask";
import { describeCounts, parseEcsScaleArgs, parseServiceTarget, readServices, takeRepeated, unsettled } from "../../ops/aws/ecsScale";
import {
    failureMessage,
    logLines,
    logLocation,
    logStreamName,
    parseEcsTaskArgs,
    readTaskState,
    runTaskInput,
    startedTask,
    taskId,
} from "../../ops/aws/ecsTask";
import { judgeKeyState, KeyMetadata, readKeyMetadata, readPolicy, validateKeyReference } from "../../ops/aws/kmsKey";
import { canonicalJson, sha256Hex } from "../../ops/aws/records";
import { motoServerPath, motoVersion, startMoto } from "../support/moto";
import { tempDir } from "../support/processes";

const TASK = "arn:aws:ecs:eu-west-1:123456789012:task/prod/abc123";

describe("aws: the SDK clients' settings", () => {
    it("takes region, endpoint, profile, attempts and keys from the given environment, and leaves unset ones to the SDK", () => {
        assert.deepEqual(awsClientConfig({}, "S3"), {});
        assert.deepEqual(
            awsClientConfig({ AWS_DEFAULT_REGION: "eu-west-2", AWS_REGION: "", AWS_ENDPOINT_URL: "", AWS_PROFILE: "" }, "S3"),
            {
                region: "eu-west-2",
            },
        );
        assert.deepEqual(
            awsClientConfig(
                {
                    AWS_REGION: "eu-west-1",
                    AWS_DEFAULT_REGION: "eu-west-2",
                    AWS_ENDPOINT_URL: "http://127.0.0.1:5000",
                    AWS_PROFILE: "ops",
                    AWS_MAX_ATTEMPTS: "5",
                    AWS_ACCESS_KEY_ID: "AKIAEXAMPLE",
                    AWS_SECRET_ACCESS_KEY: "secret",
                    AWS_SESSION_TOKEN: "token",
                },
                "ECS",
                "us-east-1",
            ),
            {
                region: "us-east-1",
                endpoint: "http://127.0.0.1:5000",
                profile: "ops",
                maxAttempts: 5,
                credentials: { accessKeyId: "AKIAEXAMPLE", secretAccessKey: "secret", sessionToken: "token" },
            },
        );
        // A key id without its secret is not a credential: the SDK's chain (profile, roles) decides.
        assert.deepEqual(awsClientConfig({ AWS_ACCESS_KEY_ID: "AKIAEXAMPLE", AWS_MAX_ATTEMPTS: "many" }, "S3"), {});
        // The service's own endpoint comes first, as in the SDK; both can be switched off.
        const endpoints = { AWS_ENDPOINT_URL: "http://127.0.0.1:1", AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: "http://127.0.0.1:2" };
        assert.equal(awsClientConfig(endpoints, "CLOUDWATCH_LOGS").endpoint, "http://127.0.0.1:2");
        assert.equal(awsClientConfig(endpoints, "CLOUDWATCH").endpoint, "http://127.0.0.1:1");
        assert.equal(awsClientConfig({ ...endpoints, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: "true" }, "S3").endpoint, undefined);
    });

    it("names the failed operation and the service's error code, scrubbed of secrets", () => {
        const err = Object.assign(new Error("token abcdefghijkl expired"), { name: "ExpiredTokenException" });
        assert.equal(
            awsErrorText("ECS DescribeTasks of t", err, { AWS_SESSION_TOKEN: "abcdefghijkl" }),
            "ECS DescribeTasks of t failed: ExpiredTokenException: token *** expired",
        );
        assert.equal(awsErrorText("S3 x", new Error("plain"), {}), "S3 x failed: plain");
        assert.equal(awsErrorText("S3 x", "odd", {}), "S3 x failed: odd");
    });

    it("scrubs the values of secret-looking variables, longest first, and leaves short or public ones", () => {
        const redact = envRedactor({
            AWS_SECRET_ACCESS_KEY: "abcdefgh",
            AWS_SESSION_TOKEN: "abcdefghijkl",
            DATABASE_URL: "postgresql://u:pw@h/db",
            GITHUB_TOKEN: "tok",
            AWS_ACCESS_KEY_ID: "AKIAEXAMPLE",
            AWS_REGION: "eu-west-1",
        });
        assert.equal(
            redact("a abcdefghijkl b abcdefgh c postgresql://u:pw@h/db d tok AKIAEXAMPLE eu-west-1"),
            "a *** b *** c *** d tok AKIAEXAMPLE eu-west-1",
        );
    });

    it("shows elapsed time in minutes past a minute", () => {
        assert.deepEqual([0, 59_999, 60_000, 245_000].map(formatElapsed), ["0s", "59s", "1m00s", "4m05s"]);
    });
});

describe("aws: the tests' moto", () => {
    it("finds moto_server where scripts/moto.sh builds it, and fails naming the script when it is missing", async () => {
        assert.match(motoVersion(), /^\d+\.\d+\.\d+$/);
        const cache = await tempDir("safe-release-moto-cache-");
        const env = { SAFE_RELEASE_MOTO_CACHE: cache };
        assert.equal(motoServerPath(env), path.join(cache, `moto-${motoVersion()}`, "bin", "moto_server"));
        await assert.rejects(startMoto(env), {
            message: `moto is not installed (no ${motoServerPath(env)}): run scripts/moto.sh, which builds its virtualenv (needs the Debian package python3-venv)`,
        });
        fs.rmSync(cache, { recursive: true, force: true });
    });
});

describe("aws: ecs-task logic", () => {
    const args = [
        "--cluster",
        "prod",
        "--task-definition",
        "shop:7",
        "--container",
        "app",
        "--subnets",
        "subnet-0a1b2c3d",
        "--security-groups",
        "sg-0123abcd,sg-4567ef01",
    ];

    it("parses the request with its defaults and builds run-task arguments", () => {
        const request = parseEcsTaskArgs([...args, "--assign-public-ip", "--", "node", "migrate.js", "--step=1"]);
        assert.deepEqual(request, {
            cluster: "prod",
            taskDefinition: "shop:7",
            container: "app",
            subnets: ["subnet-0a1b2c3d"],
            securityGroups: ["sg-0123abcd", "sg-4567ef01"],
            assignPublicIp: true,
            timeoutMs: 1_800_000,
            pollMs: 5000,
            opsResult: false,
            maskEnv: [],
            command: ["node", "migrate.js", "--step=1"],
        });
        assert.deepEqual(runTaskInput(request, "arn:td:7"), {
            cluster: "prod",
            taskDefinition: "arn:td:7",
            launchType: "FARGATE",
            count: 1,
            startedBy: "safe-release-ops",
            networkConfiguration: {
                awsvpcConfiguration: {
                    subnets: ["subnet-0a1b2c3d"],
                    securityGroups: ["sg-0123abcd", "sg-4567ef01"],
                    assignPublicIp: "ENABLED",
                },
            },
            overrides: { containerOverrides: [{ name: "app", command: ["node", "migrate.js", "--step=1"] }] },
        });
    });

    const errors: Array<[string[], string]> = [
        [args, "a command is required after `--`, e.g. `-- python manage.py migrate --noinput`"],
        [[...args.slice(2), "--", "x"], "`--cluster` is required: the ECS cluster to run in"],
        [
            [...args, "--timeout", "forever", "--", "x"],
            '`--timeout` must be a duration from 1ms to 24h such as 90s, 5m or 1h; got "forever"',
        ],
        [
            args.map((a) => (a === "subnet-0a1b2c3d" ? "subnet-0a1b2c3d,,subnet-x" : a)).concat("--", "x"),
            "`--subnets` must be a comma-separated list of ids like subnet-0123abcd; got `` in `subnet-0a1b2c3d,,subnet-x`",
        ],
        [
            args.map((a) => (a === "app" ? "my app" : a)).concat("--", "x"),
            "`--container` must be a container name of letters, digits, `-` or `_`; got `my app`",
        ],
        [
            args.map((a) => (a === "shop:7" ? "shop 7" : a)).concat("--", "x"),
            "`--task-definition` must be a task definition family[:revision] or ARN; got `shop 7`",
        ],
        [
            [...args, "--env", "X=1", "--", "x"],
            "unknown argument `--env`; valid options: --cluster, --task-definition, --container, --subnets, --security-groups, --assign-public-ip, --timeout, --poll, --ops-result, --mask-env",
        ],
    ];
    for (const [input, message] of errors) {
        it(`refuses: ${message.slice(0, 60)}`, () => assert.throws(() => parseEcsTaskArgs(input), { message }));
    }

    it("finds the awslogs stream of the container, or says why there is none", () => {
        const definition = (container: ContainerDefinition): DescribeTaskDefinitionResponse => ({
            taskDefinition: { containerDefinitions: [container] },
        });
        const options = { "awslogs-group": "/g", "awslogs-stream-prefix": "p/v1" };
        assert.deepEqual(logLocation(definition({ name: "app", logConfiguration: { logDriver: "awslogs", options } }), "app"), {
            group: "/g",
            prefix: "p/v1",
        });
        assert.deepEqual(
            logLocation(
                definition({
                    name: "app",
                    logConfiguration: { logDriver: "awslogs", options: { ...options, "awslogs-region": "us-east-1" } },
                }),
                "app",
            ),
            { group: "/g", prefix: "p/v1", region: "us-east-1" },
        );
        assert.deepEqual(logLocation(definition({ name: "app", logConfiguration: { logDriver: "awsfirelens" } }), "app"), {
            unavailable: "container `app` does not log through awslogs",
        });
        assert.deepEqual(
            logLocation(definition({ name: "app", logConfiguration: { logDriver: "awslogs", options: { "awslogs-group": "/g" } } }), "app"),
            { unavailable: "container `app` has no `awslogs-group` and `awslogs-stream-prefix`" },
        );
        assert.deepEqual(logLocation(definition({ name: "web" }), "app"), { unavailable: "container `app` is not in the task definition" });
        assert.equal(taskId(TASK), "abc123");
        assert.equal(logStreamName("p/v1", "app", TASK), "p/v1/app/abc123");
    });

    it("reads the task's state, its container's exit code and the reasons", () => {
        const output: DescribeTasksResponse = {
            tasks: [
                {
                    taskArn: TASK,
                    lastStatus: "STOPPED",
                    stopCode: "EssentialContainerExited",
                    stoppedReason: "done",
                    containers: [{ name: "app", exitCode: 3, reason: "OOM" }],
                },
            ],
        };
        assert.deepEqual(readTaskState(output, TASK, "app"), {
            lastStatus: "STOPPED",
            stopCode: "EssentialContainerExited",
            stoppedReason: "done",
            exitCode: 3,
            containerReason: "OOM",
        });
        assert.deepEqual(readTaskState({ tasks: [{ taskArn: TASK, lastStatus: "PENDING", containers: [] }] }, TASK, "app"), {
            lastStatus: "PENDING",
        });
        assert.equal(readTaskState({ tasks: [], failures: [{ arn: TASK, reason: "MISSING" }] }, TASK, "app"), undefined);
        assert.equal(
            failureMessage(TASK, "app", { lastStatus: "STOPPED", exitCode: 3, containerReason: "OOM" }),
            `task ${TASK} failed: container \`app\` exited 3; stop reason: none given; container reason: OOM`,
        );
    });

    it("reads run-task's task or its failures, and splits log messages into lines", () => {
        assert.deepEqual(startedTask({ tasks: [{ taskArn: TASK }], failures: [] }), { taskArn: TASK });
        assert.deepEqual(startedTask({ tasks: [], failures: [{ reason: "AGENT" }, { reason: "RESOURCE:CPU", detail: "busy" }] }), {
            failure: "AGENT; RESOURCE:CPU (busy)",
        });
        assert.deepEqual(startedTask({}), { failure: "no task and no failure reported" });
        assert.deepEqual(logLines({ events: [{ message: "a\r\nb\n" }, { message: "" }, { message: "c" }] }), ["a", "b", "", "c"]);
        assert.deepEqual(logLines({}), []);
    });
});

describe("aws: ecs-scale logic", () => {
    it("takes every --service, in both spellings, and leaves the rest", () => {
        assert.deepEqual(
            takeRepeated(["--cluster", "c", "--service", "a=0", "--wait", "--service=b=1", "--", "--service", "x"], "service"),
            {
                values: ["a=0", "b=1"],
                rest: ["--cluster", "c", "--wait", "--", "--service", "x"],
            },
        );
    });

    it("parses targets and the request", () => {
        assert.deepEqual(parseServiceTarget("shop-worker_2=12"), { service: "shop-worker_2", desiredCount: 12 });
        assert.throws(() => parseServiceTarget("=1"), {
            message: "`--service` must be <service name>=<desired count> such as worker=0; got `=1`",
        });
        assert.deepEqual(parseEcsScaleArgs(["--cluster", "prod", "--service", "a=0", "--wait", "--timeout", "2m"]), {
            cluster: "prod",
            targets: [{ service: "a", desiredCount: 0 }],
            wait: true,
            timeoutMs: 120_000,
            pollMs: 5000,
        });
        const eleven = Array.from({ length: 11 }, (_, i) => ["--service", `s${i}=0`]).flat();
        assert.throws(() => parseEcsScaleArgs(["--cluster", "prod", ...eleven]), {
            message: "`--service` can be given at most 10 times; got 11",
        });
        assert.throws(() => parseEcsScaleArgs(["--cluster", "my cluster", "--service", "a=0"]), {
            message: "`--cluster` must be an ECS cluster name or ARN; got `my cluster`",
        });
    });

    it("reads counts, refuses missing and inactive services, and judges who has settled", () => {
        const output = {
            services: [
                { serviceName: "a", status: "ACTIVE", desiredCount: 0, runningCount: 0, pendingCount: 0 },
                { serviceName: "b", status: "ACTIVE", desiredCount: 2, runningCount: 2, pendingCount: 1 },
                { serviceName: "other", status: "ACTIVE", desiredCount: 9, runningCount: 9, pendingCount: 0 },
            ],
        };
        const counts = readServices(output, ["a", "b"], "prod");
        assert.deepEqual(
            [...counts.entries()],
            [
                ["a", { desiredCount: 0, runningCount: 0, pendingCount: 0 }],
                ["b", { desiredCount: 2, runningCount: 2, pendingCount: 1 }],
            ],
        );
        assert.deepEqual(
            unsettled(
                [
                    { service: "a", desiredCount: 0 },
                    { service: "b", desiredCount: 2 },
                ],
                counts,
            ),
            [{ service: "b", desiredCount: 2 }],
        );
        assert.deepEqual(unsettled([{ service: "a", desiredCount: 1 }], counts), [{ service: "a", desiredCount: 1 }]);
        assert.equal(describeCounts({ service: "c", desiredCount: 1 }, counts), "c running ? of 1 (pending ?)");
        assert.throws(() => readServices({ services: [{ serviceName: "a", status: "INACTIVE" }] }, ["a", "b"], "prod"), {
            message: "`--service` must name ACTIVE services of cluster `prod`; not found: `b`; `a` is INACTIVE",
        });
    });
});

describe("aws: KMS key logic", () => {
    const metadata = (state: string): KeyMetadata => ({
        keyId: "k-1",
        arn: "arn:k",
        state,
        keyManager: "CUSTOMER",
        creationDate: "2024-01-01",
        keySpec: "SYMMETRIC_DEFAULT",
    });

    it("lets Enabled and Updating keys through and refuses the rest with what to do", () => {
        assert.equal(judgeKeyState(metadata("Enabled")), undefined);
        assert.equal(judgeKeyState(metadata("Updating")), undefined);
        assert.equal(
            judgeKeyState(metadata("PendingImport")),
            "KMS key `arn:k` is PendingImport: it has no key material. Import its key material (`aws kms import-key-material`) before upgrading; nothing was recorded",
        );
        assert.equal(
            judgeKeyState(metadata("Unavailable")),
            "KMS key `arn:k` is Unavailable: its custom key store is disconnected. Reconnect the key store (`aws kms connect-custom-key-store`) before upgrading; nothing was recorded",
        );
        assert.equal(
            judgeKeyState(metadata("Creating")),
            "KMS key `arn:k` is Creating: wait until it is Enabled, then run again; nothing was recorded",
        );
        assert.equal(
            judgeKeyState(metadata("Frozen")),
            "KMS key `arn:k` is Frozen; its `KeyState` must be Enabled or Updating before upgrading; nothing was recorded",
        );
        assert.equal(
            judgeKeyState(metadata("PendingDeletion")),
            "KMS key `arn:k` is PendingDeletion (deletion scheduled for an unknown date): data encrypted with it becomes unreadable once it is deleted. " +
                "Cancel the deletion (`aws kms cancel-key-deletion --key-id k-1`) and enable the key (`aws kms enable-key --key-id k-1`) before upgrading; nothing was recorded",
        );
    });

    it("reads metadata and the policy, and refuses answers without them", () => {
        assert.deepEqual(
            readKeyMetadata(
                {
                    KeyMetadata: {
                        KeyId: "k",
                        Arn: "a",
                        KeyState: "Disabled",
                        CreationDate: new Date(Date.UTC(2024, 0, 1)),
                        DeletionDate: new Date(Date.UTC(2024, 1, 1)),
                    },
                },
                "alias/x",
            ),
            {
                keyId: "k",
                arn: "a",
                state: "Disabled",
                keyManager: "UNKNOWN",
                creationDate: "2024-01-01T00:00:00.000Z",
                keySpec: "UNKNOWN",
                deletionDate: "2024-02-01T00:00:00.000Z",
            },
        );
        assert.throws(() => readKeyMetadata({}, "alias/x"), {
            message: "KMS DescribeKey for `alias/x` returned no `KeyMetadata` with `KeyId`, `Arn` and `KeyState`",
        });
        assert.equal(readPolicy({ Policy: "{}" }, "a"), "{}");
        assert.throws(() => readPolicy({ PolicyName: "default" }, "a"), { message: "KMS GetKeyPolicy for `a` returned no `Policy`" });
        assert.equal(
            validateKeyReference("arn:aws:kms:eu-west-1:123456789012:alias/shop"),
            "arn:aws:kms:eu-west-1:123456789012:alias/shop",
        );
    });

    it("writes canonical JSON: sorted keys at every level, no whitespace, undefined left out", () => {
        assert.equal(
            canonicalJson({ b: [{ z: 1, a: "x" }, null], a: { d: undefined, c: true } }),
            '{"a":{"c":true},"b":[{"a":"x","z":1},null]}',
        );
        assert.equal(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    });
});
