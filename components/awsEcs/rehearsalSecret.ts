import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { fixedRehearsalDatabase, urlNamingDatabase } from "../../core/rehearsalDatabase";
import { ReleaseConfig } from "../../settings/release";

/**
 * The connection string a rehearsal's one-off task reads as DATABASE_URL: the migration
 * component's own (its user, host and options), naming the fixed scratch database
 * `sr_rehearse_<app>` instead of the live one. A one-off task takes DATABASE_URL from
 * Secrets Manager, where no copy can be substituted per run, so the copy's name is fixed
 * and stored in a secret of its own before the rehearsal starts. The component's value is
 * the stack's Pulumi secret for a `config:` reference, else read from the secret it names
 * (the machine running `pulumi up` then needs `secretsmanager:GetSecretValue` on it).
 */
export function rehearsalSecretArn(
    name: string,
    config: ReleaseConfig,
    secrets: Record<string, pulumi.Output<string>>,
    parent: pulumi.Resource,
): pulumi.Output<string> | undefined {
    const migrate = config.data.migrate;
    if (migrate?.rehearse !== true) return undefined;
    const reference = config.components.find((c) => c.name === migrate.component)!.secretEnv.DATABASE_URL!;
    const live = reference.startsWith("config:")
        ? secrets[reference.slice(7)]
        : aws.secretsmanager.getSecretVersionOutput({ secretId: reference }, { parent }).secretString;
    const secret = new aws.secretsmanager.Secret(
        `${name}-secret-rehearsal`,
        {
            namePrefix: `safe-release/${config.app}/rehearsal-database-url-`,
            description: `DATABASE_URL of ${config.app}'s rehearsal task: ${migrate.component}'s, naming ${fixedRehearsalDatabase(config.app)}`,
            recoveryWindowInDays: 7,
        },
        { parent },
    );
    new aws.secretsmanager.SecretVersion(
        `${name}-secret-rehearsal`,
        {
            secretId: secret.id,
            secretString: pulumi.secret(live.apply((url) => urlNamingDatabase(url, fixedRehearsalDatabase(config.app)))),
        },
        { parent, additionalSecretOutputs: ["secretString"] },
    );
    return secret.arn;
}
