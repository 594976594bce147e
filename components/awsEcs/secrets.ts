import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ReleaseConfig } from "../../settings/release";

/** `release:<key>` → the ARN of the Secrets Manager secret holding it, made on first use. */
export type StoredSecretArn = (key: string) => pulumi.Output<string>;

/**
 * One Secrets Manager secret per `release:` key for the app (not per version, so
 * releases and rollbacks never touch it) holding the stack's Pulumi secret; the
 * components' `config:` references and the release runner share them.
 */
export function storedSecrets(
    name: string,
    config: ReleaseConfig,
    secrets: Record<string, pulumi.Output<string>>,
    parent: pulumi.Resource,
): StoredSecretArn {
    const stored = new Map<string, pulumi.Output<string>>();
    return (key: string): pulumi.Output<string> => {
        if (!stored.has(key)) {
            const secret = new aws.secretsmanager.Secret(
                `${name}-secret-${key}`,
                {
                    namePrefix: `safe-release/${config.app}/${key}-`,
                    description: `release:${key} of ${config.app}, set with pulumi config set --secret`,
                    recoveryWindowInDays: 7,
                },
                { parent },
            );
            // Listing the input as a secret output also tells the policy pack it is a Pulumi secret.
            new aws.secretsmanager.SecretVersion(
                `${name}-secret-${key}`,
                { secretId: secret.id, secretString: secrets[key] },
                {
                    parent,
                    additionalSecretOutputs: ["secretString"],
                },
            );
            stored.set(key, secret.arn);
        }
        return stored.get(key)!;
    };
}

/**
 * Resolves every `secretEnv` reference to an ARN that ECS injects at task start.
 * ARNs are used as given; a `config:<key>` reference becomes the key's stored secret.
 */
export function secretArnsByComponent(
    config: ReleaseConfig,
    arnOf: StoredSecretArn,
): Record<string, Record<string, pulumi.Output<string>>> {
    const byComponent: Record<string, Record<string, pulumi.Output<string>>> = {};
    for (const component of config.components) {
        byComponent[component.name] = Object.fromEntries(
            Object.entries(component.secretEnv).map(([env, ref]) => [
                env,
                ref.startsWith("config:") ? arnOf(ref.slice(7)) : pulumi.output(ref),
            ]),
        );
    }
    return byComponent;
}

/** The role ECS uses to pull images, write logs and read exactly the referenced secrets. */
export function executionRole(
    name: string,
    secretArns: Record<string, Record<string, pulumi.Output<string>>>,
    parent: pulumi.Resource,
    /** Secrets of task definitions that are no component's own (the rehearsal's copy of DATABASE_URL). */
    otherArns: pulumi.Output<string>[] = [],
): aws.iam.Role {
    const role = new aws.iam.Role(
        `${name}-execution`,
        {
            assumeRolePolicy: JSON.stringify({
                Version: "2012-10-17",
                Statement: [{ Effect: "Allow", Principal: { Service: "ecs-tasks.amazonaws.com" }, Action: "sts:AssumeRole" }],
            }),
        },
        { parent },
    );
    new aws.iam.RolePolicyAttachment(
        `${name}-execution`,
        {
            role: role.name,
            policyArn: "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
        },
        { parent },
    );
    const arns = [...Object.values(secretArns).flatMap((perEnv) => Object.values(perEnv)), ...otherArns];
    if (arns.length > 0) {
        new aws.iam.RolePolicy(
            `${name}-read-secrets`,
            {
                role: role.name,
                policy: pulumi.all(arns).apply((resolved) =>
                    JSON.stringify({
                        Version: "2012-10-17",
                        Statement: [
                            {
                                Effect: "Allow",
                                Action: ["secretsmanager:GetSecretValue", "ssm:GetParameters"],
                                Resource: [...new Set(resolved)].sort(),
                            },
                        ],
                    }),
                ),
            },
            { parent },
        );
    }
    return role;
}
