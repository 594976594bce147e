import { strict as assert } from "assert";
import { dockerConfig } from "./support/dockerFixtures";
import { ecsConfig } from "./support/fixtures";
import { isSecret, resource } from "./support/inspect";
import { ProgramRun, runProgram } from "./support/mockEngine";
import { StackConfig } from "./support/mockProviders";

/** The checks of a forward migration that run while the writers still run: drift and the rehearsal. */

const OPS = "node ops/bin/safe-release-ops.js";
const secretKeys = ["release:databaseUrl"];
const DATABASE_URL = "postgres://shop:s3cr3t-pw@db.internal:5432/shop";

function shop(migrate: Record<string, unknown>, overrides: StackConfig = {}, build = dockerConfig): StackConfig {
    return build({
        "release:databaseUrl": DATABASE_URL,
        "release:database": { ledger: "prisma", migrationsDir: "prisma/migrations", criticalTables: ["users", "orders"] },
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
        "release:migrate": { command: "npx prisma migrate deploy", component: "api", quiesce: ["worker"], ...migrate },
        ...overrides,
    });
}

async function start(migrate: Record<string, unknown>, build = dockerConfig): Promise<ProgramRun> {
    const first = await runProgram({ config: shop(migrate, { "release:version": "v1.4.2" }, build), secretKeys });
    return runProgram({
        config: shop(migrate, { "release:version": "v1.5.0", "release:previous": "v1.4.2", "release:canaryWeight": 0 }, build),
        secretKeys,
        lastOutputs: first.outputs,
    });
}

const command = (run: ProgramRun, name: string) => resource(run, "command:local:Command", name);
const deps = (run: ProgramRun, name: string) => command(run, name).dependencies.map((urn: string) => urn.split("::").pop());

describe("drift and rehearsal before any writer stops (docker-host)", () => {
    it("rehearses the migration's own one-off task on a fresh copy, after the drift check and before the writers stop", async () => {
        const run = await start({ rehearse: true, expectChanged: ["orders"], onDrift: "stop" });
        const drift = command(run, "shop-drift-v1.5.0-run");
        assert.equal(
            drift.inputs.create,
            `${OPS} drift --app shop --on-drift stop --migrations-dir prisma/migrations --without-reference skip`,
        );
        const rehearse = command(run, "shop-rehearse-v1.5.0-run");
        const migrate = command(run, "shop-migrate-v1.5.0-run");
        const runner = String(migrate.inputs.create).split(" -- ")[1];
        assert.equal(
            rehearse.inputs.create,
            `${OPS} rehearse --from-live --app shop --version v1.5.0 --digest ${migrate.inputs.triggers[1]} --lock-timeout 10m ` +
                "--critical-tables users,orders --expect-changed orders --migrations-dir prisma/migrations -- " +
                runner,
        );
        // The database URL reaches both only through their (secret) environment.
        for (const check of [drift, rehearse]) {
            assert.ok(!String(check.inputs.create).includes("s3cr3t-pw"));
            assert.ok(isSecret(check.inputs.environment), `${check.name}: environment must be secret`);
        }
        assert.ok(deps(run, "shop-rehearse-v1.5.0-run").includes("shop-drift-v1.5.0-run"));
        assert.ok(deps(run, "shop-quiesce-v1.5.0-stop").includes("shop-rehearse-v1.5.0-run"));
        assert.ok(deps(run, "shop-quiesce-v1.5.0-stop").includes("shop-drift-v1.5.0-run"));
        assert.ok("rehearsedMigrationSeconds" in run.outputs, "the rehearsal's time is a stack output");
    });

    it("without `rehearse`: the drift check alone, warning by default; none on a first deploy (no schema head yet)", async () => {
        const run = await start({});
        assert.equal(
            command(run, "shop-drift-v1.5.0-run").inputs.create,
            `${OPS} drift --app shop --on-drift warn --migrations-dir prisma/migrations --without-reference skip`,
        );
        assert.equal(
            [...run.resources.keys()].some((urn) => urn.includes("shop-rehearse-")),
            false,
        );
        const first = await runProgram({ config: shop({}, { "release:version": "v1.4.2" }), secretKeys });
        assert.equal(
            [...first.resources.keys()].some((urn) => urn.includes("-drift-")),
            false,
        );
    });

    it("refuses a rehearsal whose migration would not take its database from DATABASE_URL", async () => {
        const config = shop({ rehearse: true }, { "release:version": "v1.4.2" });
        const components = config["release:components"] as Record<string, Record<string, unknown>>;
        components.api = { ...components.api, secretEnv: { PRISMA_URL: "config:databaseUrl" } };
        const first = await runProgram({ config: shop({}, { "release:version": "v1.4.2" }), secretKeys });
        await assert.rejects(
            runProgram({
                config: { ...config, "release:version": "v1.5.0", "release:previous": "v1.4.2", "release:canaryWeight": 0 },
                secretKeys,
                lastOutputs: first.outputs,
            }),
            {
                message:
                    "`release:migrate.rehearse` needs the migration's component `api` to take its database from `secretEnv.DATABASE_URL`: " +
                    "the rehearsal points that variable at the copy, and a database named anywhere else would be the live one",
            },
        );
    });

    it("rehearses on aws-ecs with a task definition of its own whose DATABASE_URL names the fixed scratch database", async () => {
        const run = await start({ rehearse: true }, ecsConfig);
        const rehearse = String(command(run, "shop-rehearse-v1.5.0-run").inputs.create);
        assert.ok(
            rehearse.startsWith(`${OPS} rehearse --from-live --scratch-database sr_rehearse_shop --app shop --version v1.5.0 `),
            rehearse,
        );
        const definitions = (name: string) =>
            JSON.parse(resource(run, "aws:ecs/taskDefinition:TaskDefinition", name).inputs.containerDefinitions);
        const secretOf = (name: string) =>
            definitions(name)[0].secrets.find((s: { name: string }) => s.name === "DATABASE_URL").valueFrom as string;
        const rehearsal = resource(run, "aws:ecs/taskDefinition:TaskDefinition", "shop-ecs-v1.5.0-api-oneoff-rehearse");
        assert.equal(rehearsal.inputs.family, "shop-api-oneoff-rehearse-v1-5-0");
        // The rehearsal's task runs the migration's command on the copy's connection string; the migration's own, on the live one.
        assert.deepEqual(definitions("shop-ecs-v1.5.0-api-oneoff-rehearse")[0].command, ["npx", "prisma", "migrate", "deploy"]);
        // The mocks make each resource's ARN from its name.
        const arnOf = (name: string) =>
            `arn:aws:mock:eu-west-1:123456789012:${resource(run, "aws:secretsmanager/secret:Secret", name).name}`;
        const copySecretArn = arnOf("shop-ecs-secret-rehearsal");
        assert.equal(secretOf("shop-ecs-v1.5.0-api-oneoff-rehearse"), copySecretArn);
        assert.equal(secretOf("shop-ecs-v1.5.0-api-oneoff"), arnOf("shop-ecs-secret-databaseUrl"));
        const version = resource(run, "aws:secretsmanager/secretVersion:SecretVersion", "shop-ecs-secret-rehearsal");
        assert.ok(isSecret(version.inputs.secretString));
        assert.equal(version.inputs.secretString.value, "postgres://shop:s3cr3t-pw@db.internal:5432/sr_rehearse_shop");
        // The tasks' execution role may read the copy's secret too.
        const policy = JSON.parse(resource(run, "aws:iam/rolePolicy:RolePolicy", "shop-ecs-read-secrets").inputs.policy);
        assert.ok(policy.Statement[0].Resource.includes(copySecretArn), JSON.stringify(policy));
    });

    it("derives the copy's connection string from a secret named by ARN, reading its value", async () => {
        const arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:shop-database-url";
        const byArn = (overrides: StackConfig): StackConfig => {
            const config = shop({ rehearse: true }, overrides, ecsConfig);
            const components = structuredClone(config["release:components"]) as Record<string, { secretEnv?: Record<string, string> }>;
            components.api.secretEnv = { DATABASE_URL: arn };
            return { ...config, "release:components": components };
        };
        const first = await runProgram({ config: byArn({ "release:version": "v1.4.2" }), secretKeys });
        const run = await runProgram({
            config: byArn({ "release:version": "v1.5.0", "release:previous": "v1.4.2", "release:canaryWeight": 0 }),
            secretKeys,
            lastOutputs: first.outputs,
        });
        const version = resource(run, "aws:secretsmanager/secretVersion:SecretVersion", "shop-ecs-secret-rehearsal");
        assert.equal(version.inputs.secretString.value, "postgresql://app:mock-password@db.internal:5432/sr_rehearse_shop");
    });
});
