import {
    ConfigError,
    fail,
    optionalBoolean,
    optionalInteger,
    optionalString,
    optionalStringList,
    rejectUnknownKeys,
    requireObject,
    requireString,
} from "./checks";
import { RUNNER_KEYS, RunnerSettings, parseRunnerSettings } from "./awsRunner";

/**
 * Where the `aws-ecs` platform runs. The VPC and its subnets are taken from
 * config (they usually belong to a platform team and outlive any one service);
 * the cluster, load balancer, listener and security groups are created by the
 * program because their lifecycle is the service's.
 */
export interface AwsSettings extends RunnerSettings {
    readonly vpcId: string;
    /** Subnets the tasks run in (private ones, normally). */
    readonly subnetIds: string[];
    /** Subnets the load balancer listens in. @default subnetIds */
    readonly loadBalancerSubnetIds: string[];
    /** An internal load balancer is reachable only inside the VPC. @default false */
    readonly internal: boolean;
    /** ACM certificate: when set, the listener serves HTTPS on 443 (port 80 redirects to it), and so does the test listener on 8443. */
    readonly certificateArn?: string;
    /** Deletion protection on the load balancer; prod turns it on. @default false */
    readonly deletionProtection: boolean;
    /** Give tasks public IPs (only for subnets without a NAT). @default false */
    readonly assignPublicIp: boolean;
    /** Days the container logs are kept. @default 30 */
    readonly logRetentionDays: number;
    /** Target-group health check interval. @default 10 */
    readonly healthCheckIntervalSeconds: number;
    /** Consecutive successes before a target takes traffic. @default 2 */
    readonly healthyThreshold: number;
    /** Seconds a draining target keeps its connections. @default 30 */
    readonly deregistrationDelaySeconds: number;
    /**
     * Who may reach the test listener (port 8443), where smoke tests address one
     * version by `X-Release-Target`: where the smoke tests run must be in here (the
     * runner tasks' subnets, or the machine running `pulumi up` with `dataStepsIn: local`).
     * @default the VPC's CIDR
     */
    readonly testListenerCidrs: string[];
    /**
     * A DNS name of yours, covered by `certificateArn`, that resolves to the load balancer: the
     * smoke tests address the HTTPS test listener by it, so its certificate verifies (the load
     * balancer's own name is not on it). Required with `certificateArn`.
     */
    readonly testHostname?: string;
}

export const AWS_KEYS = [
    "vpcId",
    "subnetIds",
    "loadBalancerSubnetIds",
    "internal",
    "certificateArn",
    "deletionProtection",
    "assignPublicIp",
    "logRetentionDays",
    "healthCheckIntervalSeconds",
    "healthyThreshold",
    "deregistrationDelaySeconds",
    "testListenerCidrs",
    "testHostname",
    ...RUNNER_KEYS,
] as const;

/** The retention periods CloudWatch Logs accepts. */
const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

export function parseAwsSettings(value: unknown): AwsSettings {
    const key = "release:aws";
    if (value === undefined) fail(key, 'set when `release:platform` is "aws-ecs" (at least `vpcId` and `subnetIds`)', value);
    const raw = requireObject(key, value);
    rejectUnknownKeys(key, raw, AWS_KEYS);
    const vpcId = requireString(`${key}.vpcId`, raw.vpcId);
    if (!/^vpc-[0-9a-f]{8,17}$/.test(vpcId)) fail(`${key}.vpcId`, "a VPC id such as `vpc-0abc12345def67890`", vpcId);
    const subnetIds = subnetList(`${key}.subnetIds`, raw.subnetIds);
    const logRetentionDays = optionalInteger(`${key}.logRetentionDays`, raw.logRetentionDays, 1, 3653) ?? 30;
    if (!LOG_RETENTION_DAYS.includes(logRetentionDays)) {
        fail(`${key}.logRetentionDays`, `one of the CloudWatch retention periods ${LOG_RETENTION_DAYS.join(", ")}`, raw.logRetentionDays);
    }
    const certificateArn = optionalString(`${key}.certificateArn`, raw.certificateArn);
    if (certificateArn !== undefined && !/^arn:aws[a-z-]*:acm:/.test(certificateArn)) {
        fail(`${key}.certificateArn`, "an ACM certificate ARN (`arn:aws:acm:…`)", certificateArn);
    }
    const testHostname = optionalString(`${key}.testHostname`, raw.testHostname);
    if (testHostname !== undefined && !/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/.test(testHostname)) {
        fail(`${key}.testHostname`, "a lower-case DNS name such as `release-test.shop.example.com`", testHostname);
    }
    if (certificateArn !== undefined && testHostname === undefined) {
        throw new ConfigError(
            `\`${key}.testHostname\` is required with \`${key}.certificateArn\`: the test listener then serves HTTPS, and the smoke ` +
                "tests must address it by a name its certificate covers (the load balancer's own is not): a DNS record of yours " +
                "resolving to the load balancer, such as `testHostname: release-test.shop.example.com`",
        );
    }
    const settings = {
        vpcId,
        subnetIds,
        loadBalancerSubnetIds:
            raw.loadBalancerSubnetIds === undefined ? subnetIds : subnetList(`${key}.loadBalancerSubnetIds`, raw.loadBalancerSubnetIds),
        internal: optionalBoolean(`${key}.internal`, raw.internal) ?? false,
        ...(certificateArn !== undefined ? { certificateArn } : {}),
        deletionProtection: optionalBoolean(`${key}.deletionProtection`, raw.deletionProtection) ?? false,
        assignPublicIp: optionalBoolean(`${key}.assignPublicIp`, raw.assignPublicIp) ?? false,
        logRetentionDays,
        healthCheckIntervalSeconds: optionalInteger(`${key}.healthCheckIntervalSeconds`, raw.healthCheckIntervalSeconds, 5, 300) ?? 10,
        healthyThreshold: optionalInteger(`${key}.healthyThreshold`, raw.healthyThreshold, 2, 10) ?? 2,
        deregistrationDelaySeconds: optionalInteger(`${key}.deregistrationDelaySeconds`, raw.deregistrationDelaySeconds, 0, 3600) ?? 30,
        testListenerCidrs: cidrList(`${key}.testListenerCidrs`, raw.testListenerCidrs),
        ...(testHostname !== undefined ? { testHostname } : {}),
        ...parseRunnerSettings(key, raw),
    };
    checkSmokeReach(key, settings);
    return settings;
}

/**
 * Smoke tasks inside the VPC reach an internet-facing load balancer by its public
 * addresses, so their packets arrive from the NAT gateways' addresses (or the tasks' own
 * public IPs), never from the VPC's range that the test listener admits by default.
 */
function checkSmokeReach(key: string, settings: AwsSettings): void {
    if (settings.dataStepsIn !== "task" || settings.internal || settings.testListenerCidrs.length > 0) return;
    throw new ConfigError(
        `\`${key}.testListenerCidrs\` is required when \`${key}.dataStepsIn\` is "task" and the load balancer is internet-facing: ` +
            "the smoke tasks reach it from your NAT gateways' public addresses" +
            (settings.assignPublicIp ? " (with `assignPublicIp`, from their own, which no rule can name: set `internal: true`)" : "") +
            ", not from the VPC's range; set it to those addresses, such as `testListenerCidrs: [203.0.113.10/32]`, or set `internal: true`",
    );
}

function subnetList(key: string, value: unknown): string[] {
    const ids = optionalStringList(key, value);
    if (ids === undefined || ids.length === 0) fail(key, "a list of at least one subnet id", value);
    ids.forEach((id, i) => {
        if (!/^subnet-[0-9a-f]{8,17}$/.test(id)) fail(`${key}[${i}]`, "a subnet id such as `subnet-0abc12345def67890`", id);
    });
    return ids;
}

function cidrList(key: string, value: unknown): string[] {
    const cidrs = optionalStringList(key, value) ?? [];
    cidrs.forEach((cidr, i) => {
        if (!/^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/.test(cidr)) fail(`${key}[${i}]`, "an IPv4 CIDR such as `203.0.113.0/24`", cidr);
        if (cidr.endsWith("/0"))
            fail(`${key}[${i}]`, "narrower than the whole internet: the test listener reaches versions that take no traffic yet", cidr);
    });
    return cidrs;
}
