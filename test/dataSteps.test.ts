import { strict as assert } from "assert";
import { digestOf, ecsConfig } from "./support/fixtures";
import { isSecret, plainTextPaths, resource, resourcesOfType } from "./support/inspect";
import { ProgramRun, runProgram } from "./support/mockEngine";
import { StackConfig } from "./support/mockProviders";
import { planDiff } from "./support/planDiff";

const DATABASE_URL = "postgres://shop:s3cr3t-pw@db.internal:5432/shop";

/** The Prisma runbook's service on aws-ecs, with its database, writers to quiesce and a migration. */
function withData(overrides: StackConfig = {}): StackConfig {
    return ecsConfig({
        "release:databaseUrl": DATABASE_URL,
        "release:database": {
            ledger: "prisma",
            migrationsDir: "prisma/migrations",
            criticalTables: ["users", "projects"],
            rdsInstance: "shop-db",
        },
        "release:migrate": { command: "npx prisma migrate deploy", component: "api", quiesce: ["worker"] },
        ...overrides,
    });
}

const startRelease = withData({ "release:version": "v1.5.0", "release:previous": "v1.4.2", "release:canaryWeight": 0 });

async function deployThenStart(config: StackConfig = startRelease): Promise<ProgramRun> {
    const first = await runProgram({ config: withData({ "release:version": "v1.4.2" }), secretKeys: ["release:databaseUrl"] });
    return runProgram({ config, secretKeys: ["release:databaseUrl"], lastOutputs: first.outputs });
}

/** True when `map[key]` reaches the engine as a secret, on its own or as part of a secret map. */
function isSecretValue(map: any, key: string): boolean {
    return isSecret(map) ? map.value[key] === DATABASE_URL : isSecret(map[key]) && map[key].value === DATABASE_URL;
}

const command = (run: ProgramRun, name: string) => resource(run, "command:local:Command", name);

describe("data steps of a forward upgrade (aws-ecs)", () => {
    it("runs preflight → quiesce → backup → migrate → resume → new services, each after the one before", async () => {
        const run = await deployThenStart();
        const preflight = command(run, "shop-preflight-v1.5.0-checks");
        const stop = command(run, "shop-quiesce-v1.5.0-stop");
        const dump = command(run, "shop-backup-v1.5.0-pg-dump");
        const snapshot = resource(run, "aws:rds/snapshot:Snapshot", "shop-backup-v1.5.0-rds");
        const migrate = command(run, "shop-migrate-v1.5.0-run");
        const resume = command(run, "shop-quiesce-v1.5.0-resume");
        const storeCheck = command(run, "shop-preflight-v1.5.0-store-check");
        assert.ok(stop.dependencies.includes(preflight.urn), "writers stop after preflight passed");
        assert.ok(stop.dependencies.includes(storeCheck.urn), "writers stop only after the store took a write");
        for (const step of [dump, snapshot]) assert.ok(step.dependencies.includes(stop.urn), `${step.name} after the writers stop`);
        for (const step of [dump, snapshot, stop]) assert.ok(migrate.dependencies.includes(step.urn), `migration after ${step.name}`);
        assert.ok(resume.dependencies.includes(migrate.urn), "writers resume only after the migration");
        const services = resourcesOfType(run, "aws:ecs/service:Service").filter((s) => s.name.includes("v1.5.0"));
        assert.equal(services.length, 2);
        for (const service of services)
            assert.ok(service.dependencies.includes(resume.urn), `${service.name} starts after the writers resume`);
        // The policy pack sees the same order on the components: the migration depends on the backup's steps.
        const migration = resource(run, "safe-release:data:Migration", "shop-migrate-v1.5.0");
        assert.ok(migration.dependencies.includes(dump.urn) && migration.dependencies.includes(snapshot.urn));
    });

    it("preflight checks the ledger, the pending SQL and the free disk where the dump will land", async () => {
        const run = await deployThenStart();
        assert.equal(
            command(run, "shop-preflight-v1.5.0-checks").inputs.create,
            "node ops/bin/safe-release-ops.js preflight --app shop --version v1.5.0 --ledger prisma --migrations-dir prisma/migrations --data-dir .",
        );
    });

    it("checks that the backup store takes a write, as part of preflight", async () => {
        const run = await deployThenStart();
        const check = command(run, "shop-preflight-v1.5.0-store-check");
        assert.equal(check.inputs.create, "node ops/bin/safe-release-ops.js store-check --store backups");
        assert.equal(check.parent, resource(run, "safe-release:data:Preflight", "shop-preflight-v1.5.0").urn);
        assert.equal(check.inputs.update, `printf '%s' "$PULUMI_COMMAND_STDOUT"`, "checked once per release, not on every update");
    });

    it("stops exactly the quiesced components of the running version and restores their counts", async () => {
        const run = await deployThenStart();
        const cluster = "arn:aws:mock:eu-west-1:123456789012:shop-ecs";
        assert.equal(
            command(run, "shop-quiesce-v1.5.0-stop").inputs.create,
            `node ops/bin/safe-release-ops.js ecs-scale --cluster ${cluster} --service shop-worker-v1-4-2=0 --wait`,
        );
        assert.equal(
            command(run, "shop-quiesce-v1.5.0-resume").inputs.create,
            `node ops/bin/safe-release-ops.js ecs-scale --cluster ${cluster} --service shop-worker-v1-4-2=1 --wait`,
        );
    });

    it("takes a pg_dump with facts of the critical tables and an RDS snapshot kept when it leaves the program", async () => {
        const run = await deployThenStart();
        const dump = command(run, "shop-backup-v1.5.0-pg-dump");
        assert.equal(
            dump.inputs.create,
            "node ops/bin/safe-release-ops.js backup --kind postgres --store backups --app shop --version v1.5.0 --critical-tables users,projects",
        );
        assert.ok(isSecretValue(dump.inputs.environment, "DATABASE_URL"));
        const snapshot = resource(run, "aws:rds/snapshot:Snapshot", "shop-backup-v1.5.0-rds");
        assert.deepEqual(
            { instance: snapshot.inputs.dbInstanceIdentifier, id: snapshot.inputs.dbSnapshotIdentifier, retained: snapshot.retainOnDelete },
            { instance: "shop-db", id: "shop-v1-5-0-pre-upgrade", retained: true },
        );
        assert.deepEqual(snapshot.inputs.tags, {
            "safe-release:app": "shop",
            "safe-release:version": "v1.5.0",
            "safe-release:purpose": "pre-upgrade",
        });
    });

    it("takes an Aurora cluster snapshot, kept when it leaves the program, recorded with the schema head it holds", async () => {
        const database = { ledger: "prisma", criticalTables: ["users"], auroraCluster: "shop-aurora" };
        const run = await deployThenStart({ ...startRelease, "release:database": database });
        const snapshot = resource(run, "aws:rds/clusterSnapshot:ClusterSnapshot", "shop-backup-v1.5.0-aurora");
        assert.deepEqual(
            [snapshot.inputs.dbClusterIdentifier, snapshot.inputs.dbClusterSnapshotIdentifier, snapshot.retainOnDelete],
            ["shop-aurora", "shop-v1-5-0-pre-upgrade", true],
        );
        assert.deepEqual(resourcesOfType(run, "aws:rds/snapshot:Snapshot"), []);
        const record = run.outputs.backups.find((b: any) => b.kind === "aurora-snapshot" && b.version === "v1.5.0");
        assert.deepEqual([record.id, record.schemaHead], ["shop-v1-5-0-pre-upgrade", "v1.4.2"]);
    });

    it("migrates once under the lock, keyed by version and digest, as a one-off ECS task of the new image", async () => {
        const run = await deployThenStart();
        const migrate = command(run, "shop-migrate-v1.5.0-run");
        const task = resource(run, "aws:ecs/taskDefinition:TaskDefinition", "shop-ecs-v1.5.0-api-oneoff");
        const definition = JSON.parse(task.inputs.containerDefinitions)[0];
        assert.equal(definition.image, `ghcr.io/acme/shop-api@${digestOf("apiv1.5.0")}`);
        assert.deepEqual(definition.command, ["npx", "prisma", "migrate", "deploy"]);
        assert.equal(task.inputs.family, "shop-api-oneoff-v1-5-0");
        assert.equal(
            migrate.inputs.create,
            `node ops/bin/safe-release-ops.js migrate --app shop --version v1.5.0 --digest ${digestOf("apiv1.5.0")} --lock-timeout 10m --stopped-writers worker -- ` +
                "node ops/bin/safe-release-ops.js ecs-task --cluster arn:aws:mock:eu-west-1:123456789012:shop-ecs " +
                "--task-definition arn:aws:mock:eu-west-1:123456789012:shop-ecs-v1.5.0-api-oneoff --container api " +
                "--subnets subnet-0aaa1111bbbb2222c,subnet-0ddd3333eeee4444f --security-groups shop-ecs-service-id -- npx prisma migrate deploy",
        );
        assert.deepEqual(migrate.inputs.triggers, ["v1.5.0", digestOf("apiv1.5.0")]);
        assert.equal(migrate.inputs.update, `printf '%s' "$PULUMI_COMMAND_STDOUT"`, "an input change never re-runs a migration");
        assert.ok(resource(run, "safe-release:data:Migration", "shop-migrate-v1.5.0").dependencies.includes(task.urn));
    });

    it("fixes forward from a failed version when told to", async () => {
        const run = await deployThenStart(
            withData({
                "release:version": "v1.5.1",
                "release:previous": "v1.4.2",
                "release:migrate": {
                    command: "npx prisma migrate deploy",
                    component: "api",
                    quiesce: ["worker"],
                    fixForwardFrom: "v1.5.0",
                },
                "release:digests": {
                    "v1.4.2": { api: digestOf("apiv1.4.2"), worker: digestOf("workerv1.4.2") },
                    "v1.5.1": { api: digestOf("api151"), worker: digestOf("worker151") },
                },
            }),
        );
        assert.match(
            command(run, "shop-migrate-v1.5.1-run").inputs.create,
            / --lock-timeout 10m --fix-forward-from v1\.5\.0 --stopped-writers worker -- /,
        );
    });

    it("keeps the database URL a secret everywhere", async () => {
        const run = await deployThenStart();
        for (const r of run.resources.values()) {
            assert.deepEqual(plainTextPaths(r.inputs, "s3cr3t-pw"), [], `${r.type} ${r.name}`);
        }
        assert.ok(!JSON.stringify(run.outputs).includes("s3cr3t-pw"));
    });

    it("records the backups in the stack output with the schema head they restore", async () => {
        const run = await deployThenStart();
        assert.deepEqual(
            run.outputs.backups.map((b: any) => [b.id, b.kind, b.schemaHead]),
            [
                ["shop-v1.4.2-20261122T101500.000Z", "postgres", undefined],
                ["shop-v1-4-2-pre-upgrade", "rds-snapshot", undefined],
                ["shop-v1.5.0-20261122T101500.000Z", "postgres", "v1.4.2"],
                ["shop-v1-5-0-pre-upgrade", "rds-snapshot", "v1.4.2"],
            ],
        );
    });

    it("prunes old backups once the upgrade succeeded, protecting this update's (the schema head's)", async () => {
        const run = await deployThenStart({ ...startRelease, "release:backup": { keep: 3, retentionDays: 14 } });
        const prune = command(run, "shop-prune-v1.5.0");
        assert.equal(
            prune.inputs.create,
            "node ops/bin/safe-release-ops.js prune --store backups --keep 3 --retention-days 14 " +
                "--as-of 2026-11-22T10:15:00.000Z --protect shop-v1.5.0-20261122T101500.000Z",
        );
        assert.ok(prune.dependencies.includes(command(run, "shop-quiesce-v1.5.0-resume").urn));
    });

    it("with `backup.beforeQuiesce`, backs up first and stops writers after", async () => {
        const run = await deployThenStart({ ...startRelease, "release:backup": { beforeQuiesce: true } });
        const dump = command(run, "shop-backup-v1.5.0-pg-dump");
        const stop = command(run, "shop-quiesce-v1.5.0-stop");
        assert.ok(!dump.dependencies.includes(stop.urn));
        assert.ok(stop.dependencies.includes(dump.urn));
        assert.ok(command(run, "shop-migrate-v1.5.0-run").dependencies.includes(stop.urn));
    });

    it("a traffic shift and a rollback keep every data step as it is", async () => {
        const canary = withData({ "release:version": "v1.5.0", "release:previous": "v1.4.2", "release:canaryWeight": 10 });
        const shift = await planDiff(canary, { ...canary, "release:canaryWeight": 50 }, { secretKeys: ["release:databaseUrl"] });
        assert.deepEqual(shift.names("updated"), ["aws:lb/listener:Listener::shop-ecs-listener"]);
        const promoted = { ...canary, "release:canaryWeight": 100 };
        const rollback = await planDiff(
            promoted,
            { ...promoted, "release:version": "v1.4.2", "release:previous": "v1.5.0" },
            { secretKeys: ["release:databaseUrl"] },
        );
        assert.deepEqual([...rollback.names("created"), ...rollback.names("deleted")], []);
        assert.deepEqual(rollback.names("updated"), ["aws:lb/listener:Listener::shop-ecs-listener"]);
    });
});

describe("restore after a bad migration (release:restoreFrom)", () => {
    it("stops every component, restores the named backup, starts v1.4.2 alone again", async () => {
        const started = await deployThenStart();
        const backupId = "shop-v1.5.0-20261122T101500.000Z";
        const run = await runProgram({
            config: withData({ "release:version": "v1.4.2", "release:restoreFrom": backupId }),
            secretKeys: ["release:databaseUrl"],
            lastOutputs: started.outputs,
        });
        const restore = command(run, `shop-restore-${backupId}-run`);
        assert.equal(restore.inputs.create, `node ops/bin/safe-release-ops.js restore --id ${backupId} --store backups`);
        assert.ok(isSecretValue(restore.inputs.environment, "DATABASE_URL"));
        assert.ok(
            isSecretValue(restore.inputs.environment, "SAFE_RELEASE_LEDGER_URL"),
            "the ledger's connection, to mark the runs it undoes",
        );
        const stop = command(run, `shop-quiesce-${backupId}-stop`);
        assert.ok(restore.dependencies.includes(stop.urn));
        assert.ok(command(run, `shop-quiesce-${backupId}-resume`).dependencies.includes(restore.urn));
        // Every component of both versions stops (v1.5.0 is retired by this update, but nothing may read or write
        // the data while the backup is put back); only v1.4.2's start again.
        const cluster = "arn:aws:mock:eu-west-1:123456789012:shop-ecs";
        assert.equal(
            stop.inputs.create,
            `node ops/bin/safe-release-ops.js ecs-scale --cluster ${cluster} --service shop-api-v1-5-0=0 --service shop-worker-v1-5-0=0 --service shop-api-v1-4-2=0 --service shop-worker-v1-4-2=0 --wait`,
        );
        assert.equal(
            command(run, `shop-quiesce-${backupId}-resume`).inputs.create,
            `node ops/bin/safe-release-ops.js ecs-scale --cluster ${cluster} --service shop-api-v1-4-2=1 --service shop-worker-v1-4-2=1 --wait`,
        );
        assert.equal(run.outputs.transition, "restore");
        assert.equal(run.outputs.schemaHead, "v1.4.2");
        assert.equal(run.outputs.restoredFrom, backupId);
        assert.deepEqual(resourcesOfType(run, "safe-release:data:Migration"), [], "a restore never migrates");
    });

    it("refuses an unknown backup id, listing the recorded ones", async () => {
        const started = await deployThenStart();
        await assert.rejects(
            runProgram({
                config: withData({ "release:version": "v1.4.2", "release:restoreFrom": "shop-v1.5.0-20991231T000000.000Z" }),
                secretKeys: ["release:databaseUrl"],
                lastOutputs: started.outputs,
            }),
            {
                message:
                    "`release:restoreFrom` names shop-v1.5.0-20991231T000000.000Z, which this stack has not recorded; " +
                    "the newest restorable backup is shop-v1.5.0-20261122T101500.000Z (postgres, v1.5.0, 2026-11-22T10:15:00.000Z); " +
                    "recorded backups: " +
                    "shop-v1.4.2-20261122T101500.000Z, shop-v1-4-2-pre-upgrade, shop-v1.5.0-20261122T101500.000Z, shop-v1-5-0-pre-upgrade",
                registered: [],
            },
        );
    });

    it("restores a snapshot id with rds-restore into the stack's instance, after every component stopped, with no secret", async () => {
        const started = await deployThenStart();
        const run = await runProgram({
            config: withData({ "release:version": "v1.4.2", "release:restoreFrom": "shop-v1-5-0-pre-upgrade" }),
            secretKeys: ["release:databaseUrl"],
            lastOutputs: started.outputs,
        });
        const restore = resource(run, "command:local:Command", "shop-restore-shop-v1-5-0-pre-upgrade-run");
        assert.equal(
            restore.inputs.create,
            "node ops/bin/safe-release-ops.js rds-restore --snapshot shop-v1-5-0-pre-upgrade --instance shop-db",
        );
        assert.equal(restore.inputs.environment, undefined);
        assert.deepEqual(
            restore.dependencies.map((urn: string) => urn.split("::").pop()),
            ["shop-quiesce-shop-v1-5-0-pre-upgrade-stop"],
        );
    });

    it("refuses to run a version newer than the schema the backup holds", async () => {
        const started = await deployThenStart();
        await assert.rejects(
            runProgram({
                config: withData({ "release:version": "v1.5.0", "release:restoreFrom": "shop-v1.5.0-20261122T101500.000Z" }),
                secretKeys: ["release:databaseUrl"],
                lastOutputs: started.outputs,
            }),
            {
                message:
                    "backup shop-v1.5.0-20261122T101500.000Z holds the schema of v1.4.2, but v1.5.0 would run on it; " +
                    "set `release:version` to v1.4.2 or older and remove any newer `release:previous`",
            },
        );
    });
});
