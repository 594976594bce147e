import { strict as assert } from "assert";
import { BACKUP_PARTS, RUNBOOK } from "../../core/runbook";
import { planOf, shopStack } from "./stackFiles";
import { ProgramRun, runProgram } from "../support/mockEngine";
import { dockerConfig } from "../support/dockerFixtures";
import { ecsConfig } from "../support/fixtures";
import { StackConfig } from "../support/mockProviders";

/**
 * The order of the runbook's steps is declared once (core/runbook.ts). These
 * tests hold the components and the plan to it: each declared step resource is
 * what a release registers, and the plan lists the steps in that order. A child
 * renamed in a component without the list fails here, not silently in the plan.
 */
const DATA = {
    "release:databaseUrl": "postgres://shop:s3cr3t-pw@db.internal:5432/shop",
    "release:migrate": { command: "npx prisma migrate deploy", component: "api", quiesce: ["worker"] },
    "release:backup": { directory: "/srv/shop/uploads" },
    "release:smoke": [{ name: "health", path: "/health" }],
};

function config(overrides: StackConfig): StackConfig {
    return ecsConfig({ ...DATA, ...overrides });
}

async function releaseAndRestore(): Promise<ProgramRun[]> {
    const secretKeys = ["release:databaseUrl"];
    const first = await runProgram({ config: config({ "release:version": "v1.4.2" }), secretKeys });
    const start = await runProgram({
        config: config({ "release:version": "v1.5.0", "release:previous": "v1.4.2", "release:canaryWeight": 0 }),
        secretKeys,
        lastOutputs: first.outputs,
    });
    const restore = await runProgram({
        config: config({ "release:version": "v1.4.2", "release:restoreFrom": "shop-v1.5.0-20261122T101500.000Z" }),
        secretKeys,
        lastOutputs: start.outputs,
    });
    return [start, restore, await rehearsedStart()];
}

/** A release start on docker-host with `release:migrate.rehearse` (refused on aws-ecs): the migration's component reads DATABASE_URL. */
async function rehearsedStart(): Promise<ProgramRun> {
    const secretKeys = ["release:databaseUrl"];
    const rehearsed = (overrides: StackConfig) =>
        dockerConfig({
            ...DATA,
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
            "release:migrate": { command: "npx prisma migrate deploy", component: "api", quiesce: ["worker"], rehearse: true },
            ...overrides,
        });
    const first = await runProgram({ config: rehearsed({ "release:version": "v1.4.2" }), secretKeys });
    return runProgram({
        config: rehearsed({ "release:version": "v1.5.0", "release:previous": "v1.4.2", "release:canaryWeight": 0 }),
        secretKeys,
        lastOutputs: first.outputs,
    });
}

/** `component name + suffix` children of every component of `type`, as registered. */
function children(runs: ProgramRun[], type: string, suffix: string): string[] {
    return runs.flatMap((run) => {
        const resources = [...run.resources.values()];
        return resources
            .filter((r) => r.type === type)
            .flatMap((component) => resources.filter((r) => r.parent === component.urn && r.name === `${component.name}${suffix}`))
            .map((r) => r.name);
    });
}

describe("the runbook's steps, declared once (core/runbook.ts)", () => {
    let runs: ProgramRun[];
    before(async () => {
        runs = await releaseAndRestore();
    });

    for (const entry of RUNBOOK) {
        if (!("component" in entry)) continue;
        const suffix = "child" in entry ? entry.child : undefined;
        it(`${entry.step}: a release registers ${entry.component}${suffix !== undefined ? ` with its ${suffix} child` : ""}`, () => {
            if (suffix !== undefined)
                assert.ok(children(runs, entry.component, suffix).length > 0, `no ${entry.component} child ending ${suffix}`);
            else assert.ok(runs.some((run) => [...run.resources.values()].some((r) => r.type === entry.component)));
        });
    }

    it("backup: each configured part is the backup's child named by BACKUP_PARTS", () => {
        const backup = RUNBOOK.find((s) => s.step === "backup")!.component;
        const [start] = runs;
        assert.deepEqual(children([start], backup, BACKUP_PARTS.postgres).length, 1);
        assert.deepEqual(children([start], backup, BACKUP_PARTS.directory).length, 1);
        assert.deepEqual(children([start], backup, BACKUP_PARTS.rds), []);
    });

    it("the plan lists the steps in the declared order, the restore only when restoring", async () => {
        const v142 = shopStack({ version: "v1.4.2" });
        const start = await planOf(shopStack({ version: "v1.5.0", previous: "v1.4.2", canaryWeight: 0 }), v142, "v1.4.2");
        assert.deepEqual(
            start.steps.map((s) => s.step),
            RUNBOOK.map((s) => s.step).filter((s) => s !== "restore"),
        );
    });
});
