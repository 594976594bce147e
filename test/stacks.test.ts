import { strict as assert } from "assert";
import * as fs from "fs";
import { readStoresOffline } from "../components/lastRelease";
import { evaluatedConfig, projectDefaults } from "../plan/stackConfig";
import { resource, resourcesOfType } from "./support/inspect";
import { ProgramRun, runProgram } from "./support/mockEngine";

/** A stack file as the CLI hands it to the program: project defaults, then the stack's values. */
async function evaluateStack(stack: string): Promise<ProgramRun> {
    const config = evaluatedConfig(
        fs.readFileSync(`Pulumi.${stack}.yaml`, "utf8"),
        projectDefaults(fs.readFileSync("Pulumi.yaml", "utf8")),
        `Pulumi.${stack}.yaml`,
    );
    return runProgram({ config: config.config, secretKeys: config.secretKeys, stack, unlistedDigest: () => `sha256:${"a".repeat(64)}` });
}

/** The backup outlives the release workflow's runner: the dump, the store check and the prune all name the S3 store. */
function assertS3Store(run: ProgramRun, store: string): void {
    const ops = "node ops/bin/safe-release-ops.js";
    assert.equal(
        resource(run, "command:local:Command", "shop-preflight-v1.4.2-store-check").inputs.create,
        `${ops} store-check --store ${store}`,
    );
    assert.equal(
        resource(run, "command:local:Command", "shop-backup-v1.4.2-pg-dump").inputs.create,
        `${ops} backup --kind postgres --store ${store} --app shop --version v1.4.2 --critical-tables users,projects --before-first-migration`,
    );
    assert.match(
        resource(run, "command:local:Command", "shop-prune-v1.4.2").inputs.create,
        new RegExp(`^${ops} prune --store ${store} --keep 5 `),
    );
}

const services = (run: ProgramRun) => resourcesOfType(run, "aws:ecs/service:Service");

describe("the committed stack files", () => {
    // As in the offline plan: this machine has no access to the stacks' S3 backup stores.
    before(() => readStoresOffline());

    it("staging: small, one task per component, plain HTTP, digests looked up", async () => {
        const run = await evaluateStack("staging");
        assert.deepEqual(
            services(run).map((s) => [s.inputs.name, s.inputs.desiredCount]),
            [
                ["shop-backend-v1-4-2", 1],
                ["shop-frontend-v1-4-2", 1],
                ["shop-worker-v1-4-2", 1],
            ],
        );
        assert.equal(resource(run, "aws:lb/loadBalancer:LoadBalancer", "shop-ecs-lb").inputs.enableDeletionProtection, false);
        assert.equal(resource(run, "aws:lb/listener:Listener", "shop-ecs-listener").inputs.protocol, "HTTP");
        assert.deepEqual(Object.keys(run.outputs.unpinnedDigests["v1.4.2"]).sort(), ["backend", "frontend", "worker"]);
        assertS3Store(run, "s3://acme-shop-backups-staging/shop");
    });

    it("prod: pinned digests, two tasks per component, HTTPS, deletion protection, an RDS snapshot kept on delete", async () => {
        const run = await evaluateStack("prod");
        assert.deepEqual(
            services(run).map((s) => [s.inputs.name, s.inputs.desiredCount]),
            [
                ["shop-backend-v1-4-2", 2],
                ["shop-frontend-v1-4-2", 2],
                ["shop-worker-v1-4-2", 2],
            ],
        );
        assert.equal(resource(run, "aws:lb/loadBalancer:LoadBalancer", "shop-ecs-lb").inputs.enableDeletionProtection, true);
        const listener = resource(run, "aws:lb/listener:Listener", "shop-ecs-listener");
        assert.deepEqual([listener.inputs.port, listener.inputs.protocol], [443, "HTTPS"]);
        assert.deepEqual(run.outputs.unpinnedDigests, {});
        const snapshot = resource(run, "aws:rds/snapshot:Snapshot", "shop-backup-v1.4.2-rds");
        assert.deepEqual([snapshot.inputs.dbInstanceIdentifier, snapshot.retainOnDelete], ["shop-prod", true]);
        assert.equal(
            resourcesOfType(run, "aws:cloudwatch/metricAlarm:MetricAlarm").length,
            4,
            "5xx and p95 alarms for both web components",
        );
        assertS3Store(run, "s3://acme-shop-backups-prod/shop");
    });

    it("dev keeps its backups in a directory of the project", async () => {
        const config = evaluatedConfig(
            fs.readFileSync("Pulumi.dev.yaml", "utf8"),
            projectDefaults(fs.readFileSync("Pulumi.yaml", "utf8")),
            "Pulumi.dev.yaml",
        );
        const backup = JSON.parse(JSON.stringify(config.config["release:backup"]));
        assert.deepEqual([backup.dir, backup.store], [".pulumi-state/dev-backups", undefined]);
    });

    it("prod refuses a version whose digests are not pinned", async () => {
        const text = fs.readFileSync("Pulumi.prod.yaml", "utf8").replace("release:version: v1.4.2", "release:version: v1.5.0");
        const config = evaluatedConfig(text, projectDefaults(fs.readFileSync("Pulumi.yaml", "utf8")), "Pulumi.prod.yaml");
        await assert.rejects(runProgram({ config: config.config, secretKeys: config.secretKeys, stack: "prod" }), {
            message:
                "`release:digests.v1.5.0.backend` is required because `release:requirePinnedDigests` is true: " +
                "add the image digest (sha256:…) of ghcr.io/acme/shop-backend:v1.5.0",
        });
    });
});
