import * as assert from "assert";
import { CloudWatchClient, GetMetricDataCommand, PutMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import { mockClient } from "aws-sdk-client-mock";
import { awsClientConfig } from "../../core/awsClient";
import { main } from "../../drivers/cli";
import {
    CloudWatchSource,
    metricDataQueries,
    minuteRange,
    parseCloudWatchTarget,
    sampleFromMetricData,
} from "../../drivers/metrics/cloudwatch";
import { startMoto, TestMoto } from "../support/moto";
import { SECRET_ENV } from "../support/opsRun";
import { FakeStack, lineSink } from "./fakeStack";

const TG = "targetgroup/shop-web-v1-5-0/0123456789abcdef";
const LB = "app/shop/fedcba9876543210";
/** 2026-01-05T10:07:30Z: half a minute into a minute. */
const NOW = Date.UTC(2026, 0, 5, 10, 7, 30);
const MINUTE = 60_000;

const DIMENSIONS = [
    { Name: "TargetGroup", Value: TG },
    { Name: "LoadBalancer", Value: LB },
];

describe("CloudWatch metric source against moto's CloudWatch", function () {
    // moto and the SDK's first load take seconds of CPU on a busy machine; each wait below is bounded on its own.
    this.timeout(60_000);
    let moto: TestMoto;
    let cloudwatch: CloudWatchClient;
    let env: NodeJS.ProcessEnv;
    /** Half a minute into a minute ten minutes ago: CloudWatch keeps what is put with a timestamp of the last two weeks. */
    const now = Math.floor(Date.now() / MINUTE) * MINUTE - 10 * MINUTE + 30_000;
    const minuteStart = now - 30_000;

    before(async () => {
        moto = await startMoto();
        cloudwatch = new CloudWatchClient(awsClientConfig(moto.env, "CLOUDWATCH"));
        env = { ...moto.env, ...SECRET_ENV };
    });
    after(async () => {
        cloudwatch?.destroy();
        await moto?.stop();
    });

    async function put(metric: string, at: number, value: number, dimensions = DIMENSIONS): Promise<void> {
        await cloudwatch.send(
            new PutMetricDataCommand({
                Namespace: "AWS/ApplicationELB",
                MetricData: [{ MetricName: metric, Dimensions: dimensions, Timestamp: new Date(at), Value: value }],
            }),
        );
    }

    it("sums the target group's requests and 5xx answers over the window's whole minutes", async () => {
        // In the window (this minute and the one before it), outside it, and another target group's.
        await put("RequestCount", minuteStart + 5_000, 300);
        await put("RequestCount", minuteStart - MINUTE + 1_000, 100);
        await put("HTTPCode_Target_5XX_Count", minuteStart + 10_000, 12);
        await put("RequestCount", minuteStart - 2 * MINUTE, 5_000);
        await put("RequestCount", minuteStart + 5_000, 7_000, [
            DIMENSIONS[0],
            { Name: "LoadBalancer", Value: "app/other/0123456789abcdef" },
        ]);
        const source = new CloudWatchSource({ targetGroup: TG, loadBalancer: LB, env, now: () => now });
        // moto computes no percentile statistics: the p95 series comes back without values (see the next test).
        assert.deepStrictEqual(await source.sample({ seconds: 60 }), { requests: 400, errorRate: 0.03, p95LatencyMs: 0 });
        assert.deepStrictEqual(await source.sample({ seconds: 30 }), { requests: 300, errorRate: 0.04, p95LatencyMs: 0 });
        assert.strictEqual(source.description, `CloudWatch AWS/ApplicationELB metrics of ${TG} on ${LB} (whole minutes)`);
    });

    it("reads no datapoints as no requests", async () => {
        const source = new CloudWatchSource({ targetGroup: TG, loadBalancer: "app/quiet/fedcba9876543210", env, now: () => now });
        assert.deepStrictEqual(await source.sample({ seconds: 60 }), { requests: 0, errorRate: 0, p95LatencyMs: 0 });
    });

    it("rejects when CloudWatch refuses the call, naming it, with an echoed secret scrubbed (aws-sdk-client-mock: moto grants every call)", async () => {
        const mock = mockClient(CloudWatchClient);
        try {
            const denied = Object.assign(new Error(`token ${SECRET_ENV.AWS_SESSION_TOKEN} is not authorized`), { name: "AccessDenied" });
            mock.on(GetMetricDataCommand).rejects(denied);
            const source = new CloudWatchSource({ targetGroup: TG, loadBalancer: LB, env, now: () => now });
            await assert.rejects(source.sample({ seconds: 30 }), {
                message: "CloudWatch GetMetricData failed: AccessDenied: token *** is not authorized",
            });
        } finally {
            mock.restore();
        }
    });

    it("takes the worst minute's p95, sums several minutes and counts a missing 5xx series as none", () => {
        const result = (Id: string, Values: number[]) => ({ Id, Values, StatusCode: "Complete" as const });
        assert.deepStrictEqual(
            sampleFromMetricData({ MetricDataResults: [result("requests", [100, 300]), result("errors", []), result("p95", [0.2, 0.61])] }),
            { requests: 400, errorRate: 0, p95LatencyMs: 610 },
        );
        assert.throws(() => sampleFromMetricData({}), { message: "CloudWatch GetMetricData answered no `MetricDataResults`" });
        assert.throws(() => sampleFromMetricData({ MetricDataResults: [{ Id: "requests", Values: [], StatusCode: "Forbidden" }] }), {
            message: "CloudWatch GetMetricData answered Forbidden for `requests`",
        });
    });

    it("asks for the three ALB series at one-minute resolution", () => {
        const query = (Id: string, MetricName: string, Stat: string) => ({
            Id,
            MetricStat: { Metric: { Namespace: "AWS/ApplicationELB", MetricName, Dimensions: DIMENSIONS }, Period: 60, Stat },
            ReturnData: true,
        });
        assert.deepStrictEqual(metricDataQueries(TG, LB), [
            query("requests", "RequestCount", "Sum"),
            query("errors", "HTTPCode_Target_5XX_Count", "Sum"),
            query("p95", "TargetResponseTime", "p95"),
        ]);
    });

    it("widens windows to whole minutes and parses suffixes or whole ARNs", () => {
        const at = (h: number, m: number) => new Date(Date.UTC(2026, 0, 5, h, m));
        assert.deepStrictEqual(minuteRange(NOW, 30), { start: at(10, 7), end: at(10, 8) });
        assert.deepStrictEqual(minuteRange(Date.UTC(2026, 0, 5, 10, 8), 60), { start: at(10, 7), end: at(10, 8) });
        assert.deepStrictEqual(minuteRange(Date.UTC(2026, 0, 5, 10, 8), 0.1), { start: at(10, 7), end: at(10, 8) });
        assert.deepStrictEqual(minuteRange(NOW, 120), { start: at(10, 5), end: at(10, 8) });
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

    it("drives promote: a healthy window, then two failed calls in a row revert the canary (aws-sdk-client-mock for the failures)", async () => {
        // moto cannot be made to fail one call on demand; the healthy windows come from the mock too, so the bake sees one series.
        const mock = mockClient(CloudWatchClient);
        try {
            const healthy = {
                MetricDataResults: [
                    { Id: "requests", Values: [400], StatusCode: "Complete" as const },
                    { Id: "errors", Values: [2], StatusCode: "Complete" as const },
                    { Id: "p95", Values: [0.1], StatusCode: "Complete" as const },
                ],
            };
            const throttled = Object.assign(new Error("Rate exceeded"), { name: "Throttling" });
            mock.on(GetMetricDataCommand).resolvesOnce(healthy).resolvesOnce(healthy).rejects(throttled);
            const stack = new FakeStack("prod", {
                "release:version": "v1.5.0",
                "release:previous": "v1.4.2",
                "release:canaryWeight": "0",
                "release:analysis": JSON.stringify({ intervalSeconds: 0.05, maxErrorRate: 0.01, maxP95LatencyMs: 500, minRequests: 50 }),
            });
            const stdout = lineSink();
            const stderr = lineSink();
            const argv = [
                "promote",
                "prod",
                "--steps",
                "10,100",
                "--bake",
                "2s",
                "--cloudwatch",
                `${TG},${LB}`,
                "--region",
                "eu-central-1",
            ];
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
                "metrics unavailable twice in a row: CloudWatch GetMetricData failed: Throttling: Rate exceeded",
            );
            for (const call of mock.calls()) {
                assert.strictEqual(await (call.thisValue as CloudWatchClient).config.region(), "eu-central-1");
            }
            for (const line of [...stdout.lines(), ...progress]) {
                for (const secret of Object.values(SECRET_ENV)) assert.ok(!line.includes(secret), line);
            }
        } finally {
            mock.restore();
        }
    });
});
