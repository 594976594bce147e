import { strict as assert } from "assert";
import { digestOf } from "./support/fixtures";
import { plainTextPaths, resource, resourcesOfType } from "./support/inspect";
import { ProgramRun, runProgram } from "./support/mockEngine";
import {
    CLUSTER,
    DATABASE_URL,
    OPS,
    SECRET_KEYS,
    SMOKE,
    STORE,
    TOKEN,
    command,
    innerArgv,
    runnerTask,
    startRelease,
    taskConfig,
} from "./awsEcsTasksFixtures";

/** The data steps that reach the database or the store, and the smoke tests: each a task of the release runner. */
const RUNNER_STEPS = [
    "shop-preflight-v1.5.0-checks",
    "shop-preflight-v1.5.0-store-check",
    "shop-drift-v1.5.0-run",
    "shop-backup-v1.5.0-pg-dump",
    "shop-migrate-v1.5.0-run",
    "shop-prune-v1.5.0",
    "shop-smoke-v1.5.0-run",
];

describe("aws-ecs data steps as tasks of the release runner (`dataStepsIn: task`)", () => {
    let run: ProgramRun;
    let local: ProgramRun;
    before(async () => {
        run = (await startRelease()).run;
        local = (await startRelease({}, { dataStepsIn: "local" })).run;
    });

    it("starts each step's ops program as `ecs-task` of the runner, in the service's subnets and security group", () => {
        const expected: Record<string, [string, string | undefined, string]> = {
            "shop-preflight-v1.5.0-checks": [
                "30m",
                "DATABASE_URL",
                `${OPS} preflight --app shop --version v1.5.0 --ledger prisma --migrations-dir prisma/migrations --data-dir .`,
            ],
            "shop-preflight-v1.5.0-store-check": ["30m", undefined, `${OPS} store-check --store ${STORE}`],
            "shop-drift-v1.5.0-run": [
                "30m",
                "DATABASE_URL",
                `${OPS} drift --app shop --on-drift warn --migrations-dir prisma/migrations --without-reference skip`,
            ],
            "shop-backup-v1.5.0-pg-dump": [
                "30m",
                "DATABASE_URL",
                `${OPS} backup --kind postgres --store ${STORE} --app shop --version v1.5.0 --critical-tables users`,
            ],
            "shop-prune-v1.5.0": [
                "30m",
                undefined,
                `${OPS} prune --store ${STORE} --keep 5 --retention-days 7 --as-of 2026-11-22T10:15:00.000Z --protect shop-v1.5.0-20261122T101500.000Z`,
            ],
            "shop-smoke-v1.5.0-run": [
                "30m",
                "SMOKE_OPERATOR_TOKEN",
                `${OPS} smoke --base-url http://shop-ecs-lb.eu-west-1.elb.example:8443 --checks-json '${JSON.stringify(SMOKE)}' ` +
                    "--header X-Release-Target:v1.5.0",
            ],
        };
        for (const [name, [timeout, mask, inner]] of Object.entries(expected)) {
            assert.equal(command(run, name).inputs.create, runnerTask(timeout, mask, inner), name);
        }
    });

    it("runs `migrate` (lock and ledger) in the runner, which starts the migration's one-off task itself, bounded by both waits", () => {
        const oneOff = `arn:aws:mock:eu-west-1:123456789012:shop-ecs-v1.5.0-api-oneoff`;
        assert.equal(
            command(run, "shop-migrate-v1.5.0-run").inputs.create,
            runnerTask(
                // 30m for the one-off task, 10m for the lock (`lockTimeout`), 30m for the runner's own step.
                "70m",
                "DATABASE_URL,SAFE_RELEASE_LEDGER_URL",
                `${OPS} migrate --app shop --version v1.5.0 --digest ${digestOf("apiv1.5.0")} --lock-timeout 10m --stopped-writers worker -- ` +
                    `${OPS} ecs-task --cluster ${CLUSTER} --task-definition ${oneOff} --container api ` +
                    "--subnets subnet-0aaa1111bbbb2222c,subnet-0ddd3333eeee4444f --security-groups shop-ecs-service-id --timeout 30m " +
                    "-- npx prisma migrate deploy",
            ),
        );
    });

    it("with `dataStepsIn: local`, runs exactly the ops argv the runner carries, on the machine running Pulumi", () => {
        for (const name of RUNNER_STEPS.filter((n) => n !== "shop-migrate-v1.5.0-run" && n !== "shop-smoke-v1.5.0-run")) {
            assert.equal(command(local, name).inputs.create, innerArgv(command(run, name).inputs.create), name);
        }
        // The checks travel on stdin where there is one.
        const smoke = command(local, "shop-smoke-v1.5.0-run");
        assert.equal(
            smoke.inputs.create,
            `${OPS} smoke --base-url http://shop-ecs-lb.eu-west-1.elb.example:8443 --checks - --header X-Release-Target:v1.5.0`,
        );
        assert.deepEqual(JSON.parse(smoke.inputs.stdin), SMOKE);
        assert.equal(command(run, "shop-smoke-v1.5.0-run").inputs.stdin, undefined);
        assert.deepEqual(
            resourcesOfType(local, "aws:ecs/taskDefinition:TaskDefinition").filter((t) => t.name.includes("runner")),
            [],
            "no runner without `dataStepsIn: task`",
        );
    });

    it("keeps the steps that only call AWS APIs on the machine running Pulumi", () => {
        for (const name of ["shop-rollback-check-v1.5.0-run", "shop-quiesce-v1.5.0-stop", "shop-quiesce-v1.5.0-resume"]) {
            assert.equal(command(run, name).inputs.create, command(local, name).inputs.create, name);
            assert.doesNotMatch(command(run, name).inputs.create, / ecs-task /, name);
        }
    });

    it("keeps the runbook's order: preflight → quiesce → backup → migrate → resume → prune; smoke after the version's services", () => {
        const urn = (name: string) => command(run, name).urn;
        const after = (name: string, before: string) =>
            assert.ok(command(run, name).dependencies.includes(urn(before)), `${name} waits for ${before}`);
        after("shop-quiesce-v1.5.0-stop", "shop-preflight-v1.5.0-checks");
        after("shop-quiesce-v1.5.0-stop", "shop-preflight-v1.5.0-store-check");
        after("shop-quiesce-v1.5.0-stop", "shop-drift-v1.5.0-run");
        after("shop-backup-v1.5.0-pg-dump", "shop-quiesce-v1.5.0-stop");
        after("shop-migrate-v1.5.0-run", "shop-backup-v1.5.0-pg-dump");
        after("shop-quiesce-v1.5.0-resume", "shop-migrate-v1.5.0-run");
        after("shop-prune-v1.5.0", "shop-quiesce-v1.5.0-resume");
        const smoke = command(run, "shop-smoke-v1.5.0-run");
        for (const service of resourcesOfType(run, "aws:ecs/service:Service").filter((s) => s.name.includes("v1.5.0"))) {
            assert.ok(smoke.dependencies.includes(service.urn), `smoke after ${service.name}`);
        }
        // Every runner step waits for the runner's task definition and its task role's policy.
        const needs = [
            resource(run, "aws:ecs/taskDefinition:TaskDefinition", "shop-ecs-runner").urn,
            resource(run, "aws:iam/rolePolicy:RolePolicy", "shop-ecs-runner-task").urn,
        ];
        for (const name of RUNNER_STEPS) {
            for (const need of needs) assert.ok(command(run, name).dependencies.includes(need), `${name} after ${need}`);
        }
    });

    it("puts no secret on any command line; the local command keeps them in its secret environment, for masking", () => {
        for (const name of RUNNER_STEPS) {
            const step = command(run, name);
            for (const secret of [DATABASE_URL, TOKEN]) {
                assert.deepEqual(plainTextPaths(step.inputs.create, secret), [], `${name}: create`);
                assert.deepEqual(plainTextPaths(step.inputs, secret), [], `${name}: inputs`);
            }
            assert.equal(step.additionalSecretOutputs.includes("environment"), step.inputs.environment !== undefined, name);
        }
        for (const r of run.resources.values()) {
            for (const secret of [DATABASE_URL, TOKEN]) assert.deepEqual(plainTextPaths(r.inputs, secret), [], `${r.type} ${r.name}`);
        }
    });

    it("restores and verifies a pg_dump in the runner; its ledger connection masked as the migration's", async () => {
        const backup = (run.outputs.backups as Array<{ id: string; kind: string }>).find((b) => b.kind === "postgres")!;
        const restoring = await runProgram({
            config: taskConfig({ "release:version": "v1.4.2", "release:restoreFrom": backup.id }),
            secretKeys: SECRET_KEYS,
            lastOutputs: run.outputs,
        });
        const restore = command(restoring, `shop-restore-${backup.id}-run`);
        assert.equal(
            restore.inputs.create,
            runnerTask("30m", "DATABASE_URL,SAFE_RELEASE_LEDGER_URL", `${OPS} restore --id ${backup.id} --store ${STORE}`),
        );
        assert.ok(restore.dependencies.includes(command(restoring, `shop-quiesce-${backup.id}-stop`).urn), "after every component stopped");
    });

    it("a traffic shift touches neither the runner nor any step", async () => {
        const shift = (weight: number) =>
            taskConfig({ "release:version": "v1.5.0", "release:previous": "v1.4.2", "release:canaryWeight": weight });
        const ten = await runProgram({ config: shift(10), secretKeys: SECRET_KEYS });
        const fifty = await runProgram({ config: shift(50), secretKeys: SECRET_KEYS });
        const changed = [...fifty.resources.values()]
            .filter((r) => JSON.stringify(r.inputs) !== JSON.stringify(ten.resources.get(r.urn)?.inputs))
            .map((r) => r.name);
        assert.deepEqual(changed, ["shop-ecs-listener"]);
    });
});
