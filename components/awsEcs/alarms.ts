import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { AnalysisConfig } from "../../core/gateConfig";
import { boundedName } from "../naming";
import { tagSlug } from "../../core/releaseTags";

export interface CanaryAlarmArgs {
    readonly app: string;
    readonly component: string;
    readonly version: string;
    readonly targetGroupArnSuffix: pulumi.Output<string>;
    readonly loadBalancerArnSuffix: pulumi.Output<string>;
    readonly analysis: AnalysisConfig;
}

/** CloudWatch's shortest standard period; the promote driver samples its own, shorter windows. */
const PERIOD_SECONDS = 60;

/** `<app>-<component>-<version>-5xx-rate` and `…-p95-latency`. */
export function canaryAlarmNames(app: string, component: string, version: string): [string, string] {
    return [
        boundedName([app, component, tagSlug(version), "5xx-rate"], 255),
        boundedName([app, component, tagSlug(version), "p95-latency"], 255),
    ];
}

/**
 * The 5xx rate and p95 latency of one version's target group, against the
 * thresholds of `release:analysis`. Their names are deterministic and exported,
 * so the promote driver and people watching a canary find them without a lookup.
 */
export function canaryAlarms(name: string, args: CanaryAlarmArgs, parent: pulumi.Resource): aws.cloudwatch.MetricAlarm[] {
    const dimensions = { TargetGroup: args.targetGroupArnSuffix, LoadBalancer: args.loadBalancerArnSuffix };
    const metric = (metricName: string, stat: string) => ({
        namespace: "AWS/ApplicationELB",
        metricName,
        period: PERIOD_SECONDS,
        stat,
        dimensions,
    });
    const [errorRateName, latencyName] = canaryAlarmNames(args.app, args.component, args.version);
    const errorRate = new aws.cloudwatch.MetricAlarm(
        `${name}-5xx-rate`,
        {
            name: errorRateName,
            alarmDescription: `${args.component} ${args.version}: share of 5xx responses above ${args.analysis.maxErrorRate} (release:analysis.maxErrorRate)`,
            comparisonOperator: "GreaterThanThreshold",
            threshold: args.analysis.maxErrorRate,
            evaluationPeriods: 1,
            treatMissingData: "notBreaching",
            metricQueries: [
                { id: "errors", metric: metric("HTTPCode_Target_5XX_Count", "Sum") },
                { id: "requests", metric: metric("RequestCount", "Sum") },
                { id: "rate", expression: "errors / MAX([requests, 1])", label: "5xx rate", returnData: true },
            ],
        },
        { parent },
    );
    const latency = new aws.cloudwatch.MetricAlarm(
        `${name}-p95-latency`,
        {
            name: latencyName,
            alarmDescription: `${args.component} ${args.version}: p95 response time above ${args.analysis.maxP95LatencyMs} ms (release:analysis.maxP95LatencyMs)`,
            comparisonOperator: "GreaterThanThreshold",
            threshold: args.analysis.maxP95LatencyMs / 1000,
            evaluationPeriods: 1,
            treatMissingData: "notBreaching",
            namespace: "AWS/ApplicationELB",
            metricName: "TargetResponseTime",
            extendedStatistic: "p95",
            period: PERIOD_SECONDS,
            dimensions,
        },
        { parent },
    );
    return [errorRate, latency];
}
