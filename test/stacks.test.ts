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

/** The runner task of a step, as the committed stacks run every step that reaches the database or the store. */
const RUNNER_STEP = new RegExp(
    "^node ops/bin/safe-release-ops\\.js ecs-task --cluster \\S+ --task-definition \\S+-runner --container runner --subnets \\S+ " +
        "--security-groups \\S+ (--assign-public-ip )?--timeout 30m --ops-result (--mask-env \\S+ )?-- (.*)$",
);

/** What a runner step runs inside its task. */
function inRunner(run: ProgramRun, name: string): string {
    const create = String(resource(run, "command:local:Command", name).inputs.create);
    const match = RUNNER_STEP.exec(create);
    assert.ok(match, `${name} is not a release runner task: ${create}`);
    return match[3];
}

/** The backup outlives the release workflow's runner: the dump, the store check and the prune all name the S3 store, in runner tasks. */
function assertS3Store(run: ProgramRun, store: string): void {
    const ops = "node ops/bin/safe-release-ops.js";
    assert.equal(inRunner(run, "shop-preflight-v1.4.2-store-check"), `${ops} store-check --store ${store}`);
    assert.equal(
        inRunner(run, "shop-backup-v1.4.2-pg-dump"),
        `${ops} backup --kind postgres --store ${store} --app shop --version v1.4.2 --critical-tables users,projects --before-first-migration`,
    );
    assert.match(inRunner(run, "shop-prune-v1.4.2"), new RegExp(`^${ops} prune --store ${store} --keep 5 `));
}

/** The runner image each committed stack pins, and its task definition's. */
function runnerImageOf(run: ProgramRun): string {
    return JSON.parse(resource(run, "aws:ecs/taskDefinition:TaskDefinition", "shop-ecs-runner").inputs.containerDefinitions)[0].image;
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
        assert.match(runnerImageOf(run), /^123456789012\.dkr\.ecr\.eu-west-1\.amazonaws\.com\/safe-release-runner@sha256:[0-9a-f]{64}$/);
        // Public subnets without a NAT: the runner's tasks need a public IP to reach ECR and the AWS APIs, as the services do.
        assert.match(String(resource(run, "command:local:Command", "shop-preflight-v1.4.2-checks").inputs.create), / --assign-public-ip /);
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
        assert.match(runnerImageOf(run), /^123456789012\.dkr\.ecr\.eu-west-1\.amazonaws\.com\/safe-release-runner@sha256:[0-9a-f]{64}$/);
    });

    // prod's certificate is a commitment of the prod stack file, checked here rather than by stack name in the program:
    // the program stays a function of config alone, and a stack renamed or copied keeps what its file says.
    it("prod: serves HTTPS on the listener and on the smoke tests' test listener, which carries the operator token", async () => {
        const run = await evaluateStack("prod");
        const certificate = /^arn:aws:acm:eu-west-1:123456789012:certificate\/[0-9a-f-]{36}$/;
        for (const name of ["shop-ecs-listener", "shop-ecs-test"]) {
            const listener = resource(run, "aws:lb/listener:Listener", name);
            assert.equal(listener.inputs.protocol, "HTTPS", name);
            assert.match(listener.inputs.certificateArn, certificate, name);
            assert.equal(listener.inputs.sslPolicy, "ELBSecurityPolicy-TLS13-1-2-2021-06", name);
        }
        assert.match(
            inRunner(run, "shop-smoke-v1.4.2-run"),
            / smoke --base-url https:\/\/release-test\.shop\.example\.com:8443 --checks-json /,
        );
        // Only the NAT gateways' addresses, from which the smoke tasks reach the internet-facing load balancer, reach 8443.
        const lb = resource(run, "aws:ec2/securityGroup:SecurityGroup", "shop-ecs-lb");
        assert.deepEqual(lb.inputs.ingress.find((rule: { fromPort: number }) => rule.fromPort === 8443).cidrBlocks, [
            "203.0.113.10/32",
            "203.0.113.11/32",
            "203.0.113.12/32",
        ]);
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
