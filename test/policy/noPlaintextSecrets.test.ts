import * as assert from "assert";
import { noPlaintextSecrets, plaintextSecrets } from "../../policy/rules/noPlaintextSecrets";
import { hasAwsSecretKey, hasCredentialedUrl, hasJwt, isSecretKey, secretShapeOf } from "../../policy/secretLike";
import { UNKNOWN_STRING, engineProps, resourceViolations } from "./policyArgs";

const COMMAND = "command:local:Command";
const TASK = "aws:ecs/taskDefinition:TaskDefinition";
const CONTAINER = "docker:index/container:Container";
const RDS = "aws:rds/instance:Instance";

// Well-known documentation examples, not live credentials.
const JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
const AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

function message(field: string, resource: string, reason: string, property: string): string {
    return (
        `\`${field}\` of ${resource} ${reason}; pass secrets as Pulumi secrets (\`config.requireSecret\`, \`pulumi.secret\`) ` +
        `and list \`${property}\` in the resource's \`additionalSecretOutputs\``
    );
}

describe("policy no-plaintext-secrets", () => {
    describe("secret-like names and values", () => {
        it("treats keys named like a secret as secrets, and keys naming a reference to one as references", () => {
            for (const key of [
                "password",
                "PGPASSWORD",
                "db_password",
                "apiKey",
                "API_KEY",
                "token",
                "GITHUB_TOKEN",
                "secret",
                "clientSecret",
                "connectionString",
                "CONNECTION_STRING",
                "privateKey",
                "secretString",
            ]) {
                assert.strictEqual(isSecretKey(key), true, key);
            }
            for (const key of [
                "passwordSecretArn",
                "secretName",
                "tokenPath",
                "masterUserSecretKmsKeyId",
                "SECRET_ID",
                "valueFrom",
                "username",
                "image",
                "PGHOST",
            ]) {
                assert.strictEqual(isSecretKey(key), false, key);
            }
        });

        it("finds URLs with a password, but not user-only URLs or shell placeholders", () => {
            assert.strictEqual(hasCredentialedUrl("postgres://app:s3cret@db:5432/app"), true);
            assert.strictEqual(hasCredentialedUrl("run psql 'postgresql://app:p%40ss@db/app' now"), true);
            assert.strictEqual(hasCredentialedUrl("https://user:token@github.com/acme/repo.git"), true);
            assert.strictEqual(hasCredentialedUrl("postgres://app@db:5432/app"), false);
            assert.strictEqual(hasCredentialedUrl("postgres://app:${PGPASSWORD}@db/app"), false);
            assert.strictEqual(hasCredentialedUrl("postgres://app:$PGPASSWORD@db/app"), false);
            assert.strictEqual(hasCredentialedUrl("postgres://app:***@db/app"), false);
            assert.strictEqual(hasCredentialedUrl("http://db:5432/app"), false);
        });

        it("finds JWTs and AWS secret keys, not digests or commit ids", () => {
            assert.strictEqual(hasJwt(JWT), true);
            assert.strictEqual(hasJwt(`Authorization: Bearer ${JWT}`), true);
            assert.strictEqual(hasJwt("eyJhbGciOiJIUzI1NiJ9"), false);
            assert.strictEqual(hasAwsSecretKey(AWS_SECRET), true);
            assert.strictEqual(hasAwsSecretKey(`export AWS_SECRET_ACCESS_KEY=${AWS_SECRET}`), true);
            assert.strictEqual(hasAwsSecretKey("3f53267e8bbc7468888300000000000000000000"), false);
            assert.strictEqual(hasAwsSecretKey(`sha256:${"0123456789abcdef".repeat(4)}`), false);
            assert.strictEqual(hasAwsSecretKey(`${AWS_SECRET}X`), false);
        });

        it("names the shape of a secret without repeating it", () => {
            assert.strictEqual(secretShapeOf("postgres://a:b@h/d"), "a URL with a password");
            assert.strictEqual(secretShapeOf(JWT), "a JSON Web Token");
            assert.strictEqual(secretShapeOf(AWS_SECRET), "an AWS secret access key");
            assert.strictEqual(secretShapeOf("v1.5.0"), undefined);
        });
    });

    describe("plaintextSecrets", () => {
        it("finds secret-named inputs, secret-shaped values and environment entries, by path", () => {
            const props = engineProps({
                create: "node ops/bin/safe-release-ops.js migrate",
                environment: {
                    PGPASSWORD: "hunter2",
                    DATABASE_URL: "postgres://app:pw@db:5432/app",
                    PGHOST: "db",
                    EMPTY_TOKEN: "",
                    T: JWT,
                },
            });
            assert.deepStrictEqual(plaintextSecrets(COMMAND, props, []), [
                { field: "environment.PGPASSWORD", reason: "has a plain-text value under the secret-like name `PGPASSWORD`" },
                { field: "environment.DATABASE_URL", reason: "holds a URL with a password in plain text" },
                { field: "environment.T", reason: "holds a JSON Web Token in plain text" },
            ]);
        });

        it("skips inputs the resource declares secret and inputs preview cannot know", () => {
            const props = engineProps({
                environment: { PGPASSWORD: "hunter2" },
                password: UNKNOWN_STRING,
                triggers: [UNKNOWN_STRING, "x"],
            });
            assert.deepStrictEqual(plaintextSecrets(COMMAND, props, ["environment"]), []);
        });
    });

    describe("validateResource", () => {
        it("passes resources whose secrets are references, declared secret, or absent", async () => {
            const definitions = JSON.stringify([
                {
                    name: "app",
                    image: "app",
                    environment: [
                        { name: "MODE", value: "canary" },
                        { name: "DATABASE_URL", value: "postgres://app@db/app" },
                    ],
                    secrets: [{ name: "DB_PASSWORD", valueFrom: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db" }],
                },
            ]);
            assert.deepStrictEqual(
                await resourceViolations(noPlaintextSecrets, {
                    type: TASK,
                    name: "app-v1.5.0",
                    props: { containerDefinitions: definitions },
                }),
                [],
            );
            assert.deepStrictEqual(
                await resourceViolations(noPlaintextSecrets, {
                    type: RDS,
                    name: "db",
                    props: { manageMasterUserPassword: true, username: "app" },
                }),
                [],
            );
            assert.deepStrictEqual(
                await resourceViolations(noPlaintextSecrets, {
                    type: COMMAND,
                    name: "db-migrate-v1.5.0",
                    props: { environment: { DATABASE_URL: "postgres://app:pw@db/app" } },
                    opts: { additionalSecretOutputs: ["environment"] },
                }),
                [],
            );
        });

        it("reports secrets in command environments without repeating their values", async () => {
            const violations = await resourceViolations(noPlaintextSecrets, {
                type: COMMAND,
                name: "db-migrate-v1.5.0",
                props: { create: "migrate", environment: { PGPASSWORD: "hunter2", DATABASE_URL: "postgres://app:pw@db/app" } },
            });
            const resource = `${COMMAND} \`db-migrate-v1.5.0\``;
            assert.deepStrictEqual(violations, [
                message(
                    "environment.PGPASSWORD",
                    resource,
                    "has a plain-text value under the secret-like name `PGPASSWORD`",
                    "environment",
                ),
                message("environment.DATABASE_URL", resource, "holds a URL with a password in plain text", "environment"),
            ]);
            assert.ok(violations.every((text) => !text.includes("hunter2") && !text.includes(":pw@")));
        });

        it("reports NAME/VALUE pairs in task definitions and K=V docker envs", async () => {
            const definitions = JSON.stringify([
                {
                    name: "app",
                    image: "app",
                    environment: [
                        { name: "MODE", value: "x" },
                        { name: "API_TOKEN", value: "abc" },
                    ],
                },
            ]);
            assert.deepStrictEqual(
                await resourceViolations(noPlaintextSecrets, {
                    type: TASK,
                    name: "app-v1.5.0",
                    props: { containerDefinitions: definitions },
                }),
                [
                    message(
                        "containerDefinitions[0].environment[1].value",
                        `${TASK} \`app-v1.5.0\``,
                        "has a plain-text value under the secret-like name `API_TOKEN`",
                        "containerDefinitions",
                    ),
                ],
            );
            assert.deepStrictEqual(
                await resourceViolations(noPlaintextSecrets, {
                    type: CONTAINER,
                    name: "app",
                    props: { envs: ["MODE=canary", "AWS_SECRET_ACCESS_KEY=x", `CONFIG=${AWS_SECRET}`, "SESSION_TOKEN="] },
                }),
                [
                    message(
                        "envs[1]",
                        `${CONTAINER} \`app\``,
                        "has a plain-text value under the secret-like name `AWS_SECRET_ACCESS_KEY`",
                        "envs",
                    ),
                    message("envs[2]", `${CONTAINER} \`app\``, "holds an AWS secret access key in plain text", "envs"),
                ],
            );
        });

        it("reports a plain password on any resource", async () => {
            assert.deepStrictEqual(
                await resourceViolations(noPlaintextSecrets, { type: RDS, name: "db", props: { password: "hunter2", username: "app" } }),
                [message("password", `${RDS} \`db\``, "has a plain-text value under the secret-like name `password`", "password")],
            );
        });

        it("is mandatory", () => {
            assert.strictEqual(noPlaintextSecrets.enforcementLevel, "mandatory");
        });
    });
});
