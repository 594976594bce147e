import { strict as assert } from "assert";
import {
    CreateClusterCommand,
    CreateServiceCommand,
    DeleteServiceCommand,
    ECSClient,
    RegisterTaskDefinitionCommand,
} from "@aws-sdk/client-ecs";
import { awsClientConfig } from "../../core/awsClient";
import { defaultNetwork, startMoto, TestMoto } from "../support/moto";
import { runOps, SECRET_ENV, secretsLeaked } from "../support/opsRun";

const CLUSTER = "shop";

describe("ecs-scale against moto's ECS", function () {
    // moto and the SDK's first load take seconds of CPU on a busy machine; each wait below is bounded on its own.
    this.timeout(60_000);
    let moto: TestMoto;
    let ecs: ECSClient;
    let env: NodeJS.ProcessEnv;
    let serial = 0;

    before(async () => {
        moto = await startMoto();
        ecs = new ECSClient(awsClientConfig(moto.env, "ECS"));
        env = { ...moto.env, ...SECRET_ENV };
        await ecs.send(new CreateClusterCommand({ clusterName: CLUSTER }));
        await ecs.send(
            new RegisterTaskDefinitionCommand({
                family: "shop-web",
                requiresCompatibilities: ["FARGATE"],
                networkMode: "awsvpc",
                cpu: "256",
                memory: "512",
                containerDefinitions: [{ name: "app", image: "registry.example/shop@sha256:" + "0".repeat(64) }],
            }),
        );
    });
    after(async () => {
        ecs?.destroy();
        await moto?.stop();
    });

    /**
     * A service of `desiredCount`: moto reports a new service's tasks as all pending and
     * none running, and an updated one as running exactly its new desired count.
     */
    async function service(desiredCount: number): Promise<string> {
        const name = `svc-${++serial}`;
        const { subnet, securityGroup } = await defaultNetwork(moto);
        await ecs.send(
            new CreateServiceCommand({
                cluster: CLUSTER,
                serviceName: name,
                taskDefinition: "shop-web",
                desiredCount,
                launchType: "FARGATE",
                networkConfiguration: { awsvpcConfiguration: { subnets: [subnet], securityGroups: [securityGroup] } },
            }),
        );
        return name;
    }

    it("quiesces two services to 0, waits until none runs and prints what it changed", async () => {
        const [worker, web] = [await service(2), await service(3)];
        const run = await runOps(
            ["ecs-scale", "--cluster", CLUSTER, "--service", `${worker}=0`, `--service=${web}=0`, "--wait", "--poll", "20ms"],
            env,
        );
        assert.equal(run.code, 0, run.stderr);
        assert.deepEqual(JSON.parse(run.stdout), {
            cluster: CLUSTER,
            services: [
                { service: worker, previousDesiredCount: 2, desiredCount: 0 },
                { service: web, previousDesiredCount: 3, desiredCount: 0 },
            ],
            waited: true,
            settled: true,
        });
        assert.equal(
            run.stderr.replace(/\(\d+s\)/g, "(T)"),
            [
                `ecs-scale: ${worker}: desired count 2 → 0`,
                `ecs-scale: ${web}: desired count 3 → 0`,
                `ecs-scale: ${worker} running 0 of 0 (pending 0); ${web} running 0 of 0 (pending 0) (T)`,
                "",
            ].join("\n"),
        );
        assert.deepEqual(secretsLeaked(run), []);
    });

    it("leaves a service at its count alone, and without --wait does not poll", async () => {
        const web = await service(1);
        const run = await runOps(["ecs-scale", "--cluster", CLUSTER, "--service", `${web}=1`], env);
        assert.equal(run.code, 0, run.stderr);
        assert.deepEqual(JSON.parse(run.stdout), {
            cluster: CLUSTER,
            services: [{ service: web, previousDesiredCount: 1, desiredCount: 1 }],
            waited: false,
        });
        assert.equal(run.stderr, `ecs-scale: ${web}: desired count is already 1\n`);
    });

    it("fails past --timeout naming what has not settled, keeping the desired counts as set", async () => {
        // Left alone, moto keeps the new service's task pending for ever.
        const web = await service(1);
        const run = await runOps(
            ["ecs-scale", "--cluster", CLUSTER, "--service", `${web}=1`, "--wait", "--timeout", "300ms", "--poll", "50ms"],
            env,
        );
        assert.equal(run.code, 1);
        assert.deepEqual(JSON.parse(run.stdout).settled, false);
        assert.ok(
            run.stderr.endsWith(
                `ecs-scale: services did not reach their desired counts within 300ms (\`--timeout\`): ${web} running 0 of 1 (pending 1)\n`,
            ),
            run.stderr,
        );
    });

    it("changes nothing when a service is missing or deleted", async () => {
        const [kept, deleted] = [await service(1), await service(0)];
        await ecs.send(new DeleteServiceCommand({ cluster: CLUSTER, service: deleted }));
        const run = await runOps(
            ["ecs-scale", "--cluster", CLUSTER, "--service", "nope=0", "--service", `${deleted}=0`, "--service", `${kept}=0`],
            env,
        );
        assert.equal(run.code, 1);
        assert.equal(run.stdout, "");
        assert.equal(
            run.stderr,
            `ecs-scale: \`--service\` must name ACTIVE services of cluster \`${CLUSTER}\`; not found: \`nope\`; \`${deleted}\` is INACTIVE\n`,
        );
        const after = await runOps(["ecs-scale", "--cluster", CLUSTER, "--service", `${kept}=1`], env);
        assert.equal(after.stderr, `ecs-scale: ${kept}: desired count is already 1\n`);
    });

    it("exits 2 on bad arguments before any AWS call", async () => {
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
            const run = await runOps(["ecs-scale", ...args], { PATH: process.env.PATH });
            assert.equal(run.code, 2, args.join(" "));
            assert.equal(run.stderr, `ecs-scale: ${message}\n`);
        }
    });
});
