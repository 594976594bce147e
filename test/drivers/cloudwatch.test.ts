import * as assert from "assert";
import { main } from "../../drivers/cli";
import { CloudWatchSource, minuteRange, parseCloudWatchTarget, sampleFromMetricData } from "../../drivers/metrics/cloudwatch";
import { FakeAws, fakeAws, FakeResponse, SECRET_ENV } from "../support/fakeAws";
import { FakeStack, lineSink } from "./fakeStack";

const TG = "targetgroup/shop-web-v1-5-0/0123456789abcdef";
const LB = "app/shop/fedcba9876543210";
/** 2026-01-05T10:07:30Z: half a minute into a minute. */
const NOW = Date.UTC(2026, 0, 5, 10, 7, 30);

const DIMENSIONS = [
    { Name: "TargetGroup", Value: TG },
    { Name: "LoadBalancer", Value: LB },
];
const QUERIES = JSON.stringify([
    {
        Id: "requests",
        MetricStat: {
            Metric: { Namespace: "AWS/ApplicationELB", MetricName: "RequestCount", Dimensions: DIMENSIONS },
            Period: 60,
            Stat: "Sum",
        },
        ReturnData: true,
    },
    {
        Id: "errors",
        MetricStat: {
            Metric: { Namespace: "AWS/ApplicationELB", MetricName: "HTTPCode_Target_5XX_Count", Dimensions: DIMENSIONS },
            Period: 60,
            Stat: "Sum",
        },
        ReturnData: true,
    },
    {
        Id: "p95",
        MetricStat: {
            Metric: { Namespace: "AWS/ApplicationELB", MetricName: "TargetResponseTime", Dimensions: DIMENSIONS },
            Period: 60,
            Stat: "p95",
        },
        ReturnData: true,
    },
]);

function metricData(requests: number[], errors: number[], p95: number[]): FakeResponse {
    const result = (Id: string, Values: number[]) => ({
        Id,
        Label: Id,
        Timestamps: Values.map(() => "2026-01-05T10:06:00+00:00"),
        Values,
        StatusCode: "Complete",
    });
    return { json: { MetricDataResults: [result("requests", requests), result("errors", errors), result("p95", p95)], Messages: [] } };
}

const ENV = { PATH: process.env.PATH, AWS_REGION: "eu-west-1", AWS_PROFILE: "ops", ...SECRET_ENV };

function source(fake: FakeAws, region?: string): CloudWatchSource {
    return new CloudWatchSource({
        targetGroup: TG,
        loadBalancer: LB,
        region,
        env: { ...ENV, SAFE_RELEASE_AWS_CLI: fake.program },
        now: () => NOW,
    });
}

function assertNoSecretArgs(fake: FakeAws): void {
    for (const call of fake.calls()) {
        for (const secret of [...Object.values(SECRET_ENV), "s3cret-db-passw0rd"])
            assert.ok(!call.argv.join(" ").includes(secret), call.argv.join(" "));
    }
}

describe("CloudWatch metric source (fake aws CLI)", () => {
    it("queries the target group's ALB metrics over whole minutes and computes the rates", async () => {
        const fake = await fakeAws([{ command: "cloudwatch get-metric-data", responses: [metricData([400], [12], [0.42])] }]);
        const cloudwatch = source(fake, "eu-central-1");
        assert.deepStrictEqual(await cloudwatch.sample({ seconds: 30 }), { requests: 400, errorRate: 0.03, p95LatencyMs: 420 });
        assert.deepStrictEqual(fake.argvs(), [
            [
                "cloudwatch",
                "get-metric-data",
                "--start-time",
                "2026-01-05T10:07:00Z",
                "--end-time",
                "2026-01-05T10:08:00Z",
                "--metric-data-queries",
                QUERIES,
            ],
        ]);
        assert.deepStrictEqual(fake.calls()[0].env, { AWS_REGION: "eu-central-1", AWS_PROFILE: "ops", AWS_PAGER: "" });
        assert.strictEqual(
            cloudwatch.description,
            `CloudWatch AWS/ApplicationELB metrics of ${TG} on ${LB} in eu-central-1 (whole minutes)`,
        );
        assertNoSecretArgs(fake);
    });

    it("sums several minutes, takes the worst minute's p95 and counts a missing 5xx series as none", async () => {
        const fake = await fakeAws([{ command: "cloudwatch get-metric-data", responses: [metricData([100, 300], [], [0.2, 0.61])] }]);
        assert.deepStrictEqual(await source(fake).sample({ seconds: 120 }), { requests: 400, errorRate: 0, p95LatencyMs: 610 });
        assert.deepStrictEqual(fake.argvs()[0].slice(2, 6), ["--start-time", "2026-01-05T10:05:00Z", "--end-time", "2026-01-05T10:08:00Z"]);
        assert.deepStrictEqual(fake.calls()[0].env, { AWS_REGION: "eu-west-1", AWS_PROFILE: "ops", AWS_PAGER: "" });
    });

    it("reads no datapoints as no requests", async () => {
        const fake = await fakeAws([{ command: "cloudwatch get-metric-data", responses: [metricData([], [], [])] }]);
        assert.deepStrictEqual(await source(fake).sample({ seconds: 30 }), { requests: 0, errorRate: 0, p95LatencyMs: 0 });
    });

    it("rejects when aws fails, with the CLI's error line and no secret", async () => {
        const stderr = `\nAn error occurred (AccessDenied) when calling the GetMetricData operation: token ${SECRET_ENV.AWS_SESSION_TOKEN} is not authorized\n`;
        const fake = await fakeAws([{ command: "cloudwatch get-metric-data", responses: [{ stderr, exit: 254 }] }]);
        await assert.rejects(source(fake).sample({ seconds: 30 }), {
            message:
                "aws cloudwatch get-metric-data failed (exit 254): An error occurred (AccessDenied) when calling the GetMetricData operation: token *** is not authorized",
        });
    });

    it("rejects an answer without results or with a failed query", () => {
        assert.throws(() => sampleFromMetricData({}), { message: "aws cloudwatch get-metric-data printed no `MetricDataResults`" });
        assert.throws(() => sampleFromMetricData({ MetricDataResults: [{ Id: "requests", Values: [], StatusCode: "Forbidden" }] }), {
            message: "aws cloudwatch get-metric-data answered Forbidden for `requests`",
        });
    });

    it("widens windows to whole minutes and parses suffixes or whole ARNs", () => {
        assert.deepStrictEqual(minuteRange(NOW, 30), { start: "2026-01-05T10:07:00Z", end: "2026-01-05T10:08:00Z" });
        assert.deepStrictEqual(minuteRange(Date.UTC(2026, 0, 5, 10, 8), 60), {
            start: "2026-01-05T10:07:00Z",
            end: "2026-01-05T10:08:00Z",
        });
        assert.deepStrictEqual(minuteRange(Date.UTC(2026, 0, 5, 10, 8), 0.1), {
            start: "2026-01-05T10:07:00Z",
            end: "2026-01-05T10:08:00Z",
        });
        assert.deepStrictEqual(parseCloudWatchTarget(`${TG},${LB}`), { targetGroup: TG, loadBalancer: LB });
        assert.deepStrictEqual(
            parseCloudWatchTarget(
                `arn:aws:elasticloadbalancing:eu-west-1:123456789012:${TG}, arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/${LB}`,
            ),
            { targetGroup: TG, loadBalancer: LB },
        );
        assert.throws(() => parseCloudWatchTarget(`${TG},${LB},extra`), {
            message: `\`--cloudwatch\` must be <targetGroupArnSuffix>,<loadBalancerArnSuffix>, such as targetgroup/shop-web-v1-5-0/0123456789abcdef,app/shop/fedcba9876543210; got "${TG},${LB},extra"`,
        });
    });

    it("drives promote: a healthy window, then two failed calls in a row revert the canary", async () => {
        const fake = await fakeAws([
            {
                command: "cloudwatch get-metric-data",
                responses: [
                    metricData([400], [2], [0.1]),
                    metricData([400], [2], [0.1]),
                    { stderr: "An error occurred (Throttling) when calling the GetMetricData operation: Rate exceeded\n", exit: 254 },
                ],
            },
        ]);
        const stack = new FakeStack("prod", {
            "release:version": "v1.5.0",
            "release:previous": "v1.4.2",
            "release:canaryWeight": "0",
            "release:analysis": JSON.stringify({ intervalSeconds: 0.05, maxErrorRate: 0.01, maxP95LatencyMs: 500, minRequests: 50 }),
        });
        const stdout = lineSink();
        const stderr = lineSink();
        const argv = ["promote", "prod", "--steps", "10,100", "--bake", "2s", "--cloudwatch", `${TG},${LB}`, "--region", "eu-central-1"];
        const env = { ...ENV, SAFE_RELEASE_AWS_CLI: fake.program };
        const code = await main(argv, { env, stdout: stdout.stream, stderr: stderr.stream }, { openStack: async () => stack });
        const progress = stderr.lines();
        assert.strictEqual(code, 1, progress.join("\n"));
        assert.deepStrictEqual(stack.calls, ["set release:canaryWeight=10", "up", "set release:canaryWeight=0", "up"]);
        assert.ok(
            progress.includes(`metrics: CloudWatch AWS/ApplicationELB metrics of ${TG} on ${LB} in eu-central-1 (whole minutes)`),
            progress.join("\n"),
        );
        assert.ok(
            progress.some((l) => /weight 10%: .* left; requests 400, error rate 0\.50%, p95 100 ms: healthy$/.test(l)),
            progress.join("\n"),
        );
        const revert = stdout
            .lines()
            .map((l) => JSON.parse(l) as Record<string, unknown>)
            .find((e) => e.event === "promote_revert");
        assert.ok(revert !== undefined, stdout.lines().join("\n"));
        assert.strictEqual(
            revert.reason,
            "metrics unavailable twice in a row: aws cloudwatch get-metric-data failed (exit 254): An error occurred (Throttling) when calling the GetMetricData operation: Rate exceeded",
        );
        assert.ok(fake.calls().every((call) => call.env.AWS_REGION === "eu-central-1"));
        assertNoSecretArgs(fake);
        for (const line of [...stdout.lines(), ...progress]) {
            for (const secret of Object.values(SECRET_ENV)) assert.ok(!line.includes(secret), line);
        }
    });
});
