import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { AwsSettings } from "../../settings/aws";
import { ComponentSpec } from "../../settings/components";
import { targetGroupName, versionedName } from "../naming";
import { AnalysisConfig } from "../../core/gateConfig";
import { DeployedVersion, TestEndpoint } from "../platform";
import { canaryAlarmNames, canaryAlarms } from "./alarms";
import { TARGET_HEADER } from "./containerDefinition";
import { fargateTaskDefinition, releaseTags } from "./taskDefinition";

/** How long a version's tasks may take to become healthy before the update fails. */
export const SERVICE_HEALTHY_WITHIN = "15m";

/** What every version shares, made once by `EcsPlatform`. */
export interface EcsShared {
    readonly app: string;
    readonly aws: AwsSettings;
    readonly clusterArn: pulumi.Output<string>;
    readonly serviceSecurityGroupId: pulumi.Output<string>;
    readonly executionRoleArn: pulumi.Output<string>;
    readonly logGroupName: pulumi.Output<string>;
    readonly region: pulumi.Output<string>;
    readonly testListenerArn: pulumi.Output<string>;
    /** `http://<load balancer>:<test port>`: where `X-Release-Target` reaches one version. */
    readonly testListenerUrl: pulumi.Output<string>;
    readonly loadBalancerArnSuffix: pulumi.Output<string>;
    /** Thresholds for the canary alarms; none without `release:analysis`. */
    readonly analysis?: AnalysisConfig;
    /** Env var name → secret ARN, per component. */
    readonly secretArns: Record<string, Record<string, pulumi.Output<string>>>;
}

export interface EcsVersionArgs {
    readonly shared: EcsShared;
    readonly version: string;
    readonly components: ComponentSpec[];
    /** Component → `repo@sha256:…` */
    readonly images: Record<string, pulumi.Output<string>>;
    /** Web component → test-listener rule priority (unique among live versions). */
    readonly testRulePriorities: Record<string, number>;
    /** Services start after these: the data steps of a forward upgrade. */
    readonly after: pulumi.Resource[];
}

/**
 * Everything one live version runs on ECS Fargate: per component a task
 * definition and a service, and for web components a target group with a health
 * check on `healthPath`, attached to the test listener by a header rule so smoke
 * tests reach this version before it takes any weight. Nothing here depends on
 * the weights, so shifting traffic or swapping `version` and `previous` leaves
 * it untouched.
 */
export class EcsVersion extends pulumi.ComponentResource implements DeployedVersion {
    public readonly version: string;
    public readonly targets: Record<string, pulumi.Output<string>> = {};
    public readonly ready: pulumi.Resource[] = [];
    public readonly testEndpoint: TestEndpoint;
    public readonly alarmNames: string[] = [];

    constructor(name: string, args: EcsVersionArgs, opts: pulumi.ComponentResourceOptions = {}) {
        super("safe-release:aws:EcsVersion", name, {}, opts);
        this.version = args.version;
        this.testEndpoint = { baseUrl: args.shared.testListenerUrl, headers: { [TARGET_HEADER]: args.version } };
        for (const component of args.components) {
            const attachment = component.role === "web" ? this.targetGroup(name, args, component) : undefined;
            const taskDefinition = fargateTaskDefinition(
                `${name}-${component.name}-task`,
                {
                    shared: args.shared,
                    version: args.version,
                    component,
                    image: args.images[component.name],
                    family: versionedName(args.shared.app, component.name, args.version),
                },
                this,
            );
            this.ready.push(this.service(name, args, component, taskDefinition, attachment));
        }
        this.registerOutputs({ version: args.version, targets: this.targets, alarmNames: this.alarmNames });
    }

    private targetGroup(
        name: string,
        args: EcsVersionArgs,
        component: ComponentSpec,
    ): { group: aws.lb.TargetGroup; rule: aws.lb.ListenerRule } {
        const { shared, version } = args;
        const group = new aws.lb.TargetGroup(
            `${name}-${component.name}-tg`,
            {
                name: targetGroupName(shared.app, component.name, version),
                vpcId: shared.aws.vpcId,
                targetType: "ip",
                protocol: "HTTP",
                port: component.port!,
                deregistrationDelay: shared.aws.deregistrationDelaySeconds,
                healthCheck: {
                    path: component.healthPath,
                    matcher: "200",
                    interval: shared.aws.healthCheckIntervalSeconds,
                    healthyThreshold: shared.aws.healthyThreshold,
                    unhealthyThreshold: 2,
                },
                tags: releaseTags(shared.app, component.name, version),
            },
            { parent: this },
        );
        this.targets[component.name] = group.arn;
        if (shared.analysis !== undefined) {
            canaryAlarms(
                `${name}-${component.name}`,
                {
                    app: shared.app,
                    component: component.name,
                    version,
                    targetGroupArnSuffix: group.arnSuffix,
                    loadBalancerArnSuffix: shared.loadBalancerArnSuffix,
                    analysis: shared.analysis,
                },
                this,
            );
            this.alarmNames.push(...canaryAlarmNames(shared.app, component.name, version));
        }
        const pathConditions =
            component.pathPrefix === undefined ? [] : [{ pathPattern: { values: [component.pathPrefix, `${component.pathPrefix}/*`] } }];
        const rule = new aws.lb.ListenerRule(
            `${name}-${component.name}-test-route`,
            {
                listenerArn: shared.testListenerArn,
                priority: args.testRulePriorities[component.name],
                conditions: [{ httpHeader: { httpHeaderName: TARGET_HEADER, values: [version] } }, ...pathConditions],
                actions: [{ type: "forward", targetGroupArn: group.arn }],
                tags: releaseTags(shared.app, component.name, version),
            },
            { parent: this },
        );
        return { group, rule };
    }

    /**
     * `waitForSteadyState` makes the update wait until the tasks pass their health
     * checks, and the circuit breaker fails it when they never do: the listener,
     * which depends on the services, changes weights only after that.
     */
    private service(
        name: string,
        args: EcsVersionArgs,
        component: ComponentSpec,
        taskDefinition: aws.ecs.TaskDefinition,
        attachment: { group: aws.lb.TargetGroup; rule: aws.lb.ListenerRule } | undefined,
    ): aws.ecs.Service {
        const { shared, version } = args;
        return new aws.ecs.Service(
            `${name}-${component.name}-service`,
            {
                name: versionedName(shared.app, component.name, version),
                cluster: shared.clusterArn,
                taskDefinition: taskDefinition.arn,
                desiredCount: component.desiredCount,
                launchType: "FARGATE",
                networkConfiguration: {
                    subnets: shared.aws.subnetIds,
                    securityGroups: [shared.serviceSecurityGroupId],
                    assignPublicIp: shared.aws.assignPublicIp,
                },
                ...(attachment !== undefined
                    ? {
                          loadBalancers: [
                              { targetGroupArn: attachment.group.arn, containerName: component.name, containerPort: component.port! },
                          ],
                          healthCheckGracePeriodSeconds: 30,
                      }
                    : {}),
                deploymentCircuitBreaker: { enable: true, rollback: true },
                waitForSteadyState: true,
                propagateTags: "SERVICE",
                tags: releaseTags(shared.app, component.name, version),
            },
            // ECS accepts a target group only once a listener uses it: the test-route rule attaches it.
            {
                parent: this,
                dependsOn: [...(attachment !== undefined ? [attachment.rule] : []), ...args.after],
                // The health gate is bounded: tasks that are not healthy by then fail the update.
                customTimeouts: { create: SERVICE_HEALTHY_WITHIN, update: SERVICE_HEALTHY_WITHIN },
            },
        );
    }
}
