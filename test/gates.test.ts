import { strict as assert } from "assert";
import { ecsConfig } from "./support/fixtures";
import { isSecret, plainTextPaths, resource, resourcesOfType } from "./support/inspect";
import { runProgram } from "./support/mockEngine";
import { StackConfig } from "./support/mockProviders";
import { planDiff } from "./support/planDiff";

const SMOKE = [
    { name: "health", path: "/health" },
    { name: "internal health", path: "/health/internal", useOperatorToken: true, expectJson: { status: "ok" } },
];
const TOKEN = "op-token-7f3a9c";

function gated(overrides: StackConfig = {}): StackConfig {
    return ecsConfig({
        "release:version": "v1.5.0",
        "release:previous": "v1.4.2",
        "release:smoke": SMOKE,
        "release:smokeOperatorToken": TOKEN,
        "release:analysis": { intervalSeconds: 30, maxErrorRate: 0.02, maxP95LatencyMs: 800 },
        ...overrides,
    });
}

const run = (config: StackConfig) => runProgram({ config, secretKeys: ["release:smokeOperatorToken"] });

describe("gates on aws-ecs: smoke tests and canary alarms", () => {
    it("smoke-tests each version through the test listener after its services, and the listener waits for it", async () => {
        const result = await run(gated());
        const smoke = resource(result, "command:local:Command", "shop-smoke-v1.5.0-run");
        assert.equal(
            smoke.inputs.create,
            "node ops/bin/safe-release-ops.js smoke --base-url http://shop-ecs-lb.eu-west-1.elb.example:8443 --checks - --header X-Release-Target:v1.5.0",
        );
        assert.deepEqual(JSON.parse(smoke.inputs.stdin), SMOKE);
        const services = resourcesOfType(result, "aws:ecs/service:Service").filter((s) => s.name.includes("v1.5.0"));
        for (const service of services) assert.ok(smoke.dependencies.includes(service.urn), `smoke after ${service.name}`);
        const listener = resource(result, "aws:lb/listener:Listener", "shop-ecs-listener");
        assert.ok(listener.dependencies.includes(smoke.urn), "weights change only after the smoke test passed");
        assert.ok(listener.dependencies.includes(resource(result, "command:local:Command", "shop-smoke-v1.4.2-run").urn));
    });

    it("passes the operator token as a secret environment variable only", async () => {
        const result = await run(gated());
        const smoke = resource(result, "command:local:Command", "shop-smoke-v1.5.0-run");
        const env = smoke.inputs.environment;
        assert.ok(isSecret(env) ? env.value.SMOKE_OPERATOR_TOKEN === TOKEN : isSecret(env.SMOKE_OPERATOR_TOKEN));
        for (const r of result.resources.values()) assert.deepEqual(plainTextPaths(r.inputs, TOKEN), [], `${r.type} ${r.name}`);
        assert.ok(!JSON.stringify(result.outputs).includes(TOKEN));
    });

    it("creates a 5xx-rate and a p95-latency alarm per version and exports their names", async () => {
        const result = await run(gated());
        const rate = resource(result, "aws:cloudwatch/metricAlarm:MetricAlarm", "shop-ecs-v1.5.0-api-5xx-rate");
        assert.equal(rate.inputs.name, "shop-api-v1-5-0-5xx-rate");
        assert.equal(rate.inputs.threshold, 0.02);
        assert.deepEqual(
            rate.inputs.metricQueries.map((q: any) => q.id),
            ["errors", "requests", "rate"],
        );
        assert.deepEqual(rate.inputs.metricQueries[0].metric.dimensions, {
            TargetGroup: "shop-ecs-v1.5.0-api-tg-suffix",
            LoadBalancer: "shop-ecs-lb-suffix",
        });
        const latency = resource(result, "aws:cloudwatch/metricAlarm:MetricAlarm", "shop-ecs-v1.5.0-api-p95-latency");
        assert.deepEqual([latency.inputs.extendedStatistic, latency.inputs.threshold], ["p95", 0.8]);
        assert.deepEqual(result.outputs.alarms, {
            "v1.5.0": ["shop-api-v1-5-0-5xx-rate", "shop-api-v1-5-0-p95-latency"],
            "v1.4.2": ["shop-api-v1-4-2-5xx-rate", "shop-api-v1-4-2-p95-latency"],
        });
    });

    it("opens the test listener to the configured CIDRs instead of the VPC", async () => {
        const result = await run(
            gated({
                "release:aws": {
                    vpcId: "vpc-0abc12345def67890",
                    subnetIds: ["subnet-0aaa1111bbbb2222c"],
                    dataStepsIn: "local",
                    testListenerCidrs: ["203.0.113.0/24"],
                },
            }),
        );
        const group = resource(result, "aws:ec2/securityGroup:SecurityGroup", "shop-ecs-lb");
        assert.deepEqual(group.inputs.ingress.find((i: any) => i.fromPort === 8443).cidrBlocks, ["203.0.113.0/24"]);
    });

    it("a traffic shift re-runs no smoke test and touches no alarm", async () => {
        const diff = await planDiff(gated({ "release:canaryWeight": 10 }), gated({ "release:canaryWeight": 50 }), {
            secretKeys: ["release:smokeOperatorToken"],
        });
        assert.deepEqual(diff.names("updated"), ["aws:lb/listener:Listener::shop-ecs-listener"]);
        assert.deepEqual([...diff.names("created"), ...diff.names("deleted")], []);
    });

    it("changed checks change the smoke resources, whose triggers make the engine replace and so re-run them", async () => {
        const diff = await planDiff(
            gated({ "release:canaryWeight": 0 }),
            gated({ "release:canaryWeight": 0, "release:smoke": [SMOKE[0]] }),
            { secretKeys: ["release:smokeOperatorToken"] },
        );
        assert.deepEqual(diff.names("updated"), [
            "command:local:Command::shop-smoke-v1.4.2-run",
            "command:local:Command::shop-smoke-v1.5.0-run",
        ]);
    });
});

describe("gates on docker-host: smoke tests through the router", () => {
    it("smoke-tests the new version with X-Release-Target on the router once the router carries it, at weight 0", async () => {
        const { dockerConfig } = await import("./support/dockerFixtures");
        const config = dockerConfig({
            "release:version": "v1.5.0",
            "release:previous": "v1.4.2",
            "release:canaryWeight": 0,
            "release:smoke": SMOKE,
            "release:smokeOperatorToken": TOKEN,
        });
        const result = await run(config);
        const smoke = resource(result, "command:local:Command", "shop-smoke-v1.5.0-run");
        const router = resource(result, "command:local:Command", "shop-docker-router-config");
        assert.equal(
            smoke.inputs.create,
            "node ops/bin/safe-release-ops.js smoke --base-url http://localhost:8080 --checks - --header X-Release-Target:v1.5.0",
        );
        assert.ok(smoke.dependencies.includes(router.urn), "the router reaches the version before its smoke test");
        assert.ok(!router.dependencies.includes(smoke.urn));
        assert.deepEqual(result.outputs.weights, { "v1.5.0": 0, "v1.4.2": 100 });
    });
});
