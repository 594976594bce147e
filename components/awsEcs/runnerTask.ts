import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { formatDuration, parseDuration } from "../../core/duration";
import { ReleaseConfig } from "../../settings/release";
import { OPS } from "../data/opsCommand";
import { StepRunner } from "../data/stepRunner";
import { boundedName } from "../naming";
import { RUNNER_TASK_POLICY_NAME, runnerPolicyStatements } from "./runnerPolicy";
import { StoredSecretArn, executionRole } from "./secrets";

/** The runner's container, as `ecs-task --container` names it. */
export const RUNNER_CONTAINER = "runner";
/** The tag the policy pack knows the runner's task definition by. */
export const RUNNER_PURPOSE = "release-runner";
/** One vCPU: pg_dump and its zstd compression take two threads, and the steps run one at a time. */
const RUNNER_CPU = "1024";
const RUNNER_MEMORY = "2048";

export interface ReleaseRunnerArgs {
    readonly config: ReleaseConfig;
    /** Which `release:` secrets are set (`databaseUrl`, `smokeOperatorToken`): the runner takes each set one as an ECS secret. */
    readonly secretKeys: readonly string[];
    readonly storedSecret: StoredSecretArn;
    readonly clusterArn: pulumi.Output<string>;
    readonly securityGroupId: pulumi.Output<string>;
    readonly logGroup: aws.cloudwatch.LogGroup;
    readonly region: pulumi.Output<string>;
    /** The role the migration's one-off task runs with: the runner passes it when it starts that task. */
    readonly taskExecutionRoleArn: pulumi.Output<string>;
}

/**
 * The release runner of `dataStepsIn: task`: one task definition per app (not per version:
 * a release never touches it) of `release:aws.runnerImage`, in the service's subnets and
 * security group. The database URL and the operator token reach it as ECS `secrets` from
 * Secrets Manager, read by an execution role of its own that may read exactly those; its
 * task role may use the backup store's prefix and key, and start and follow the migration's
 * one-off task (runnerPolicy.ts). Each data step's local command is `ecs-task` of it.
 */
export function releaseRunner(name: string, args: ReleaseRunnerArgs, parent: pulumi.Resource): StepRunner {
    const { config } = args;
    const settings = config.aws!;
    const secretArns: Record<string, pulumi.Output<string>> = {};
    if (args.secretKeys.includes("databaseUrl")) {
        // `migrate` and `restore` take the ledger's connection from SAFE_RELEASE_LEDGER_URL, as the local steps pass it.
        secretArns.DATABASE_URL = args.storedSecret("databaseUrl");
        secretArns.SAFE_RELEASE_LEDGER_URL = secretArns.DATABASE_URL;
    }
    if (args.secretKeys.includes("smokeOperatorToken")) secretArns.SMOKE_OPERATOR_TOKEN = args.storedSecret("smokeOperatorToken");
    const execution = executionRole(`${name}-runner`, { [RUNNER_CONTAINER]: secretArns }, parent);
    const taskRole = new aws.iam.Role(
        `${name}-runner-task`,
        {
            description: `release runner of ${config.app}: the backup store, its key and the migration's one-off task`,
            assumeRolePolicy: JSON.stringify({
                Version: "2012-10-17",
                Statement: [{ Effect: "Allow", Principal: { Service: "ecs-tasks.amazonaws.com" }, Action: "sts:AssumeRole" }],
            }),
        },
        { parent },
    );
    const migrates = config.data.migrate?.command !== undefined && args.secretKeys.includes("databaseUrl");
    const statements = pulumi
        .all([args.clusterArn, args.logGroup.arn, args.taskExecutionRoleArn])
        .apply(([clusterArn, logGroupArn, executionRoleArn]) =>
            runnerPolicyStatements({
                app: config.app,
                clusterArn,
                logGroupArn,
                store: config.data.backup.store,
                ...(config.data.backup.kmsKeyId !== undefined ? { kmsKeyId: config.data.backup.kmsKeyId } : {}),
                ...(migrates ? { migration: { component: config.data.migrate!.component, executionRoleArn } } : {}),
            }),
        );
    // Whether the role may do anything is the config's to say (the ARNs are only known once created): nothing to allow, no policy.
    const allows = config.data.backup.store.kind === "s3" || config.data.backup.kmsKeyId !== undefined || migrates;
    const policy = allows
        ? new aws.iam.RolePolicy(
              `${name}-runner-task`,
              {
                  role: taskRole.name,
                  name: RUNNER_TASK_POLICY_NAME,
                  policy: statements.apply((Statement) => JSON.stringify({ Version: "2012-10-17", Statement })),
              },
              { parent },
          )
        : undefined;
    const definition = new aws.ecs.TaskDefinition(
        `${name}-runner`,
        {
            family: boundedName([config.app, RUNNER_PURPOSE], 255),
            requiresCompatibilities: ["FARGATE"],
            networkMode: "awsvpc",
            cpu: RUNNER_CPU,
            memory: RUNNER_MEMORY,
            executionRoleArn: execution.arn,
            taskRoleArn: taskRole.arn,
            containerDefinitions: pulumi
                .all([args.region, args.logGroup.name, pulumi.all(secretArns)])
                .apply(([region, logGroup, arns]) => JSON.stringify([runnerContainer(settings.runnerImage!, region, logGroup, arns)])),
            tags: { "safe-release:app": config.app, "safe-release:purpose": RUNNER_PURPOSE },
        },
        { parent },
    );
    const stepTimeoutMs = parseDuration(settings.dataStepTimeout, "release:aws.dataStepTimeout");
    return {
        stdin: false,
        stepTimeoutMs,
        // The policy too: a task started before its role may act would fail on its first AWS call.
        needs: [definition, ...(policy !== undefined ? [policy] : [])],
        argv: (argv, secrets, extraMs = 0) =>
            pulumi
                .all([args.clusterArn, definition.arn, args.securityGroupId, pulumi.output(argv)])
                .apply(([cluster, taskDefinition, group, words]) => [
                    ...OPS,
                    "ecs-task",
                    "--cluster",
                    cluster,
                    "--task-definition",
                    taskDefinition,
                    "--container",
                    RUNNER_CONTAINER,
                    "--subnets",
                    settings.subnetIds.join(","),
                    "--security-groups",
                    group,
                    ...(settings.assignPublicIp ? ["--assign-public-ip"] : []),
                    "--timeout",
                    formatDuration(stepTimeoutMs + extraMs),
                    "--ops-result",
                    ...(secrets.length > 0 ? ["--mask-env", secrets.join(",")] : []),
                    "--",
                    ...words,
                ]),
    };
}

/** The runner's one container: the image by digest, its secrets by ARN (never a value), its log stream prefix `runner`. */
export function runnerContainer(
    image: string,
    region: string,
    logGroup: string,
    secretArns: Record<string, string>,
): Record<string, unknown> {
    return {
        name: RUNNER_CONTAINER,
        image,
        essential: true,
        environment: [{ name: "AWS_REGION", value: region }],
        secrets: Object.entries(secretArns)
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([name, valueFrom]) => ({ name, valueFrom })),
        logConfiguration: {
            logDriver: "awslogs",
            options: { "awslogs-group": logGroup, "awslogs-region": region, "awslogs-stream-prefix": RUNNER_CONTAINER },
        },
    };
}
