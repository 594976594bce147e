import { strict as assert } from "assert";
import { fakeAws, FakeResponse, runOps, secretsLeaked } from "../support/fakeAws";

const CLUSTER = "arn:aws:ecs:eu-west-1:123456789012:cluster/prod";

function services(...list: Array<[string, number, number, number?, string?]>): FakeResponse {
    return {
        json: {
            services: list.map(([serviceName, desiredCount, runningCount, pendingCount = 0, status = "ACTIVE"]) => ({
                serviceName,
                status,
                desiredCount,
                runningCount,
                pendingCount,
            })),
            failures: [],
        },
    };
}

const DESCRIBE = ["ecs", "describe-services", "--cluster", CLUSTER, "--services", "worker", "web"];
const update = (service: string, count: number): string[] => [
    "ecs",
    "update-service",
    "--cluster",
    CLUSTER,
    "--service",
    service,
    "--desired-count",
    String(count),
];

describe("ecs-scale against a fake aws CLI", () => {
    it("quiesces two services to 0 and waits until none runs", async () => {
        const fake = await fakeAws([
            {
                command: "ecs describe-services",
                responses: [
                    services(["worker", 2, 2], ["web", 3, 3]),
                    services(["worker", 0, 1], ["web", 0, 0]),
                    services(["worker", 0, 0], ["web", 0, 0]),
                ],
            },
            { command: "ecs update-service", responses: [{ json: { service: {} } }] },
        ]);
        const run = await runOps(fake, [
            "ecs-scale",
            "--cluster",
            CLUSTER,
            "--service",
            "worker=0",
            "--service=web=0",
            "--wait",
            "--poll",
            "20ms",
        ]);
        assert.equal(run.code, 0, run.stderr);
        assert.deepEqual(fake.argvs(), [DESCRIBE, update("worker", 0), update("web", 0), DESCRIBE, DESCRIBE]);
        assert.deepEqual(JSON.parse(run.stdout), {
            cluster: CLUSTER,
            services: [
                { service: "worker", previousDesiredCount: 2, desiredCount: 0 },
                { service: "web", previousDesiredCount: 3, desiredCount: 0 },
            ],
            waited: true,
            settled: true,
        });
        assert.equal(
            run.stderr.replace(/\(\d+s\)/g, "(T)"),
            [
                "ecs-scale: worker: desired count 2 → 0",
                "ecs-scale: web: desired count 3 → 0",
                "ecs-scale: worker running 1 of 0 (pending 0); web running 0 of 0 (pending 0) (T)",
                "ecs-scale: worker running 0 of 0 (pending 0); web running 0 of 0 (pending 0) (T)",
                "",
            ].join("\n"),
        );
        assert.deepEqual(secretsLeaked(fake, run), []);
    });

    it("resumes without waiting, leaving a service already at its count alone", async () => {
        const fake = await fakeAws([
            { command: "ecs describe-services", responses: [services(["worker", 0, 0], ["web", 3, 3])] },
            { command: "ecs update-service", responses: [{ json: { service: {} } }] },
        ]);
        const run = await runOps(fake, ["ecs-scale", "--cluster", CLUSTER, "--service", "worker=2", "--service", "web=3"]);
        assert.equal(run.code, 0, run.stderr);
        assert.deepEqual(fake.argvs(), [DESCRIBE, update("worker", 2)]);
        assert.deepEqual(JSON.parse(run.stdout), {
            cluster: CLUSTER,
            services: [
                { service: "worker", previousDesiredCount: 0, desiredCount: 2 },
                { service: "web", previousDesiredCount: 3, desiredCount: 3 },
            ],
            waited: false,
        });
        assert.equal(run.stderr, "ecs-scale: worker: desired count 0 → 2\necs-scale: web: desired count is already 3\n");
    });

    it("waits for pending tasks too, and fails at --timeout naming what has not settled", async () => {
        const fake = await fakeAws([
            {
                command: "ecs describe-services",
                responses: [services(["worker", 0, 0], ["web", 0, 0]), services(["worker", 2, 2, 1], ["web", 1, 0, 1])],
            },
            { command: "ecs update-service", responses: [{ json: { service: {} } }] },
        ]);
        const run = await runOps(fake, [
            "ecs-scale",
            "--cluster",
            CLUSTER,
            "--service",
            "worker=2",
            "--service",
            "web=1",
            "--wait",
            "--timeout",
            "120ms",
            "--poll",
            "20ms",
        ]);
        assert.equal(run.code, 1);
        const calls = fake.argvs();
        assert.deepEqual(calls.slice(0, 3), [DESCRIBE, update("worker", 2), update("web", 1)]);
        assert.ok(calls.length >= 4, JSON.stringify(calls));
        assert.deepEqual(calls.slice(3), Array(calls.length - 3).fill(DESCRIBE));
        assert.equal(JSON.parse(run.stdout).settled, false);
        assert.ok(
            run.stderr.endsWith(
                "ecs-scale: services did not reach their desired counts within 120ms (`--timeout`): " +
                    "worker running 2 of 2 (pending 1); web running 0 of 1 (pending 1)\n",
            ),
            run.stderr,
        );
    });

    it("changes nothing when a service is missing or being deleted", async () => {
        const fake = await fakeAws([{ command: "ecs describe-services", responses: [services(["web", 1, 1, 0, "DRAINING"])] }]);
        const run = await runOps(fake, ["ecs-scale", "--cluster", CLUSTER, "--service", "worker=0", "--service", "web=0"]);
        assert.equal(run.code, 1);
        assert.deepEqual(fake.argvs(), [DESCRIBE]);
        assert.equal(run.stdout, "");
        assert.equal(
            run.stderr,
            `ecs-scale: \`--service\` must name ACTIVE services of cluster \`${CLUSTER}\`; not found: \`worker\`; \`web\` is DRAINING\n`,
        );
    });

    it("exits 2 on bad arguments without calling aws", async () => {
        const fake = await fakeAws([]);
        const cases: Array<[string[], string]> = [
            [["--cluster", CLUSTER], "`--service` is required: <service name>=<desired count>, once per service"],
            [
                ["--cluster", CLUSTER, "--service", "worker"],
                "`--service` must be <service name>=<desired count> such as worker=0; got `worker`",
            ],
            [
                ["--cluster", CLUSTER, "--service", "worker=-1"],
                "`--service` must be <service name>=<desired count> such as worker=0; got `worker=-1`",
            ],
            [
                ["--cluster", CLUSTER, "--service", "worker=0", "--service", "worker=1"],
                "`--service` names `worker` twice; give each service once",
            ],
            [["--service", "worker=0"], "`--cluster` is required: the ECS cluster of the services"],
            [["--cluster", CLUSTER, "--service"], "`--service` needs a value"],
        ];
        for (const [args, message] of cases) {
            const run = await runOps(fake, ["ecs-scale", ...args]);
            assert.equal(run.code, 2, args.join(" "));
            assert.equal(run.stderr, `ecs-scale: ${message}\n`);
        }
        assert.deepEqual(fake.calls(), []);
    });
});
