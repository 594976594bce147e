import { strict as assert } from "assert";
import { awsArgv, awsEnv, awsProgram, formatElapsed, lastErrorLine } from "../../core/awsCli";
import { envRedactor } from "../../core/mask";
import {
    checkSeparate,
    compareListings,
    isPlainMd5Etag,
    ListedObject,
    listingChecksum,
    listObjectsArgs,
    parseS3Location,
    readListingPage,
    sortByKey,
} from "../../ops/aws/bucketListing";
import { describeCounts, parseEcsScaleArgs, parseServiceTarget, readServices, takeRepeated, unsettled } from "../../ops/aws/ecsScale";
import {
    failureMessage,
    logLines,
    logLocation,
    logStreamName,
    parseEcsTaskArgs,
    readTaskState,
    runTaskArgs,
    startedTask,
    taskId,
} from "../../ops/aws/ecsTask";
import { judgeKeyState, KeyMetadata, readKeyMetadata, readPolicy, validateKeyReference } from "../../ops/aws/kmsKey";
import { canonicalJson, sha256Hex } from "../../ops/aws/records";

const TASK = "arn:aws:ecs:eu-west-1:123456789012:task/prod/abc123";

describe("aws: calling the CLI", () => {
    it("uses SAFE_RELEASE_AWS_CLI when set, else aws; always asks for JSON; turns the pager off", () => {
        assert.equal(awsProgram({}), "aws");
        assert.equal(awsProgram({ SAFE_RELEASE_AWS_CLI: "" }), "aws");
        assert.equal(awsProgram({ SAFE_RELEASE_AWS_CLI: "/opt/aws/bin/aws" }), "/opt/aws/bin/aws");
        assert.deepEqual(awsArgv(["ecs", "list-clusters"]), ["ecs", "list-clusters", "--output", "json"]);
        assert.deepEqual(awsEnv({ AWS_REGION: "eu-west-1", HOME: "/root" }), { AWS_REGION: "eu-west-1", HOME: "/root", AWS_PAGER: "" });
        assert.deepEqual(awsEnv({ AWS_REGION: "eu-west-1" }, "us-east-1"), { AWS_REGION: "us-east-1", AWS_PAGER: "" });
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

    it("keeps the CLI's last error line and shows elapsed time in minutes past a minute", () => {
        assert.equal(
            lastErrorLine("\nAn error occurred (X) when calling the Y operation: no\n\n"),
            "An error occurred (X) when calling the Y operation: no",
        );
        assert.equal(lastErrorLine(""), "no error text");
        assert.deepEqual([0, 59_999, 60_000, 245_000].map(formatElapsed), ["0s", "59s", "1m00s", "4m05s"]);
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
            command: ["node", "migrate.js", "--step=1"],
        });
        assert.deepEqual(runTaskArgs(request, "arn:td:7"), [
            "ecs",
            "run-task",
            "--cluster",
            "prod",
            "--task-definition",
            "arn:td:7",
            "--launch-type",
            "FARGATE",
            "--count",
            "1",
            "--started-by",
            "safe-release-ops",
            "--network-configuration",
            '{"awsvpcConfiguration":{"subnets":["subnet-0a1b2c3d"],"securityGroups":["sg-0123abcd","sg-4567ef01"],"assignPublicIp":"ENABLED"}}',
            "--overrides",
            '{"containerOverrides":[{"name":"app","command":["node","migrate.js","--step=1"]}]}',
        ]);
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
            "unknown argument `--env`; valid options: --cluster, --task-definition, --container, --subnets, --security-groups, --assign-public-ip, --timeout, --poll",
        ],
    ];
    for (const [input, message] of errors) {
        it(`refuses: ${message.slice(0, 60)}`, () => assert.throws(() => parseEcsTaskArgs(input), { message }));
    }

    it("finds the awslogs stream of the container, or says why there is none", () => {
        const definition = (container: Record<string, unknown>): unknown => ({ taskDefinition: { containerDefinitions: [container] } });
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
        const output = {
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

describe("aws: bucket listing logic", () => {
    const object = (key: string, size: number, etag: string): ListedObject => ({ key, size, etag });

    it("parses locations, folds slashes and refuses overlapping copies", () => {
        assert.deepEqual(parseS3Location("s3://shop/a/b/", "source", false), { bucket: "shop", prefix: "a/b" });
        assert.deepEqual(parseS3Location("shop", "source", false), { bucket: "shop", prefix: "" });
        assert.doesNotThrow(() => checkSeparate({ bucket: "s", prefix: "data" }, { bucket: "s", prefix: "database" }));
        assert.doesNotThrow(() => checkSeparate({ bucket: "s", prefix: "" }, { bucket: "t", prefix: "x" }));
        assert.throws(() => checkSeparate({ bucket: "s", prefix: "a/b" }, { bucket: "s", prefix: "a" }), {
            message: "`--target` must not overlap `--source` (s3://s/a/b/); got `s3://s/a/`",
        });
        assert.deepEqual(listObjectsArgs({ bucket: "s", prefix: "" }), ["s3api", "list-objects-v2", "--bucket", "s", "--no-paginate"]);
    });

    it("reads a page: keys made relative, quotes dropped, the next token kept; an empty page has no Contents", () => {
        const location = { bucket: "s", prefix: "p" };
        assert.deepEqual(
            readListingPage({ Contents: [{ Key: "p/x", Size: 3, ETag: '"e"' }], IsTruncated: true, NextContinuationToken: "t" }, location),
            { objects: [object("x", 3, "e")], next: "t" },
        );
        assert.deepEqual(readListingPage({ KeyCount: 0, IsTruncated: false }, location), { objects: [] });
        assert.throws(() => readListingPage({ Contents: [{ Key: "p/x" }] }, location), {
            message: "s3://s/p/ listing has an entry without `Key` and `Size`",
        });
    });

    it("sorts keys by UTF-8 bytes and hashes the sorted lines", () => {
        // U+FF5E sorts before U+1F600 in UTF-8, after it in UTF-16 code units.
        assert.deepEqual(
            sortByKey([object("😀", 1, ""), object("～", 1, ""), object("a", 1, "")]).map((o) => o.key),
            ["a", "～", "😀"],
        );
        const objects = [object("b", 2, "e2"), object("a", 1, "e1")];
        assert.equal(listingChecksum(objects), sha256Hex("a\t1\te1\nb\t2\te2\n"));
        assert.equal(listingChecksum([...objects].reverse()), listingChecksum(objects));
        assert.equal(listingChecksum([]), sha256Hex(""));
        assert.ok(isPlainMd5Etag("0cc175b9c0f1b6a831c399e269772661"));
        assert.ok(!isPlainMd5Etag("0cc175b9c0f1b6a831c399e269772661-3"));
    });

    it("compares listings key by key, in key order, up to the limit", () => {
        const md5 = (c: string): string => c.repeat(32);
        const source = [object("a", 1, md5("a")), object("b", 2, md5("b")), object("c", 3, md5("c")), object("d", 4, `${md5("d")}-2`)];
        const target = [object("e", 5, md5("e")), object("b", 9, md5("b")), object("c", 3, md5("f")), object("d", 4, md5("0"))];
        assert.deepEqual(compareListings(source, target, { limit: 3 }), {
            source: { objects: 4, bytes: 10 },
            target: { objects: 4, bytes: 21 },
            differences: ["only in source: a", "size differs: b (2 vs 9 bytes)", `ETag differs: c (${md5("c")} vs ${md5("f")})`],
            differenceCount: 4,
        });
        assert.equal(compareListings(source, target, { compareEtags: false }).differenceCount, 3);
        assert.equal(compareListings(source, source).differenceCount, 0);
    });
});

describe("aws: KMS key logic", () => {
    const metadata = (state: string): KeyMetadata => ({
        keyId: "k-1",
        arn: "arn:k",
        state,
        keyManager: "CUSTOMER",
        creationDate: "2024-01-01",
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

    it("reads metadata (epoch-second timestamps too) and the policy, and refuses output without them", () => {
        assert.deepEqual(
            readKeyMetadata(
                { KeyMetadata: { KeyId: "k", Arn: "a", KeyState: "Disabled", CreationDate: 1704067200, DeletionDate: 1706745600 } },
                "alias/x",
            ),
            {
                keyId: "k",
                arn: "a",
                state: "Disabled",
                keyManager: "UNKNOWN",
                creationDate: "2024-01-01T00:00:00.000Z",
                deletionDate: "2024-02-01T00:00:00.000Z",
            },
        );
        assert.throws(() => readKeyMetadata({}, "alias/x"), {
            message: "aws kms describe-key for `alias/x` returned no `KeyMetadata` with `KeyId`, `Arn` and `KeyState`",
        });
        assert.equal(readPolicy({ Policy: "{}" }, "a"), "{}");
        assert.throws(() => readPolicy({ PolicyName: "default" }, "a"), { message: "aws kms get-key-policy for `a` returned no `Policy`" });
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
