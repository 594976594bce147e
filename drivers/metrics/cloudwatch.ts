import { CloudWatchClient, GetMetricDataCommand, GetMetricDataOutput, MetricDataQuery } from "@aws-sdk/client-cloudwatch";
import { awsCall, awsClientConfig, withClient } from "../../core/awsClient";
import { MetricSample, MetricSource } from "../types";

/**
 * The canary's traffic on aws-ecs: the Application Load Balancer's own metrics for the
 * canary version's target group, read with CloudWatch `GetMetricData` (AWS SDK v3).
 * The ALB publishes these once a minute, so every
 * window is widened to whole minutes: a bake or interval shorter than a minute sees
 * the whole minutes around it, and the newest minute may still be filling in.
 */
export interface CloudWatchOptions {
    /** `targetgroup/<name>/<id>`: the `TargetGroup` dimension. */
    readonly targetGroup: string;
    /** `app/<name>/<id>`: the `LoadBalancer` dimension. */
    readonly loadBalancer: string;
    /** Unset uses the SDK's own (`AWS_REGION`, the profile). */
    readonly region?: string;
    /** Where the credentials chain, profile, region and `AWS_ENDPOINT_URL` are read (core/awsClient.ts). */
    readonly env: NodeJS.ProcessEnv;
    /** Injected so tests fix the time range; defaults to the real clock. */
    readonly now?: () => number;
}

export const ALB_NAMESPACE = "AWS/ApplicationELB";
/** Standard resolution: the finest the ALB publishes. */
export const PERIOD_SECONDS = 60;
const MINUTE_MS = PERIOD_SECONDS * 1000;

const TARGET_GROUP_SUFFIX = /^targetgroup\/[A-Za-z0-9-]+\/[0-9a-f]+$/;
const LOAD_BALANCER_SUFFIX = /^app\/[A-Za-z0-9-]+\/[0-9a-f]+$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;

/**
 * `--cloudwatch <targetGroupArnSuffix>,<loadBalancerArnSuffix>`. Whole ARNs are accepted
 * too, since that is what `aws elbv2 describe-target-groups` prints: the suffix is
 * what follows the account id (and `loadbalancer/` for the load balancer).
 */
export function parseCloudWatchTarget(text: string): { targetGroup: string; loadBalancer: string } {
    const parts = text.split(",").map((part) => part.trim().replace(/^arn:[^:]+:elasticloadbalancing:[^:]*:[^:]*:/, ""));
    const targetGroup = parts[0] ?? "";
    const loadBalancer = (parts[1] ?? "").replace(/^loadbalancer\//, "");
    if (parts.length !== 2 || !TARGET_GROUP_SUFFIX.test(targetGroup) || !LOAD_BALANCER_SUFFIX.test(loadBalancer)) {
        throw new Error(
            "`--cloudwatch` must be <targetGroupArnSuffix>,<loadBalancerArnSuffix>, such as " +
                `targetgroup/shop-web-v1-5-0/0123456789abcdef,app/shop/fedcba9876543210; got ${JSON.stringify(text)}`,
        );
    }
    return { targetGroup, loadBalancer };
}

export function parseRegion(text: string): string {
    if (!REGION.test(text)) throw new Error(`\`--region\` must be an AWS region such as eu-west-1; got ${JSON.stringify(text)}`);
    return text;
}

/** The window ending now, widened to whole minutes: start rounded down, end rounded up. */
export function minuteRange(nowMs: number, seconds: number): { start: Date; end: Date } {
    const start = Math.floor((nowMs - seconds * 1000) / MINUTE_MS) * MINUTE_MS;
    const end = Math.max(start + MINUTE_MS, Math.ceil(nowMs / MINUTE_MS) * MINUTE_MS);
    return { start: new Date(start), end: new Date(end) };
}

/** The three queries, ids `requests`, `errors` and `p95`. */
export function metricDataQueries(targetGroup: string, loadBalancer: string): MetricDataQuery[] {
    const dimensions = [
        { Name: "TargetGroup", Value: targetGroup },
        { Name: "LoadBalancer", Value: loadBalancer },
    ];
    const query = (id: string, metricName: string, stat: string) => ({
        Id: id,
        MetricStat: {
            Metric: { Namespace: ALB_NAMESPACE, MetricName: metricName, Dimensions: dimensions },
            Period: PERIOD_SECONDS,
            Stat: stat,
        },
        ReturnData: true,
    });
    return [
        query("requests", "RequestCount", "Sum"),
        query("errors", "HTTPCode_Target_5XX_Count", "Sum"),
        query("p95", "TargetResponseTime", "p95"),
    ];
}

/**
 * The sample in a `GetMetricData` answer. The ALB publishes no datapoint for a minute
 * without requests (or without 5xx answers), so a missing series counts 0. Percentiles
 * of separate minutes cannot be merged exactly; the worst minute's p95 stands for the
 * window, which errs toward a breach.
 */
export function sampleFromMetricData(output: GetMetricDataOutput): MetricSample {
    const results = output.MetricDataResults;
    if (!Array.isArray(results)) throw new Error("CloudWatch GetMetricData answered no `MetricDataResults`");
    const values = (id: string): number[] => {
        const result = results.find((r) => r.Id === id);
        const status = result?.StatusCode;
        if (status === "Forbidden" || status === "InternalError") {
            throw new Error(`CloudWatch GetMetricData answered ${status} for \`${id}\``);
        }
        return (result?.Values ?? []).filter((v) => Number.isFinite(v));
    };
    const sum = (list: number[]) => list.reduce((total, v) => total + v, 0);
    const requests = sum(values("requests"));
    const errors = sum(values("errors"));
    const p95Seconds = values("p95").reduce((worst, v) => Math.max(worst, v), 0);
    if (requests <= 0) return { requests: 0, errorRate: 0, p95LatencyMs: 0 };
    return { requests, errorRate: Math.min(1, errors / requests), p95LatencyMs: Math.round(p95Seconds * 1000 * 1000) / 1000 };
}

export class CloudWatchSource implements MetricSource {
    readonly description: string;

    constructor(private readonly options: CloudWatchOptions) {
        const where = options.region === undefined ? "" : ` in ${options.region}`;
        this.description = `CloudWatch ${ALB_NAMESPACE} metrics of ${options.targetGroup} on ${options.loadBalancer}${where} (whole minutes)`;
    }

    /** The traffic of the last `window.seconds`, widened to whole minutes; a failed call rejects. */
    async sample(window: { readonly seconds: number }): Promise<MetricSample> {
        const { start, end } = minuteRange((this.options.now ?? Date.now)(), window.seconds);
        const { env, region, targetGroup, loadBalancer } = this.options;
        const input = { StartTime: start, EndTime: end, MetricDataQueries: metricDataQueries(targetGroup, loadBalancer) };
        // One window is three series of a few minutes, one page; the paginator would only add a round trip.
        const output = await withClient(new CloudWatchClient(awsClientConfig(env, "CLOUDWATCH", region)), (client) =>
            awsCall("CloudWatch GetMetricData", env, () => client.send(new GetMetricDataCommand(input))),
        );
        return sampleFromMetricData(output);
    }
}
