import { strict as assert } from "assert";
import { ROUTER_IMAGE } from "./support/dockerFixtures";
import { SUBNETS, VPC, digestOf } from "./support/fixtures";
import { ProgramRun, RecordedResource, runProgram } from "./support/mockEngine";
import { StackConfig } from "./support/mockProviders";

/** One release config, the platform and its settings aside: the Prisma runbook's service with its data steps. */
function releaseConfig(platform: "aws-ecs" | "docker-host", overrides: StackConfig = {}): StackConfig {
    const digests = Object.fromEntries(["v1.4.2", "v1.5.0"].map((v) => [v, { api: digestOf(`api${v}`), worker: digestOf(`worker${v}`) }]));
    return {
        "release:app": "shop",
        "release:platform": platform,
        "release:components": {
            api: {
                image: "ghcr.io/acme/shop-api",
                role: "web",
                port: 8080,
                healthPath: "/health",
                secretEnv: { DATABASE_URL: "config:databaseUrl" },
            },
            worker: { image: "ghcr.io/acme/shop-api", role: "worker", command: ["node", "worker.js"] },
        },
        "release:digests": digests,
        "release:databaseUrl": "postgres://shop:pw@db:5432/shop",
        "release:database": { ledger: "prisma", criticalTables: ["users"] },
        "release:backup": { directory: "/srv/shop/uploads", store: "s3://shop-backups/parity" },
        "release:migrate": { command: "npx prisma migrate deploy", component: "api", quiesce: ["worker"] },
        ...(platform === "aws-ecs"
            ? {
                  "release:aws": {
                      vpcId: VPC,
                      subnetIds: SUBNETS,
                      internal: true,
                      runnerImage: `safe-release-runner@${digestOf("runner")}`,
                  },
              }
            : { "release:dockerHost": { routerImage: ROUTER_IMAGE } }),
        ...overrides,
    };
}

/** The steps of the release in platform-neutral names: data components, the resume command, each service of a version, the routing. */
function stepOf(r: RecordedResource): string | undefined {
    if (r.type.startsWith("safe-release:data:")) return `${r.type.slice("safe-release:data:".length)} ${r.name}`;
    if (r.type === "command:local:Command" && r.name.endsWith("-resume")) return `resume ${r.name}`;
    const service = /^shop-(?:ecs|docker)-(v[\d.]+)-(api|worker)(?:-service)?$/.exec(r.name);
    if ((r.type === "aws:ecs/service:Service" || r.type === "docker:index/container:Container") && service)
        return `service ${service[2]} ${service[1]}`;
    if (r.type === "aws:lb/listener:Listener" && r.name === "shop-ecs-listener") return "routing";
    if (r.type === "command:local:Command" && r.name === "shop-docker-router-config") return "routing";
    return undefined;
}

/** Step → the steps it waits for, directly or through the children of a step (a component waits for what its children wait for). */
function stepGraph(run: ProgramRun): Record<string, string[]> {
    const byUrn = new Map([...run.resources.values()].map((r) => [r.urn, r]));
    const owner = (urn: string): string | undefined => {
        for (let r = byUrn.get(urn); r !== undefined; r = byUrn.get(r.parent)) {
            const step = stepOf(r);
            if (step !== undefined) return step;
        }
        return undefined;
    };
    const graph: Record<string, Set<string>> = {};
    for (const r of run.resources.values()) {
        const step = owner(r.urn);
        if (step === undefined) continue;
        graph[step] ??= new Set();
        for (const dependency of r.dependencies) {
            const other = owner(dependency);
            if (other !== undefined && other !== step) graph[step].add(other);
        }
    }
    return Object.fromEntries(
        Object.keys(graph)
            .sort()
            .map((step) => [step, [...graph[step]].sort()]),
    );
}

/** The steps in dependency order; ties broken by name, so equal graphs give equal lists. */
function stepOrder(graph: Record<string, string[]>): string[] {
    const done: string[] = [];
    while (done.length < Object.keys(graph).length) {
        const ready = Object.keys(graph)
            .filter((s) => !done.includes(s) && graph[s].every((d) => done.includes(d)))
            .sort();
        assert.ok(
            ready.length > 0,
            `a cycle among ${Object.keys(graph)
                .filter((s) => !done.includes(s))
                .join(", ")}`,
        );
        done.push(ready[0]);
    }
    return done;
}

async function startRelease(platform: "aws-ecs" | "docker-host"): Promise<ProgramRun> {
    const secretKeys = ["release:databaseUrl"];
    const first = await runProgram({ config: releaseConfig(platform, { "release:version": "v1.4.2" }), secretKeys });
    return runProgram({
        config: releaseConfig(platform, { "release:version": "v1.5.0", "release:previous": "v1.4.2", "release:canaryWeight": 0 }),
        secretKeys,
        lastOutputs: first.outputs,
    });
}

describe("platform parity: the same release config runs the same steps in the same order on aws-ecs and docker-host", () => {
    it("rollback check → preflight → drift → quiesce → backup → migrate → resume → services → routing, step for step", async () => {
        // One program run at a time: the mocks are process-wide.
        const ecs = await startRelease("aws-ecs");
        const docker = await startRelease("docker-host");
        const ecsGraph = stepGraph(ecs);
        const dockerGraph = stepGraph(docker);
        assert.deepEqual(dockerGraph, ecsGraph);
        const order = stepOrder(ecsGraph);
        assert.deepEqual(
            order.filter((s) => !s.includes("v1.4.2")),
            [
                "RollbackCheck shop-rollback-check-v1.5.0",
                "Preflight shop-preflight-v1.5.0",
                "DriftCheck shop-drift-v1.5.0",
                "Quiesce shop-quiesce-v1.5.0",
                "PreUpgradeBackup shop-backup-v1.5.0",
                "Migration shop-migrate-v1.5.0",
                "resume shop-quiesce-v1.5.0-resume",
                "service api v1.5.0",
                "service worker v1.5.0",
                "routing",
            ],
        );
        assert.deepEqual(stepOrder(dockerGraph), order);
        assert.deepEqual(ecsGraph.routing, ["service api v1.4.2", "service api v1.5.0", "service worker v1.4.2", "service worker v1.5.0"]);
    });

    it("both platforms report the same plan: weights, schema head, transition and summary", async () => {
        const ecs = await startRelease("aws-ecs");
        const docker = await startRelease("docker-host");
        const plan = (run: ProgramRun) => ({
            weights: run.outputs.weights,
            schemaHead: run.outputs.schemaHead,
            transition: run.outputs.transition,
            summary: run.outputs.summary,
        });
        assert.deepEqual(plan(docker), plan(ecs));
        assert.deepEqual(docker.outputs.images, ecs.outputs.images);
    });
});
