import * as assert from "assert";
import { releaseRunnerLimited } from "../../policy/rules/releaseRunnerLimited";
import { UNKNOWN_STRING, resourceViolations } from "./policyArgs";

const TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition";
const ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy";
const SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:safe-release/shop/databaseUrl-AbCdEf";
const RUNNER_TAGS = { "safe-release:app": "shop", "safe-release:purpose": "release-runner" };
const IN_DEFINITION = "in aws:ecs/taskDefinition:TaskDefinition `shop-ecs-runner`";
const IN_POLICY = "in aws:iam/rolePolicy:RolePolicy `shop-ecs-runner-task`";

function runnerDefinition(container: Record<string, unknown>, tags: Record<string, string> = RUNNER_TAGS) {
    return {
        type: TASK_DEFINITION,
        name: "shop-ecs-runner",
        props: { tags, containerDefinitions: JSON.stringify([{ name: "runner", image: "runner@sha256:" + "a".repeat(64), ...container }]) },
    };
}

function taskPolicy(statements: unknown[], name = "safe-release-runner-task") {
    return {
        type: ROLE_POLICY,
        name: "shop-ecs-runner-task",
        props: { name, role: "r", policy: JSON.stringify({ Version: "2012-10-17", Statement: statements }) },
    };
}

const STORE_OBJECTS = {
    Sid: "BackupStoreObjects",
    Effect: "Allow",
    Action: ["s3:GetObject", "s3:PutObject"],
    Resource: "arn:aws:s3:::b/p/*",
};

describe("policy release-runner-least-privilege", () => {
    it("passes the runner's secrets by ARN and a policy that names every action and resource", async () => {
        const definition = runnerDefinition({
            environment: [{ name: "AWS_REGION", value: "eu-west-1" }],
            secrets: [
                { name: "DATABASE_URL", valueFrom: SECRET_ARN },
                { name: "SAFE_RELEASE_LEDGER_URL", valueFrom: SECRET_ARN },
            ],
        });
        assert.deepStrictEqual(await resourceViolations(releaseRunnerLimited, definition), []);
        const policy = taskPolicy([
            STORE_OBJECTS,
            { Sid: "MigrationTaskDefinition", Effect: "Allow", Action: ["ecs:DescribeTaskDefinition"], Resource: "*" },
            // A deny of everything narrows; it is not what the rule limits.
            { Effect: "Deny", Action: "*", Resource: "*" },
        ]);
        assert.deepStrictEqual(await resourceViolations(releaseRunnerLimited, policy), []);
    });

    it("refuses the runner's secrets, or anything secret-like, as plain environment values", async () => {
        const definition = runnerDefinition({
            environment: [
                { name: "AWS_REGION", value: "eu-west-1" },
                { name: "DATABASE_URL", value: "postgres://shop@db/shop" },
                { name: "SMOKE_OPERATOR_TOKEN", value: "t" },
                { name: "PGURL", value: "postgres://shop:pw@db/shop" },
            ],
            secrets: [{ name: "SAFE_RELEASE_LEDGER_URL", valueFrom: "postgres://shop:pw@db/shop" }],
        });
        assert.deepStrictEqual(await resourceViolations(releaseRunnerLimited, definition), [
            "`containerDefinitions[0].environment[1]` sets `DATABASE_URL` as a plain environment value; the runner must take it from `secrets` " +
                `(a Secrets Manager ARN), ${IN_DEFINITION}`,
            "`containerDefinitions[0].environment[2]` sets `SMOKE_OPERATOR_TOKEN` as a plain environment value; the runner must take it from `secrets` " +
                `(a Secrets Manager ARN), ${IN_DEFINITION}`,
            "`containerDefinitions[0].environment[3]` (`PGURL`) holds a URL with a password in plain text; the runner must take it from `secrets` " +
                `(a Secrets Manager ARN), ${IN_DEFINITION}`,
            "`containerDefinitions[0].secrets[0].valueFrom` of `SAFE_RELEASE_LEDGER_URL` must be the ARN of a Secrets Manager secret or SSM parameter; " +
                `got \`postgres://shop:pw@db/shop\`, ${IN_DEFINITION}`,
        ]);
    });

    it("leaves other task definitions to the other rules, and skips what preview cannot know", async () => {
        const app = runnerDefinition(
            { environment: [{ name: "DATABASE_URL", value: "postgres://shop@db/shop" }] },
            { "safe-release:app": "shop" },
        );
        assert.deepStrictEqual(await resourceViolations(releaseRunnerLimited, app), []);
        const unknown = { ...runnerDefinition({}), props: { tags: RUNNER_TAGS, containerDefinitions: UNKNOWN_STRING } };
        assert.deepStrictEqual(await resourceViolations(releaseRunnerLimited, unknown), []);
        const otherPolicy = taskPolicy([{ Effect: "Allow", Action: "*", Resource: "*" }], "someone-elses");
        assert.deepStrictEqual(await resourceViolations(releaseRunnerLimited, otherPolicy), []);
    });

    it('refuses wildcard actions, NotAction and NotResource, and `Resource: "*"` beyond the actions without resource-level permissions', async () => {
        const policy = taskPolicy([
            STORE_OBJECTS,
            { Sid: "Everything", Effect: "Allow", Action: "s3:*", Resource: "arn:aws:s3:::b/p/*" },
            { Sid: "Broad", Effect: "Allow", Action: ["ecs:DescribeTaskDefinition", "ecs:RunTask"], Resource: ["*"] },
            { Effect: "Allow", NotAction: ["iam:*"], Resource: "arn:aws:s3:::b" },
        ]);
        assert.deepStrictEqual(await resourceViolations(releaseRunnerLimited, policy), [
            `\`policy\` statement 1 (Everything) allows \`s3:*\`: name each action the runner needs, ${IN_POLICY}`,
            '`policy` statement 2 (Broad) allows `ecs:RunTask` on `Resource: "*"`; only `ecs:DescribeTaskDefinition` (no resource-level permission) ' +
                `may be; name the bucket prefix, key, task or role, ${IN_POLICY}`,
            `\`policy\` statement 3 allows by \`NotAction\`, which grants everything not listed; list the actions and resources instead, ${IN_POLICY}`,
        ]);
    });
});
