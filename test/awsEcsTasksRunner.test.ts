import { strict as assert } from "assert";
import { runnerPolicyStatements } from "../components/awsEcs/runnerPolicy";
import { SUBNETS, VPC, ecsConfig } from "./support/fixtures";
import { resource, resourcesOfType } from "./support/inspect";
import { ProgramRun, runProgram } from "./support/mockEngine";
import { MOCK_VPC_CIDR } from "./support/mockProviders";
import { RUNNER_IMAGE, SECRET_KEYS, command, innerArgv, startRelease } from "./awsEcsTasksFixtures";

const CERTIFICATE = "arn:aws:acm:eu-west-1:123456789012:certificate/4b5c6d7e-1f2a-4b3c-9d8e-7f6a5b4c3d2e";
const SECRET_ARN = (key: string) => `arn:aws:mock:eu-west-1:123456789012:shop-ecs-secret-${key}`;
const policyOf = (run: ProgramRun, name: string) => JSON.parse(resource(run, "aws:iam/rolePolicy:RolePolicy", name).inputs.policy);

describe("the release runner's task definition and roles", () => {
    let run: ProgramRun;
    before(async () => {
        run = (await startRelease()).run;
    });

    it("is one Fargate task definition per app: the runner image by digest, logs under `runner`, secrets only by ARN", () => {
        const definition = resource(run, "aws:ecs/taskDefinition:TaskDefinition", "shop-ecs-runner");
        assert.deepEqual(
            [definition.inputs.family, definition.inputs.requiresCompatibilities, definition.inputs.networkMode],
            ["shop-release-runner", ["FARGATE"], "awsvpc"],
        );
        assert.deepEqual(JSON.parse(definition.inputs.containerDefinitions), [
            {
                name: "runner",
                image: RUNNER_IMAGE,
                essential: true,
                environment: [{ name: "AWS_REGION", value: "eu-west-1" }],
                secrets: [
                    { name: "DATABASE_URL", valueFrom: SECRET_ARN("databaseUrl") },
                    { name: "SAFE_RELEASE_LEDGER_URL", valueFrom: SECRET_ARN("databaseUrl") },
                    { name: "SMOKE_OPERATOR_TOKEN", valueFrom: SECRET_ARN("smokeOperatorToken") },
                ],
                logConfiguration: {
                    logDriver: "awslogs",
                    options: { "awslogs-group": "/safe-release/shop", "awslogs-region": "eu-west-1", "awslogs-stream-prefix": "runner" },
                },
            },
        ]);
        assert.deepEqual(
            [definition.inputs.executionRoleArn, definition.inputs.taskRoleArn],
            ["arn:aws:mock:eu-west-1:123456789012:shop-ecs-runner-execution", "arn:aws:mock:eu-west-1:123456789012:shop-ecs-runner-task"],
        );
        assert.deepEqual(definition.inputs.tags, { "safe-release:app": "shop", "safe-release:purpose": "release-runner" });
        // Not per version: both versions' steps share it.
        assert.equal(resourcesOfType(run, "aws:ecs/taskDefinition:TaskDefinition").filter((t) => t.name.includes("runner")).length, 1);
    });

    it("stores the database URL and the operator token in Secrets Manager, and its execution role reads exactly those", () => {
        assert.deepEqual(
            resourcesOfType(run, "aws:secretsmanager/secret:Secret").map((s) => s.name),
            ["shop-ecs-secret-databaseUrl", "shop-ecs-secret-smokeOperatorToken"],
        );
        assert.deepEqual(policyOf(run, "shop-ecs-runner-read-secrets").Statement, [
            {
                Effect: "Allow",
                Action: ["secretsmanager:GetSecretValue", "ssm:GetParameters"],
                Resource: [SECRET_ARN("databaseUrl"), SECRET_ARN("smokeOperatorToken")],
            },
        ]);
    });

    it("gives its task role the store's prefix, and starting and following the migration's one-off task, nothing else", () => {
        const policy = resource(run, "aws:iam/rolePolicy:RolePolicy", "shop-ecs-runner-task");
        assert.equal(policy.inputs.name, "safe-release-runner-task");
        const inCluster = { ArnEquals: { "ecs:cluster": "arn:aws:mock:eu-west-1:123456789012:shop-ecs" } };
        assert.deepEqual(JSON.parse(policy.inputs.policy).Statement, [
            {
                Sid: "BackupStoreObjects",
                Effect: "Allow",
                Action: ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
                Resource: "arn:aws:s3:::shop-backups/prod/*",
            },
            {
                Sid: "BackupStoreListing",
                Effect: "Allow",
                Action: ["s3:ListBucket"],
                Resource: "arn:aws:s3:::shop-backups",
                Condition: { StringLike: { "s3:prefix": ["prod", "prod/*"] } },
            },
            {
                Sid: "BackupStoreUploads",
                Effect: "Allow",
                Action: ["s3:ListBucketMultipartUploads"],
                Resource: "arn:aws:s3:::shop-backups",
            },
            {
                Sid: "MigrationTask",
                Effect: "Allow",
                Action: ["ecs:RunTask"],
                Resource: "arn:aws:ecs:eu-west-1:123456789012:task-definition/shop-api-oneoff-*",
                Condition: inCluster,
            },
            {
                Sid: "MigrationTaskFollow",
                Effect: "Allow",
                Action: ["ecs:DescribeTasks", "ecs:StopTask"],
                Resource: "arn:aws:ecs:eu-west-1:123456789012:task/shop/*",
                Condition: inCluster,
            },
            { Sid: "MigrationTaskDefinition", Effect: "Allow", Action: ["ecs:DescribeTaskDefinition"], Resource: "*" },
            {
                Sid: "MigrationTaskRole",
                Effect: "Allow",
                Action: ["iam:PassRole"],
                Resource: "arn:aws:mock:eu-west-1:123456789012:shop-ecs-execution",
                Condition: { StringEquals: { "iam:PassedToService": "ecs-tasks.amazonaws.com" } },
            },
            {
                Sid: "MigrationTaskLogs",
                Effect: "Allow",
                Action: ["logs:GetLogEvents"],
                Resource: "arn:aws:mock:eu-west-1:123456789012:shop-ecs-logs:log-stream:*",
            },
        ]);
    });

    it("names the backup key by ARN, by id, or through its alias", () => {
        const base = {
            app: "shop",
            clusterArn: "arn:aws:ecs:eu-west-1:123456789012:cluster/shop",
            logGroupArn: "arn:aws:logs:eu-west-1:123456789012:log-group:/safe-release/shop",
            store: { kind: "directory" as const, location: "backups", log: "backups/backups.log" },
        };
        const key = (kmsKeyId: string) => {
            const [statement] = runnerPolicyStatements({ ...base, kmsKeyId });
            return [statement.Action, statement.Resource, statement.Condition];
        };
        const actions = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"];
        const arn = "arn:aws:kms:eu-west-1:123456789012:key/2f6c1a4e-7d3b-4c59-9e8a-0b1c2d3e4f50";
        assert.deepEqual(key(arn), [actions, arn, undefined]);
        assert.deepEqual(key("2f6c1a4e-7d3b-4c59-9e8a-0b1c2d3e4f50"), [actions, arn, undefined]);
        const byAlias = [
            actions,
            "arn:aws:kms:eu-west-1:123456789012:key/*",
            { "ForAnyValue:StringEquals": { "kms:ResourceAliases": "alias/shop" } },
        ];
        assert.deepEqual(key("alias/shop"), byAlias);
        assert.deepEqual(key("arn:aws:kms:eu-west-1:123456789012:alias/shop"), byAlias);
        assert.deepEqual(runnerPolicyStatements(base), [], "a runner that only smoke-tests may do nothing");
    });

    it("runs in the service's security group, whose egress reaches the database and the load balancer's test listener", () => {
        const service = resource(run, "aws:ec2/securityGroup:SecurityGroup", "shop-ecs-service");
        assert.deepEqual(service.inputs.egress, [{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] }]);
        const lb = resource(run, "aws:ec2/securityGroup:SecurityGroup", "shop-ecs-lb");
        assert.deepEqual(lb.inputs.ingress.find((i: any) => i.fromPort === 8443).cidrBlocks, [MOCK_VPC_CIDR]);
        assert.match(command(run, "shop-smoke-v1.5.0-run").inputs.create, / --security-groups shop-ecs-service-id /);
    });
});

describe("the rehearsal, run from the release runner", () => {
    it("starts a one-off task of a family the runner's task role may run, whose DATABASE_URL names the copy rehearse makes", async () => {
        const components = structuredClone(ecsConfig()["release:components"]) as Record<string, { secretEnv?: Record<string, string> }>;
        components.api.secretEnv = { DATABASE_URL: "config:databaseUrl" };
        const { run } = await startRelease({
            "release:components": components,
            "release:migrate": { command: "npx prisma migrate deploy", component: "api", quiesce: ["worker"], rehearse: true },
        });
        const family: string = resource(run, "aws:ecs/taskDefinition:TaskDefinition", "shop-ecs-v1.5.0-api-oneoff-rehearse").inputs.family;
        const allowed: string = policyOf(run, "shop-ecs-runner-task").Statement.find(
            (s: { Sid: string }) => s.Sid === "MigrationTask",
        ).Resource;
        const families = new RegExp(`^${allowed.split("task-definition/")[1].replace(/\*/g, ".*")}$`);
        assert.equal(family, "shop-api-oneoff-rehearse-v1-5-0");
        assert.ok(families.test(family), `${family} is not among ${allowed}`);
        const inner = innerArgv(command(run, "shop-rehearse-v1.5.0-run").inputs.create);
        assert.ok(inner.startsWith("node ops/bin/safe-release-ops.js rehearse --from-live --scratch-database sr_rehearse_shop "), inner);
        assert.ok(inner.includes(" --task-definition arn:aws:mock:eu-west-1:123456789012:shop-ecs-v1.5.0-api-oneoff-rehearse "), inner);
    });
});

describe("the test listener", () => {
    const first = (aws: Record<string, unknown>) =>
        runProgram({
            config: ecsConfig({
                "release:version": "v1.4.2",
                "release:aws": { vpcId: VPC, subnetIds: SUBNETS, runnerImage: RUNNER_IMAGE, internal: true, ...aws },
                "release:smoke": [{ name: "health", path: "/health" }],
                "release:smokeOperatorToken": "t",
            }),
            secretKeys: SECRET_KEYS,
        });

    it("serves HTTPS on 8443 with the certificate, under the main listener's TLS 1.3 policy, and the smoke tests use https by the test hostname", async () => {
        const run = await first({ certificateArn: CERTIFICATE, testHostname: "release-test.shop.example.com" });
        const test = resource(run, "aws:lb/listener:Listener", "shop-ecs-test");
        assert.deepEqual(
            [test.inputs.port, test.inputs.protocol, test.inputs.certificateArn, test.inputs.sslPolicy],
            [8443, "HTTPS", CERTIFICATE, resource(run, "aws:lb/listener:Listener", "shop-ecs-listener").inputs.sslPolicy],
        );
        assert.equal(test.inputs.sslPolicy, "ELBSecurityPolicy-TLS13-1-2-2021-06");
        assert.match(
            command(run, "shop-smoke-v1.4.2-run").inputs.create,
            / smoke --base-url https:\/\/release-test\.shop\.example\.com:8443 /,
        );
    });

    it("stays plain HTTP without a certificate, admitting only the VPC", async () => {
        const run = await first({});
        const test = resource(run, "aws:lb/listener:Listener", "shop-ecs-test");
        assert.deepEqual(
            [test.inputs.port, test.inputs.protocol, test.inputs.certificateArn, test.inputs.sslPolicy],
            [8443, "HTTP", undefined, undefined],
        );
        assert.match(
            command(run, "shop-smoke-v1.4.2-run").inputs.create,
            / smoke --base-url http:\/\/shop-ecs-lb\.eu-west-1\.elb\.example:8443 /,
        );
        const lb = resource(run, "aws:ec2/securityGroup:SecurityGroup", "shop-ecs-lb");
        assert.deepEqual(lb.inputs.ingress.find((i: any) => i.fromPort === 8443).cidrBlocks, [MOCK_VPC_CIDR]);
    });
});
