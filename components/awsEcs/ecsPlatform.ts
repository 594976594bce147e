import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { AwsSettings } from "../../settings/aws";
import { ComponentSpec } from "../../settings/components";
import { OPS } from "../data/opsCommand";
import { imagesCheck } from "../data/rollbackCheck";
import { testRulePriority, versionedName } from "../naming";
import { OneOffTask, PlatformAdapter, PlatformArgs, Routing, VersionImages, WeightedVersion, WriterControl } from "../platform";
import { TEST_LISTENER_PORT } from "./containerDefinition";
import { EcsShared, EcsVersion } from "./ecsVersion";
import { oneOffTaskDefinition } from "./taskDefinition";
import { forwardAction, routeRules } from "./routing";
import { executionRole, secretArnsByComponent, storedSecrets } from "./secrets";
import { StepRunner } from "../data/stepRunner";
import { releaseRunner } from "./runnerTask";
import { rehearsalSecretArn } from "./rehearsalSecret";
import { fixedRehearsalDatabase } from "../../core/rehearsalDatabase";
import { imageRetentionPolicies, releasedImagesTag } from "./imageRetention";

/** The test listener's TLS policy: the main listener's (TLS 1.3, 1.2 as the floor). */
const TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06";

/**
 * The `aws-ecs` platform: an ECS cluster, an application load balancer with a
 * weighted listener and a VPC-only test listener, and their security groups,
 * shared by every version; `deployVersion` adds one `EcsVersion` per live version.
 */
export class EcsPlatform extends pulumi.ComponentResource implements PlatformAdapter {
    private readonly name: string;
    private readonly components: ComponentSpec[];
    private readonly settings: AwsSettings;
    private readonly shared: EcsShared;
    private readonly loadBalancer: aws.lb.LoadBalancer;
    /** Rule priority → version, to refuse two live versions sharing a test-listener priority. */
    private readonly usedPriorities = new Map<number, string>();
    /** Set with `release:aws.dataStepsIn: task`: the data steps and smoke tests run as tasks of the release runner. */
    public readonly stepRunner?: StepRunner;
    /** With `release:migrate.rehearse`: the secret whose DATABASE_URL names the rehearsal's fixed scratch database. */
    private readonly rehearsalSecretArn?: pulumi.Output<string>;

    constructor(name: string, args: PlatformArgs, opts: pulumi.ComponentResourceOptions = {}) {
        super("safe-release:aws:EcsPlatform", name, {}, opts);
        const { config } = args;
        this.name = name;
        this.components = config.components;
        this.settings = config.aws!;
        const settings = this.settings;

        const logGroup = new aws.cloudwatch.LogGroup(
            `${name}-logs`,
            { name: `/safe-release/${config.app}`, retentionInDays: settings.logRetentionDays },
            { parent: this },
        );
        const storedSecret = storedSecrets(name, config, args.secrets, this);
        const secretArns = secretArnsByComponent(config, storedSecret);
        this.rehearsalSecretArn = rehearsalSecretArn(name, config, args.secrets, this);
        const role = executionRole(name, secretArns, this, this.rehearsalSecretArn !== undefined ? [this.rehearsalSecretArn] : []);
        const cluster = new aws.ecs.Cluster(
            name,
            { name: config.app, settings: [{ name: "containerInsights", value: "enabled" }] },
            { parent: this },
        );

        const webPorts = config.components.filter((c) => c.port !== undefined).map((c) => c.port!);
        const listenerPorts = settings.certificateArn === undefined ? [80] : [80, 443];
        const vpc = aws.ec2.getVpcOutput({ id: settings.vpcId }, { parent: this });
        const lbGroup = new aws.ec2.SecurityGroup(
            `${name}-lb`,
            {
                vpcId: settings.vpcId,
                description: `load balancer of ${config.app}: listener ports from anywhere, the test listener from the VPC or the configured CIDRs`,
                ingress: [
                    ...listenerPorts.map((port) => ({
                        protocol: "tcp",
                        fromPort: port,
                        toPort: port,
                        cidrBlocks: ["0.0.0.0/0"],
                        ipv6CidrBlocks: ["::/0"],
                    })),
                    // Smoke tests run in the runner's tasks (or where `pulumi up` runs): the VPC by default, or the CIDRs named in config.
                    {
                        protocol: "tcp",
                        fromPort: TEST_LISTENER_PORT,
                        toPort: TEST_LISTENER_PORT,
                        cidrBlocks: settings.testListenerCidrs.length > 0 ? settings.testListenerCidrs : [vpc.cidrBlock],
                    },
                ],
                egress: [{ protocol: "tcp", fromPort: 0, toPort: 65535, cidrBlocks: [vpc.cidrBlock] }],
            },
            { parent: this },
        );
        const serviceGroup = new aws.ec2.SecurityGroup(
            `${name}-service`,
            {
                vpcId: settings.vpcId,
                description: `tasks of ${config.app}: container ports from the load balancer only`,
                ingress: [...new Set(webPorts)]
                    .sort((a, b) => a - b)
                    .map((port) => ({ protocol: "tcp", fromPort: port, toPort: port, securityGroups: [lbGroup.id] })),
                // Tasks reach image registries, the database and AWS APIs.
                egress: [{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] }],
            },
            { parent: this },
        );

        this.loadBalancer = new aws.lb.LoadBalancer(
            `${name}-lb`,
            {
                loadBalancerType: "application",
                internal: settings.internal,
                subnets: settings.loadBalancerSubnetIds,
                securityGroups: [lbGroup.id],
                enableDeletionProtection: settings.deletionProtection,
                dropInvalidHeaderFields: true,
                tags: { "safe-release:app": config.app },
            },
            { parent: this },
        );
        // The smoke tests send the operator token: over TLS wherever there is a certificate.
        const testTls = settings.certificateArn !== undefined;
        const testListener = new aws.lb.Listener(
            `${name}-test`,
            {
                loadBalancerArn: this.loadBalancer.arn,
                port: TEST_LISTENER_PORT,
                protocol: testTls ? "HTTPS" : "HTTP",
                ...(testTls ? { certificateArn: settings.certificateArn, sslPolicy: TLS_POLICY } : {}),
                defaultActions: [
                    {
                        type: "fixed-response",
                        fixedResponse: { contentType: "text/plain", statusCode: "404", messageBody: "no version matches X-Release-Target" },
                    },
                ],
            },
            { parent: this },
        );

        this.shared = {
            app: config.app,
            aws: settings,
            clusterArn: cluster.arn,
            serviceSecurityGroupId: serviceGroup.id,
            executionRoleArn: role.arn,
            logGroupName: logGroup.name,
            region: aws.getRegionOutput({}, { parent: this }).region,
            testListenerArn: testListener.arn,
            // Over TLS by the name the certificate covers (a record of the operator's resolving to the load balancer).
            testListenerUrl: testTls
                ? pulumi.output(`https://${settings.testHostname!}:${TEST_LISTENER_PORT}`)
                : pulumi.interpolate`http://${this.loadBalancer.dnsName}:${TEST_LISTENER_PORT}`,
            loadBalancerArnSuffix: this.loadBalancer.arnSuffix,
            ...(config.gates.analysis !== undefined ? { analysis: config.gates.analysis } : {}),
            secretArns,
        };
        if (settings.dataStepsIn === "task") {
            this.stepRunner = releaseRunner(
                name,
                {
                    config,
                    secretKeys: Object.keys(args.secrets),
                    storedSecret,
                    clusterArn: cluster.arn,
                    securityGroupId: serviceGroup.id,
                    logGroup,
                    region: this.shared.region,
                    taskExecutionRoleArn: role.arn,
                },
                this,
            );
        }
        imageRetentionPolicies(name, config, this);
        this.registerOutputs({ loadBalancerDnsName: this.loadBalancer.dnsName });
    }

    deployVersion(version: string, images: VersionImages, after: pulumi.Resource[]): EcsVersion {
        const priorities: Record<string, number> = {};
        for (const component of this.components.filter((c) => c.role === "web")) {
            const priority = testRulePriority(component.name, version);
            const holder = this.usedPriorities.get(priority);
            if (holder !== undefined) {
                throw new Error(
                    `versions ${holder} and ${version} map to the same test-listener rule priority ${priority}; release under another tag`,
                );
            }
            this.usedPriorities.set(priority, version);
            priorities[component.name] = priority;
        }
        const deployed = new EcsVersion(
            `${this.name}-${version}`,
            {
                shared: this.shared,
                version,
                components: this.components,
                images,
                testRulePriorities: priorities,
                after,
            },
            { parent: this },
        );
        releasedImagesTag(this.name, { components: this.components, version, images, after: deployed.ready }, this);
        return deployed;
    }

    /**
     * A task definition of its own (the component's image, environment and secrets, the migration command) run by `ecs-task`;
     * a rehearsal's reads the copy's DATABASE_URL, naming the scratch database `rehearse` must then use.
     */
    oneOffTask(version: string, component: string, image: pulumi.Output<string>, command: string[], purpose?: "rehearsal"): OneOffTask {
        const spec = this.components.find((c) => c.name === component)!;
        const rehearsal = purpose === "rehearsal";
        if (rehearsal && this.rehearsalSecretArn === undefined) {
            throw new Error("a rehearsal's one-off task needs `release:migrate.rehearse`, which made its DATABASE_URL secret");
        }
        const task = oneOffTaskDefinition(
            `${this.name}-${version}-${component}-oneoff${rehearsal ? "-rehearse" : ""}`,
            {
                shared: this.shared,
                version,
                component: { ...spec, command },
                image,
                ...(rehearsal ? { databaseUrlSecret: this.rehearsalSecretArn! } : {}),
            },
            this,
        );
        const { aws: settings } = this.shared;
        const argv = pulumi
            .all([this.shared.clusterArn, task.arn, this.shared.serviceSecurityGroupId])
            .apply(([cluster, taskArn, group]) => [
                ...OPS,
                "ecs-task",
                "--cluster",
                cluster,
                "--task-definition",
                taskArn,
                "--container",
                component,
                "--subnets",
                settings.subnetIds.join(","),
                "--security-groups",
                group,
                ...(settings.assignPublicIp ? ["--assign-public-ip"] : []),
                // Started from a runner task, the one-off task is bounded as a step: the runner's own bound adds it.
                ...(settings.dataStepsIn === "task" ? ["--timeout", settings.dataStepTimeout] : []),
                "--",
                ...command,
            ]);
        return { argv, needs: [task], ...(rehearsal ? { scratchDatabase: fixedRehearsalDatabase(this.shared.app) } : {}) };
    }

    /** ECR (or the image's registry) must still hold each pinned digest of `version`. */
    rollbackCheck(version: string, images: VersionImages): OneOffTask | undefined {
        return imagesCheck(version, images);
    }

    /** `ecs-scale` of the components' services: to 0 to stop, back to their desired count to start, waiting for both. */
    writerControl(versions: string[], components: string[]): WriterControl {
        const specs = this.components.filter((c) => components.includes(c.name));
        const scale = (count: (desired: number) => number) =>
            this.shared.clusterArn.apply((cluster) => [
                ...OPS,
                "ecs-scale",
                "--cluster",
                cluster,
                ...versions.flatMap((version) =>
                    specs.flatMap((c) => ["--service", `${versionedName(this.shared.app, c.name, version)}=${count(c.desiredCount)}`]),
                ),
                "--wait",
            ]);
        return { stop: scale(() => 0), start: scale((desired) => desired) };
    }

    /** The only resources a traffic shift or a warm rollback changes: the listener and its path rules. */
    routeTraffic(versions: WeightedVersion[]): Routing {
        const ready = versions.flatMap((v) => v.deployed.ready);
        const defaultComponent = this.components.find((c) => c.role === "web" && c.pathPrefix === undefined);
        const https = this.settings.certificateArn !== undefined;
        const listener = new aws.lb.Listener(
            `${this.name}-listener`,
            {
                loadBalancerArn: this.loadBalancer.arn,
                port: https ? 443 : 80,
                protocol: https ? "HTTPS" : "HTTP",
                ...(https ? { certificateArn: this.settings.certificateArn, sslPolicy: TLS_POLICY } : {}),
                defaultActions:
                    defaultComponent === undefined
                        ? [{ type: "fixed-response", fixedResponse: { contentType: "text/plain", statusCode: "404" } }]
                        : [forwardAction(defaultComponent.name, versions)],
            },
            { parent: this, dependsOn: ready },
        );
        const rules = routeRules(this.components, versions).map(
            (rule) =>
                new aws.lb.ListenerRule(
                    `${this.name}-${rule.component}-route`,
                    {
                        listenerArn: listener.arn,
                        priority: rule.priority,
                        conditions: [{ pathPattern: { values: rule.paths } }],
                        actions: [rule.action],
                    },
                    { parent: this, dependsOn: ready },
                ),
        );
        if (https) {
            new aws.lb.Listener(
                `${this.name}-redirect`,
                {
                    loadBalancerArn: this.loadBalancer.arn,
                    port: 80,
                    protocol: "HTTP",
                    defaultActions: [{ type: "redirect", redirect: { protocol: "HTTPS", port: "443", statusCode: "HTTP_301" } }],
                },
                { parent: this },
            );
        }
        return { url: pulumi.interpolate`${https ? "https" : "http"}://${this.loadBalancer.dnsName}`, applied: [listener, ...rules] };
    }
}
