import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import {
    PROTECTED_TYPES,
    isProduction,
    isProductionStackName,
    makeStateRetainedInProduction,
    parentType,
    retentionViolation,
    stateRetainedInProduction,
} from "../../policy/rules/stateRetainedInProduction";
import { UNKNOWN_STRING, resourceViolations } from "./policyArgs";

const RDS_INSTANCE = "aws:rds/instance:Instance";
const RDS_CLUSTER = "aws:rds/cluster:Cluster";
const LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer";
const BUCKET = "aws:s3/bucket:Bucket";

function protectionMessage(field: string, resource: string, stack: string, got: string): string {
    return (
        `\`${field}\` of ${resource} must be \`true\` in production (stack \`${stack}\`) ` +
        `so that deleting it needs a deliberate change first; got ${got}`
    );
}

function protectMessage(resource: string, stack: string, got: boolean): string {
    return `${resource} holds state and must have the resource option \`protect: true\` in production (stack \`${stack}\`); got \`protect: ${got}\``;
}

describe("policy state-retained-in-production", () => {
    describe("isProductionStackName", () => {
        it("matches `prod` and `production` as the name or a separated part of it", () => {
            for (const stack of ["prod", "production", "PROD", "prod-eu", "eu_prod", "acme/prod", "app.production.1"]) {
                assert.strictEqual(isProductionStackName(stack), true, stack);
            }
        });

        it("does not match names that merely contain the letters", () => {
            for (const stack of ["dev", "staging", "product", "products-demo", "preprod", "nonproduction", "stack"]) {
                assert.strictEqual(isProductionStackName(stack), false, stack);
            }
        });
    });

    describe("isProduction", () => {
        it("lets the `production` config override the stack name either way", () => {
            assert.strictEqual(isProduction({}, "prod"), true);
            assert.strictEqual(isProduction({}, "staging"), false);
            assert.strictEqual(isProduction({ production: false }, "prod"), false);
            assert.strictEqual(isProduction({ production: true }, "staging"), true);
        });
    });

    describe("validateResource in a production stack", () => {
        const policy = makeStateRetainedInProduction(() => "prod");

        it("passes databases and load balancers with deletion protection, and protected state holders", async () => {
            assert.deepStrictEqual(
                await resourceViolations(policy, { type: RDS_INSTANCE, name: "db", props: { deletionProtection: true } }),
                [],
            );
            assert.deepStrictEqual(
                await resourceViolations(policy, { type: RDS_CLUSTER, name: "db", props: { deletionProtection: true } }),
                [],
            );
            assert.deepStrictEqual(
                await resourceViolations(policy, { type: LOAD_BALANCER, name: "alb", props: { enableDeletionProtection: true } }),
                [],
            );
            for (const type of PROTECTED_TYPES) {
                assert.deepStrictEqual(
                    await resourceViolations(policy, { type, name: "state", props: {}, opts: { protect: true } }),
                    [],
                    type,
                );
            }
        });

        it("reports databases and load balancers without deletion protection", async () => {
            assert.deepStrictEqual(
                await resourceViolations(policy, { type: RDS_INSTANCE, name: "db", props: { deletionProtection: false } }),
                [protectionMessage("deletionProtection", `${RDS_INSTANCE} \`db\``, "prod", "`false`")],
            );
            assert.deepStrictEqual(
                await resourceViolations(policy, { type: RDS_CLUSTER, name: "aurora", props: {}, opts: { protect: true } }),
                [protectionMessage("deletionProtection", `${RDS_CLUSTER} \`aurora\``, "prod", "nothing")],
            );
            assert.deepStrictEqual(
                await resourceViolations(policy, { type: LOAD_BALANCER, name: "alb", props: { enableDeletionProtection: false } }),
                [protectionMessage("enableDeletionProtection", `${LOAD_BALANCER} \`alb\``, "prod", "`false`")],
            );
        });

        it("reports every snapshot, bucket and key created without `protect`", async () => {
            for (const type of PROTECTED_TYPES) {
                assert.deepStrictEqual(
                    await resourceViolations(policy, { type, name: "state", props: {} }),
                    [protectMessage(`${type} \`state\``, "prod", false)],
                    type,
                );
            }
        });

        it("leaves a deletion protection input that preview cannot know to the update, and ignores stateless types", async () => {
            assert.deepStrictEqual(
                await resourceViolations(policy, { type: RDS_INSTANCE, name: "db", props: { deletionProtection: UNKNOWN_STRING } }),
                [],
            );
            assert.deepStrictEqual(await resourceViolations(policy, { type: "aws:ecs/service:Service", name: "app", props: {} }), []);
        });
    });

    describe("validateResource outside production", () => {
        it("checks nothing in a stack that is not production", async () => {
            const policy = makeStateRetainedInProduction(() => "staging");
            assert.deepStrictEqual(await resourceViolations(policy, { type: BUCKET, name: "backups", props: {} }), []);
            assert.deepStrictEqual(
                await resourceViolations(policy, { type: RDS_INSTANCE, name: "db", props: { deletionProtection: false } }),
                [],
            );
        });

        it("follows the `production` config over the stack name", async () => {
            const staging = makeStateRetainedInProduction(() => "staging");
            assert.deepStrictEqual(
                await resourceViolations(staging, { type: BUCKET, name: "backups", props: {}, config: { production: true } }),
                [protectMessage(`${BUCKET} \`backups\``, "staging", false)],
            );
            const prod = makeStateRetainedInProduction(() => "prod");
            assert.deepStrictEqual(
                await resourceViolations(prod, { type: BUCKET, name: "backups", props: {}, config: { production: false } }),
                [],
            );
        });
    });

    it("names the stack the Pulumi runtime reports, is mandatory and declares its config", async () => {
        assert.deepStrictEqual(
            await resourceViolations(stateRetainedInProduction, { type: BUCKET, name: "b", props: {}, config: { production: true } }),
            [protectMessage(`${BUCKET} \`b\``, pulumi.getStack(), false)],
        );
        assert.deepStrictEqual(
            await resourceViolations(stateRetainedInProduction, { type: BUCKET, name: "b", props: {}, config: { production: false } }),
            [],
        );
        assert.strictEqual(stateRetainedInProduction.enforcementLevel, "mandatory");
        assert.deepStrictEqual(Object.keys(stateRetainedInProduction.configSchema!.properties), ["production"]);
        assert.strictEqual(stateRetainedInProduction.configSchema!.properties.production.type, "boolean");
    });
});

describe("state-retained-in-production: pre-upgrade snapshots", () => {
    const backup = "urn:pulumi:prod::release::safe-release:index:Release$safe-release:data:PreUpgradeBackup::shop-backup-v1.5.0";
    it("accepts a snapshot a PreUpgradeBackup owns (the program retains it on delete)", () => {
        assert.equal(
            retentionViolation("aws:rds/snapshot:Snapshot", "shop-backup-v1.5.0-rds", {}, { protect: false, parent: backup }, "prod"),
            undefined,
        );
        assert.equal(parentType(backup), "safe-release:data:PreUpgradeBackup");
    });
    it("still refuses any other unprotected snapshot", () => {
        const other = "urn:pulumi:prod::release::aws:rds/instance:Instance::db";
        assert.equal(
            retentionViolation("aws:rds/snapshot:Snapshot", "manual", {}, { protect: false, parent: other }, "prod"),
            "aws:rds/snapshot:Snapshot `manual` holds state and must have the resource option `protect: true` in production (stack `prod`); got `protect: false`",
        );
    });
});
