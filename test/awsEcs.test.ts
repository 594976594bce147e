import { strict as assert } from "assert";
import { digestOf, ecsConfig } from "./support/fixtures";
import { isSecret, plainTextPaths, resource, resourcesOfType, urnOf } from "./support/inspect";
import { runProgram } from "./support/mockEngine";
import { MOCK_REGION, MOCK_VPC_CIDR } from "./support/mockProviders";

const canary = ecsConfig({ "release:version": "v1.5.0", "release:previous": "v1.4.2", "release:canaryWeight": 10 });

describe("aws-ecs resources", () => {
    it("runs every container by digest, with the version, command, port and logs of its component", async () => {
        const run = await runProgram({ config: canary });
        const api = resource(run, "aws:ecs/taskDefinition:TaskDefinition", "shop-ecs-v1.5.0-api-task");
        assert.deepEqual(JSON.parse(api.inputs.containerDefinitions), [
            {
                name: "api",
                image: `ghcr.io/acme/shop-api@${digestOf("apiv1.5.0")}`,
                essential: true,
                portMappings: [{ containerPort: 8080, protocol: "tcp" }],
                environment: [{ name: "RELEASE_VERSION", value: "v1.5.0" }],
                secrets: [],
                logConfiguration: {
                    logDriver: "awslogs",
                    options: {
                        "awslogs-group": "/safe-release/shop",
                        "awslogs-region": MOCK_REGION,
                        "awslogs-stream-prefix": "api/v1.5.0",
                    },
                },
            },
        ]);
        assert.equal(api.inputs.family, "shop-api-v1-5-0");
        assert.deepEqual([api.inputs.cpu, api.inputs.memory, api.inputs.networkMode], ["256", "512", "awsvpc"]);
        const worker = JSON.parse(
            resource(run, "aws:ecs/taskDefinition:TaskDefinition", "shop-ecs-v1.4.2-worker-task").inputs.containerDefinitions,
        )[0];
        assert.equal(worker.image, `ghcr.io/acme/shop-api@${digestOf("workerv1.4.2")}`);
        assert.deepEqual(worker.command, ["node", "worker.js"]);
        assert.deepEqual(worker.portMappings, []);
        for (const definition of resourcesOfType(run, "aws:ecs/taskDefinition:TaskDefinition")) {
            assert.match(JSON.parse(definition.inputs.containerDefinitions)[0].image, /^ghcr\.io\/acme\/shop-api@sha256:[0-9a-f]{64}$/);
        }
    });

    it("gives each web component of each version a target group with a health check on its health path", async () => {
        const run = await runProgram({ config: canary });
        const group = resource(run, "aws:lb/targetGroup:TargetGroup", "shop-ecs-v1.5.0-api-tg");
        assert.equal(group.inputs.name, "shop-api-v1-5-0");
        assert.deepEqual(
            { port: group.inputs.port, targetType: group.inputs.targetType, vpcId: group.inputs.vpcId },
            { port: 8080, targetType: "ip", vpcId: "vpc-0abc12345def67890" },
        );
        assert.deepEqual(group.inputs.healthCheck, {
            path: "/health",
            matcher: "200",
            interval: 10,
            healthyThreshold: 2,
            unhealthyThreshold: 2,
        });
        assert.deepEqual(
            resourcesOfType(run, "aws:lb/targetGroup:TargetGroup").map((g) => g.name),
            ["shop-ecs-v1.4.2-api-tg", "shop-ecs-v1.5.0-api-tg"],
        );
    });

    it("orders a version: test route → service (waits for steady state) → listener weights", async () => {
        const run = await runProgram({ config: canary });
        const service = resource(run, "aws:ecs/service:Service", "shop-ecs-v1.5.0-api-service");
        assert.ok(service.dependencies.includes(urnOf(run, "aws:lb/listenerRule:ListenerRule", "shop-ecs-v1.5.0-api-test-route")));
        assert.equal(service.inputs.waitForSteadyState, true);
        assert.deepEqual(service.inputs.deploymentCircuitBreaker, { enable: true, rollback: true });
        assert.deepEqual(service.inputs.loadBalancers, [
            { targetGroupArn: "arn:aws:mock:eu-west-1:123456789012:shop-ecs-v1.5.0-api-tg", containerName: "api", containerPort: 8080 },
        ]);
        const listener = resource(run, "aws:lb/listener:Listener", "shop-ecs-listener");
        for (const name of ["v1.4.2-api", "v1.4.2-worker", "v1.5.0-api", "v1.5.0-worker"]) {
            assert.ok(listener.dependencies.includes(urnOf(run, "aws:ecs/service:Service", `shop-ecs-${name}-service`)), name);
        }
        assert.deepEqual(listener.inputs.defaultActions[0].forward.targetGroups, [
            { arn: "arn:aws:mock:eu-west-1:123456789012:shop-ecs-v1.5.0-api-tg", weight: 10 },
            { arn: "arn:aws:mock:eu-west-1:123456789012:shop-ecs-v1.4.2-api-tg", weight: 90 },
        ]);
    });

    it("routes X-Release-Target: <version> on the VPC-only test listener to that version alone", async () => {
        const run = await runProgram({ config: canary });
        const rule = resource(run, "aws:lb/listenerRule:ListenerRule", "shop-ecs-v1.5.0-api-test-route");
        assert.deepEqual(rule.inputs.conditions, [{ httpHeader: { httpHeaderName: "X-Release-Target", values: ["v1.5.0"] } }]);
        assert.deepEqual(rule.inputs.actions, [
            { type: "forward", targetGroupArn: "arn:aws:mock:eu-west-1:123456789012:shop-ecs-v1.5.0-api-tg" },
        ]);
        assert.equal(resource(run, "aws:lb/listener:Listener", "shop-ecs-test").inputs.port, 8443);
        const lbGroup = resource(run, "aws:ec2/securityGroup:SecurityGroup", "shop-ecs-lb");
        assert.deepEqual(
            lbGroup.inputs.ingress.map((i: any) => [i.fromPort, i.cidrBlocks]),
            [
                [80, ["0.0.0.0/0"]],
                [8443, [MOCK_VPC_CIDR]],
            ],
        );
        const serviceGroup = resource(run, "aws:ec2/securityGroup:SecurityGroup", "shop-ecs-service");
        assert.deepEqual(serviceGroup.inputs.ingress, [
            { protocol: "tcp", fromPort: 8080, toPort: 8080, securityGroups: ["shop-ecs-lb-id"] },
        ]);
    });

    it("serves HTTPS with a certificate and redirects port 80", async () => {
        const run = await runProgram({
            config: ecsConfig({
                "release:version": "v1.4.2",
                "release:aws": {
                    vpcId: "vpc-0abc12345def67890",
                    subnetIds: ["subnet-0aaa1111bbbb2222c"],
                    dataStepsIn: "local",
                    certificateArn: "arn:aws:acm:eu-west-1:123456789012:certificate/abc",
                    testHostname: "release-test.shop.example.com",
                },
            }),
        });
        const listener = resource(run, "aws:lb/listener:Listener", "shop-ecs-listener");
        assert.deepEqual(
            [listener.inputs.port, listener.inputs.protocol, listener.inputs.certificateArn],
            [443, "HTTPS", "arn:aws:acm:eu-west-1:123456789012:certificate/abc"],
        );
        assert.deepEqual(resource(run, "aws:lb/listener:Listener", "shop-ecs-redirect").inputs.defaultActions, [
            { type: "redirect", redirect: { protocol: "HTTPS", port: "443", statusCode: "HTTP_301" } },
        ]);
        assert.equal(run.outputs.url, "https://shop-ecs-lb.eu-west-1.elb.example");
    });

    it("routes a second web component by path prefix with the same weights", async () => {
        const config = ecsConfig({
            "release:version": "v1.5.0",
            "release:previous": "v1.4.2",
            "release:canaryWeight": 25,
            "release:digests": undefined,
        });
        (config["release:components"] as any).web = { image: "ghcr.io/acme/shop-web", port: 3000, pathPrefix: "/app" };
        (config["release:components"] as any).api.pathPrefix = undefined;
        const registry = Object.fromEntries(
            ["v1.4.2", "v1.5.0"].flatMap((v) => [
                [`ghcr.io/acme/shop-api:${v}`, digestOf(`api${v}`)],
                [`ghcr.io/acme/shop-web:${v}`, digestOf(`web${v}`)],
            ]),
        );
        const run = await runProgram({ config, registry });
        const rule = resource(run, "aws:lb/listenerRule:ListenerRule", "shop-ecs-web-route");
        assert.deepEqual(rule.inputs.conditions, [{ pathPattern: { values: ["/app", "/app/*"] } }]);
        assert.deepEqual(
            rule.inputs.actions[0].forward.targetGroups.map((g: any) => g.weight),
            [25, 75],
        );
        assert.ok(rule.dependencies.includes(urnOf(run, "aws:ecs/service:Service", "shop-ecs-v1.5.0-web-service")));
    });

    it("looks up an unpinned digest in the registry, runs it by digest and exports it for pinning", async () => {
        const config = ecsConfig({ "release:version": "v1.4.2", "release:digests": undefined });
        const run = await runProgram({ config, registry: { "ghcr.io/acme/shop-api:v1.4.2": digestOf("looked-up") } });
        const image = JSON.parse(
            resource(run, "aws:ecs/taskDefinition:TaskDefinition", "shop-ecs-v1.4.2-api-task").inputs.containerDefinitions,
        )[0].image;
        assert.equal(image, `ghcr.io/acme/shop-api@${digestOf("looked-up")}`);
        assert.deepEqual(run.outputs.unpinnedDigests, { "v1.4.2": { api: digestOf("looked-up"), worker: digestOf("looked-up") } });
    });

    it("keeps a `config:` secret secret: one Secrets Manager secret per key, referenced by ARN, never a plain input", async () => {
        const secretValue = "postgres://shop:hunter2@db.internal/shop";
        const config = ecsConfig({ "release:version": "v1.5.0", "release:previous": "v1.4.2", "release:databaseUrl": secretValue });
        (config["release:components"] as any).api.secretEnv = {
            DATABASE_URL: "config:databaseUrl",
            STRIPE_KEY: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:stripe",
        };
        const run = await runProgram({ config, secretKeys: ["release:databaseUrl"] });
        const stored = resourcesOfType(run, "aws:secretsmanager/secretVersion:SecretVersion");
        assert.equal(stored.length, 1, "one secret for both versions, so releases never touch it");
        assert.ok(isSecret(stored[0].inputs.secretString));
        const definition = JSON.parse(
            resource(run, "aws:ecs/taskDefinition:TaskDefinition", "shop-ecs-v1.5.0-api-task").inputs.containerDefinitions,
        )[0];
        assert.deepEqual(definition.secrets, [
            { name: "DATABASE_URL", valueFrom: "arn:aws:mock:eu-west-1:123456789012:shop-ecs-secret-databaseUrl" },
            { name: "STRIPE_KEY", valueFrom: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:stripe" },
        ]);
        const policy = JSON.parse(resource(run, "aws:iam/rolePolicy:RolePolicy", "shop-ecs-read-secrets").inputs.policy);
        assert.deepEqual(policy.Statement[0].Resource, [
            "arn:aws:mock:eu-west-1:123456789012:shop-ecs-secret-databaseUrl",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:stripe",
        ]);
        for (const r of run.resources.values()) {
            assert.deepEqual(plainTextPaths(r.inputs, "hunter2"), [], `${r.type} ${r.name} carries the secret in plain text`);
        }
        assert.ok(!JSON.stringify(run.outputs).includes("hunter2"));
    });

    it("exports what a person or a script acts on", async () => {
        const run = await runProgram({ config: canary });
        assert.deepEqual(run.outputs, {
            version: "v1.5.0",
            previous: "v1.4.2",
            weights: { "v1.5.0": 10, "v1.4.2": 90 },
            images: {
                "v1.5.0": {
                    api: `ghcr.io/acme/shop-api@${digestOf("apiv1.5.0")}`,
                    worker: `ghcr.io/acme/shop-api@${digestOf("workerv1.5.0")}`,
                },
                "v1.4.2": {
                    api: `ghcr.io/acme/shop-api@${digestOf("apiv1.4.2")}`,
                    worker: `ghcr.io/acme/shop-api@${digestOf("workerv1.4.2")}`,
                },
            },
            unpinnedDigests: {},
            schemaHead: "v1.5.0",
            backups: [],
            alarms: {},
            transition: "first-deploy",
            summary: "first-deploy: schema head moves to v1.5.0 (the data steps run); traffic v1.5.0 10%, v1.4.2 90%",
            url: "http://shop-ecs-lb.eu-west-1.elb.example",
        });
    });
});
