import { BackupStore } from "../../settings/data";

/**
 * The release runner task role's one inline policy, as a plain document: what the data
 * steps inside the task need and nothing else. The policy pack finds it by this name
 * (`release-runner-least-privilege`) and checks the limits stated here.
 */
export const RUNNER_TASK_POLICY_NAME = "safe-release-runner-task";

/**
 * Actions that have no resource-level permission in IAM, so only `Resource: "*"` grants
 * them: `ecs:DescribeTaskDefinition` (the migration's `ecs-task` reads its one-off task
 * definition's containers and log settings).
 */
export const WITHOUT_RESOURCE_LEVEL = ["ecs:DescribeTaskDefinition"];

export interface RunnerPolicyInputs {
    readonly app: string;
    /** The cluster's ARN: its partition, region and account name every other ARN, and RunTask is held to it. */
    readonly clusterArn: string;
    readonly logGroupArn: string;
    readonly store: BackupStore;
    /** `release:backup.kmsKeyId`: a key id, key ARN, alias name or alias ARN. */
    readonly kmsKeyId?: string;
    /** Set when the runner runs `migrate`, which starts the migration's one-off task itself. */
    readonly migration?: { readonly component: string; readonly executionRoleArn: string };
}

export interface PolicyStatement {
    readonly Sid: string;
    readonly Effect: "Allow";
    readonly Action: string[];
    readonly Resource: string | string[];
    readonly Condition?: Record<string, Record<string, string | string[]>>;
}

/** The statements of the runner task role's policy; none when the runner only runs smoke tests. */
export function runnerPolicyStatements(inputs: RunnerPolicyInputs): PolicyStatement[] {
    const [, partition, , region, account] = inputs.clusterArn.split(":");
    const arn = (service: string, resource: string, where = `${region}:${account}`) => `arn:${partition}:${service}:${where}:${resource}`;
    const statements: PolicyStatement[] = [];
    const { store } = inputs;
    if (store.kind === "s3") {
        statements.push(
            {
                Sid: "BackupStoreObjects",
                Effect: "Allow",
                Action: ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
                Resource: arn("s3", `${store.bucket}/${store.prefix}/*`, ":"),
            },
            {
                Sid: "BackupStoreListing",
                Effect: "Allow",
                Action: ["s3:ListBucket"],
                Resource: arn("s3", store.bucket, ":"),
                Condition: { StringLike: { "s3:prefix": [store.prefix, `${store.prefix}/*`] } },
            },
            // A backup first aborts the unfinished uploads a killed one left; listing them has no `s3:prefix` condition.
            {
                Sid: "BackupStoreUploads",
                Effect: "Allow",
                Action: ["s3:ListBucketMultipartUploads"],
                Resource: arn("s3", store.bucket, ":"),
            },
        );
    }
    if (inputs.kmsKeyId !== undefined) {
        statements.push({
            Sid: "BackupKey",
            Effect: "Allow",
            Action: ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"],
            ...keyResource(inputs.kmsKeyId, (resource) => arn("kms", resource)),
        });
    }
    const migration = inputs.migration;
    if (migration !== undefined) {
        const inCluster = { ArnEquals: { "ecs:cluster": inputs.clusterArn } };
        statements.push(
            {
                Sid: "MigrationTask",
                Effect: "Allow",
                Action: ["ecs:RunTask"],
                // The one-off task definitions of the migration's component, one family per version (taskDefinition.ts).
                Resource: arn("ecs", `task-definition/${inputs.app}-${migration.component}-oneoff-*`),
                Condition: inCluster,
            },
            {
                Sid: "MigrationTaskFollow",
                Effect: "Allow",
                Action: ["ecs:DescribeTasks", "ecs:StopTask"],
                Resource: arn("ecs", `task/${inputs.app}/*`),
                Condition: inCluster,
            },
            { Sid: "MigrationTaskDefinition", Effect: "Allow", Action: WITHOUT_RESOURCE_LEVEL, Resource: "*" },
            {
                Sid: "MigrationTaskRole",
                Effect: "Allow",
                Action: ["iam:PassRole"],
                Resource: migration.executionRoleArn,
                Condition: { StringEquals: { "iam:PassedToService": "ecs-tasks.amazonaws.com" } },
            },
            {
                Sid: "MigrationTaskLogs",
                Effect: "Allow",
                Action: ["logs:GetLogEvents"],
                Resource: `${inputs.logGroupArn}:log-stream:*`,
            },
        );
    }
    return statements;
}

/** A key by ARN or id is named as itself; an alias only through `kms:ResourceAliases`, since IAM grants key use on key ARNs. */
function keyResource(keyId: string, kmsArn: (resource: string) => string): Pick<PolicyStatement, "Resource" | "Condition"> {
    if (/^arn:[^:]+:kms:[^:]*:[^:]*:key\//.test(keyId)) return { Resource: keyId };
    const alias = /^(?:arn:[^:]+:kms:[^:]*:[^:]*:)?(alias\/.+)$/.exec(keyId)?.[1];
    if (alias !== undefined) {
        return { Resource: kmsArn("key/*"), Condition: { "ForAnyValue:StringEquals": { "kms:ResourceAliases": alias } } };
    }
    return { Resource: kmsArn(`key/${keyId}`) };
}
