/** The bad `release:` configs and the exact messages they must produce, for test/config.test.ts. */
import { SUBNETS, VPC, digestOf, ecsConfig } from "./support/fixtures";

export type Raw = Record<string, unknown>;

export const REPO = "ghcr.io/acme/shop-api";
export const API = { image: REPO, role: "web", port: 8080, healthPath: "/health" };
export const WORKER = { image: REPO, role: "worker", command: ["node", "worker.js"] };
const TAG_RULE = "a release tag `vMAJOR.MINOR.PATCH`, optionally with a pre-release suffix such as `v1.5.0-rc.1`";
const NAME_RULE = "lower-case letters, digits and `-`, starting with a letter, at most 20 characters";
const REPO_RULE = "an image repository such as `ghcr.io/acme/api` (lower-case path)";
const NO_TAG = "a repository without a tag (tags such as `:latest` can move; the version comes from `release:version`)";
const PREFIX_RULE = "a path such as `/api` (starts with `/`, no trailing `/`, no wildcards)";
const ENV_RULE = "named as an environment variable (letters, digits, `_`)";
const COMPONENT_KEYS =
    "`image`, `role`, `port`, `healthPath`, `pathPrefix`, `command`, `cpu`, `memory`, `desiredCount`, `env`, `secretEnv`";
const AWS_KEYS =
    "`vpcId`, `subnetIds`, `loadBalancerSubnetIds`, `internal`, `certificateArn`, `deletionProtection`, `assignPublicIp`, " +
    "`logRetentionDays`, `healthCheckIntervalSeconds`, `healthyThreshold`, `deregistrationDelaySeconds`, `testListenerCidrs`, " +
    "`testHostname`, `dataStepsIn`, `runnerImage`, `dataStepTimeout`";
const BUCKET_RULE =
    "an S3 bucket name: 3 to 63 lower-case letters, digits, `.` and `-`, starting and ending with a letter or digit, no `..`, not an IP address";
const KEY_PREFIX_RULE = "a key prefix of `/`-separated names of letters, digits, `.`, `_`, `-` and `=` (no empty, `.` or `..` name)";
const RETENTION = "1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653";
export const UNKNOWN_TAIL = "Pulumi.yaml lists the valid keys, and a secret a component's `secretEnv` names as `config:<key>` is valid too";
const ONE_WEB_DEFAULT =
    "`release:components` must have exactly one web component without `pathPrefix` (it takes the default route); found ";
const SECRET_RULE =
    "a secret reference: an `arn:aws:secretsmanager:…` or `arn:aws:ssm:…` ARN, or `config:<key>` naming a secret in `release:`";

function defined(values: Raw): Raw {
    return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined));
}

/** The raw `release:` values of a valid aws-ecs stack on v1.5.0 (no previous); `undefined` removes a key. */
export function raw(overrides: Raw = {}): Raw {
    const stack = ecsConfig({ "release:version": "v1.5.0" });
    const values = Object.fromEntries(Object.entries(stack).map(([k, v]) => [k.slice("release:".length), v]));
    return defined({ ...values, ...overrides });
}

export const components = (patch: Raw): Raw => ({ components: defined({ api: API, worker: WORKER, ...patch }) });
export const api = (patch: Raw): Raw => components({ api: defined({ ...API, ...patch }) });
const worker = (patch: Raw): Raw => components({ worker: defined({ ...WORKER, ...patch }) });
const web = (name: string, patch: Raw): Raw => components({ [name]: { image: REPO, port: 8081, ...patch } });
export const aws = (patch: Raw): Raw => ({ aws: defined({ vpcId: VPC, subnetIds: SUBNETS, dataStepsIn: "local", ...patch }) });
/** The release runner's image as `release:aws.runnerImage` pins it. */
export const RUNNER_IMAGE = `123456789012.dkr.ecr.eu-west-1.amazonaws.com/safe-release-runner@${digestOf("runner")}`;
const RUNNER_REQUIRED =
    '`release:aws.runnerImage` is required when `release:aws.dataStepsIn` is "task" (the default): the data steps and smoke tests ' +
    "run as ECS tasks of that image inside the VPC; build it from runner/Dockerfile and set it by digest, such as " +
    "`runnerImage: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/safe-release-runner@sha256:<64 hex>`, " +
    "or set `dataStepsIn: local` to run them on the machine running Pulumi (inside the VPC)";
const S3_STORE_REQUIRED =
    '`release:backup.store` must be an S3 store (`s3://<bucket>/<prefix>`) when `release:aws.dataStepsIn` is "task": ' +
    "the backup runs in an ECS task, whose disk goes with it; got the directory ";
export const canary = (patch: Raw): Raw => ({ previous: "v1.4.2", ...patch });

/** [what is wrong, raw overrides, the exact message]: every branch of the `release:` validators. */
export const BAD: Array<[string, Raw, string]> = [
    ["app missing", { app: undefined }, "`release:app` must be a non-empty string; got nothing"],
    ["app upper-case", { app: "Shop" }, `\`release:app\` must be ${NAME_RULE}; got "Shop"`],
    ["app of 21 characters", { app: "a".repeat(21) }, `\`release:app\` must be ${NAME_RULE}; got "${"a".repeat(21)}"`],
    ["app not a string", { app: 7 }, "`release:app` must be a non-empty string; got 7"],
    [
        "unknown platform",
        { platform: "kubernetes" },
        '`release:platform` must be one of "aws-ecs", "docker-host", "host"; got "kubernetes"',
    ],
    ["version missing", { version: undefined }, "`release:version` must be a non-empty string; got nothing"],
    ["version without v", { version: "1.5.0" }, `\`release:version\` must be ${TAG_RULE}; got "1.5.0"`],
    ["version latest", { version: "latest" }, `\`release:version\` must be ${TAG_RULE}; got "latest"`],
    ["version with build metadata", { version: "v1.5.0+1" }, `\`release:version\` must be ${TAG_RULE}; got "v1.5.0+1"`],
    ["version with a leading zero", { version: "v01.5.0" }, `\`release:version\` must be ${TAG_RULE}; got "v01.5.0"`],
    [
        "version with a leading zero in the pre-release",
        { version: "v1.5.0-rc.01" },
        `\`release:version\` must be ${TAG_RULE}; got "v1.5.0-rc.01"`,
    ],
    ["version of two parts", { version: "v1.5" }, `\`release:version\` must be ${TAG_RULE}; got "v1.5"`],
    ["previous not a tag", { previous: "v1.4" }, `\`release:previous\` must be ${TAG_RULE}; got "v1.4"`],
    ["previous with build metadata", { previous: "v1.4.2+7" }, `\`release:previous\` must be ${TAG_RULE}; got "v1.4.2+7"`],
    [
        "previous equal to version",
        { previous: "v1.5.0" },
        "`release:previous` must differ from `release:version` (both are v1.5.0); remove `release:previous` to run v1.5.0 alone",
    ],
    [
        "previous that names the same resources as version",
        { version: "v1.5.0-rc-1", previous: "v1.5.0-rc.1", digests: undefined },
        "`release:previous` must differ from `release:version` in more than `.` and `-`: v1.5.0-rc.1 and v1.5.0-rc-1 both name their resources v1-5-0-rc-1",
    ],
    ["acceptSchemaHead without v", { acceptSchemaHead: "1.5.0" }, `\`release:acceptSchemaHead\` must be ${TAG_RULE}; got "1.5.0"`],
    ["acceptSchemaHead empty", { acceptSchemaHead: "" }, '`release:acceptSchemaHead` must be a non-empty string; got ""'],
    ["canaryWeight 101", canary({ canaryWeight: 101 }), "`release:canaryWeight` must be an integer from 0 to 100; got 101"],
    ["canaryWeight -1", canary({ canaryWeight: -1 }), "`release:canaryWeight` must be an integer from 0 to 100; got -1"],
    ["canaryWeight 2.5", canary({ canaryWeight: 2.5 }), "`release:canaryWeight` must be an integer from 0 to 100; got 2.5"],
    ['canaryWeight "2.5"', canary({ canaryWeight: "2.5" }), '`release:canaryWeight` must be an integer from 0 to 100; got "2.5"'],
    ['canaryWeight "ten"', canary({ canaryWeight: "ten" }), '`release:canaryWeight` must be an integer from 0 to 100; got "ten"'],
    ["canaryWeight true", canary({ canaryWeight: true }), "`release:canaryWeight` must be an integer from 0 to 100; got true"],
    ["components missing", { components: undefined }, "`release:components` must be an object; got nothing"],
    [
        "components empty",
        { components: {}, digests: undefined },
        "`release:components` must be an object with at least one component; got {}",
    ],
    [
        "components a list",
        { components: [API] },
        '`release:components` must be an object; got [{"image":"ghcr.io/acme/shop-api","role":"web","port":8080,"healthPath":"/hea...',
    ],
    [
        "component name upper-case",
        components({ Admin: API }),
        '`release:components.Admin` must be named with lower-case letters, digits and `-`, starting with a letter, at most 20 characters; got "Admin"',
    ],
    ["component not an object", components({ api: REPO }), `\`release:components.api\` must be an object; got "${REPO}"`],
    [
        "unknown key in a component",
        api({ replicas: 3 }),
        `\`release:components.api\` has unknown key \`replicas\`; valid keys are ${COMPONENT_KEYS}`,
    ],
    [
        "two unknown keys in a component",
        worker({ tag: "v1", ports: [1] }),
        `\`release:components.worker\` has unknown keys \`tag\`, \`ports\`; valid keys are ${COMPONENT_KEYS}`,
    ],
    ["bad role", api({ role: "db" }), '`release:components.api.role` must be "web" or "worker"; got "db"'],
    [
        "web component without a port (role defaulted)",
        web("admin", { port: undefined, pathPrefix: "/admin" }),
        "`release:components.admin.port` must be set for a web component (the container port that takes traffic); got nothing",
    ],
    ["port 0", api({ port: 0 }), "`release:components.api.port` must be an integer from 1 to 65535; got 0"],
    ["port 65536", api({ port: "65536" }), '`release:components.api.port` must be an integer from 1 to 65535; got "65536"'],
    [
        "worker with a port",
        worker({ port: 9000 }),
        '`release:components.worker.port` applies only to web components; remove it or set `release:components.worker.role` to "web"',
    ],
    [
        "worker with a healthPath",
        worker({ healthPath: "/healthz" }),
        '`release:components.worker.healthPath` applies only to web components; remove it or set `release:components.worker.role` to "web"',
    ],
    [
        "worker with a pathPrefix",
        worker({ pathPrefix: "/jobs" }),
        '`release:components.worker.pathPrefix` applies only to web components; remove it or set `release:components.worker.role` to "web"',
    ],
    ["image missing", api({ image: undefined }), "`release:components.api.image` must be a non-empty string; got nothing"],
    ["image :latest", api({ image: `${REPO}:latest` }), `\`release:components.api.image\` must be ${NO_TAG}; got "${REPO}:latest"`],
    [
        "image with a version tag",
        worker({ image: `${REPO}:v1.5.0` }),
        `\`release:components.worker.image\` must be ${NO_TAG}; got "${REPO}:v1.5.0"`,
    ],
    [
        "image tag on a registry with a port",
        api({ image: "localhost:5000/app:v1" }),
        `\`release:components.api.image\` must be ${NO_TAG}; got "localhost:5000/app:v1"`,
    ],
    [
        "image with a digest",
        api({ image: `${REPO}@${digestOf("x")}` }),
        "`release:components.api.image` must be a repository without a digest; digests are pinned per version in `release:digests`; " +
            `got "${REPO}@sha256:${"78".repeat(23)}7...`,
    ],
    [
        "image upper-case",
        api({ image: "ghcr.io/Acme/shop-api" }),
        `\`release:components.api.image\` must be ${REPO_RULE}; got "ghcr.io/Acme/shop-api"`,
    ],
    [
        "image with a trailing slash",
        api({ image: "ghcr.io/acme/" }),
        `\`release:components.api.image\` must be ${REPO_RULE}; got "ghcr.io/acme/"`,
    ],
    [
        "relative healthPath",
        api({ healthPath: "healthz" }),
        '`release:components.api.healthPath` must be a path starting with `/`; got "healthz"',
    ],
    [
        "healthPath with a space",
        api({ healthPath: "/health z" }),
        '`release:components.api.healthPath` must be a path starting with `/`; got "/health z"',
    ],
    [
        "pathPrefix without /",
        web("admin", { pathPrefix: "admin" }),
        `\`release:components.admin.pathPrefix\` must be ${PREFIX_RULE}; got "admin"`,
    ],
    [
        "pathPrefix with a trailing /",
        web("admin", { pathPrefix: "/admin/" }),
        `\`release:components.admin.pathPrefix\` must be ${PREFIX_RULE}; got "/admin/"`,
    ],
    [
        "pathPrefix with a wildcard",
        web("admin", { pathPrefix: "/admin/*" }),
        `\`release:components.admin.pathPrefix\` must be ${PREFIX_RULE}; got "/admin/*"`,
    ],
    ["pathPrefix of /", web("admin", { pathPrefix: "/" }), `\`release:components.admin.pathPrefix\` must be ${PREFIX_RULE}; got "/"`],
    ["two default web components", web("admin", {}), `${ONE_WEB_DEFAULT}\`admin\`, \`api\``],
    ["no default web component", api({ pathPrefix: "/api" }), `${ONE_WEB_DEFAULT}none`],
    [
        "duplicate pathPrefix",
        {
            ...components({
                admin: { image: REPO, port: 8081, pathPrefix: "/admin" },
                docs: { image: REPO, port: 8082, pathPrefix: "/admin" },
            }),
        },
        '`release:components.docs.pathPrefix` must be different from `admin`\'s; got "/admin"',
    ],
    [
        "cpu not a Fargate size",
        api({ cpu: 300 }),
        "`release:components.api.cpu` must be one of the Fargate sizes 256, 512, 1024, 2048, 4096, 8192, 16384; got 300",
    ],
    ["cpu below Fargate", api({ cpu: 128 }), "`release:components.api.cpu` must be an integer from 256 to 16384; got 128"],
    [
        "memory too large for cpu 256",
        api({ memory: 4096 }),
        "`release:components.api.memory` must be a Fargate memory size for 256 CPU units: 512 to 2048 MiB in steps of 512; got 4096",
    ],
    [
        "memory too small for cpu 1024",
        api({ cpu: 1024, memory: 1024 }),
        "`release:components.api.memory` must be a Fargate memory size for 1024 CPU units: 2048 to 8192 MiB in steps of 1024; got 1024",
    ],
    [
        "memory off the step for cpu 512",
        worker({ cpu: "512", memory: "1536" }),
        '`release:components.worker.memory` must be a Fargate memory size for 512 CPU units: 1024 to 4096 MiB in steps of 1024; got "1536"',
    ],
    ["desiredCount 0", api({ desiredCount: 0 }), "`release:components.api.desiredCount` must be an integer from 1 to 100; got 0"],
    [
        "command not a list",
        worker({ command: "node worker.js" }),
        '`release:components.worker.command` must be a list of strings; got "node worker.js"',
    ],
    [
        "command with an empty entry",
        worker({ command: ["node", ""] }),
        '`release:components.worker.command[1]` must be a non-empty string; got ""',
    ],
    ["env not an object", api({ env: "A=1" }), '`release:components.api.env` must be an object; got "A=1"'],
    ["env name invalid", api({ env: { "1BAD": "x" } }), `\`release:components.api.env.1BAD\` must be ${ENV_RULE}; got "1BAD"`],
    ["env value not a string", api({ env: { PORT: 8080 } }), "`release:components.api.env.PORT` must be a string; got 8080"],
    [
        "secretEnv name invalid",
        api({ secretEnv: { "DB-URL": "config:dbUrl" } }),
        `\`release:components.api.secretEnv.DB-URL\` must be ${ENV_RULE}; got "DB-URL"`,
    ],
    [
        "secretEnv holding a value",
        api({ secretEnv: { DB_PASSWORD: "hunter2" } }),
        `\`release:components.api.secretEnv.DB_PASSWORD\` must be ${SECRET_RULE}; got "hunter2"`,
    ],
    [
        "secretEnv ARN of another service",
        api({ secretEnv: { KEY: "arn:aws:kms:eu-west-1:1:key/k" } }),
        `\`release:components.api.secretEnv.KEY\` must be ${SECRET_RULE}; got "arn:aws:kms:eu-west-1:1:key/k"`,
    ],
    [
        "secretEnv config:x with x unset",
        api({ secretEnv: { DB_PASSWORD: "config:dbPassword" } }),
        "`release:components.api.secretEnv.DB_PASSWORD` refers to `release:dbPassword`, which is not set; " +
            "set it with `pulumi config set --secret release:dbPassword`",
    ],
    ["digests not an object", { digests: "sha256:abc" }, '`release:digests` must be an object; got "sha256:abc"'],
    [
        "digests keyed by a bad version",
        { digests: { "1.5.0": { api: digestOf("a") } } },
        `\`release:digests.1.5.0\` must be ${TAG_RULE}; got "1.5.0"`,
    ],
    [
        "digests of a version not an object",
        { digests: { "v1.5.0": "sha256:abc" } },
        '`release:digests.v1.5.0` must be an object of component → `sha256:<64 hex>`; got "sha256:abc"',
    ],
    [
        "digest of an unknown component",
        { digests: { "v1.5.0": { web: digestOf("a") } } },
        '`release:digests.v1.5.0.web` must be a component declared in `release:components` (`api`, `worker`); got "web"',
    ],
    [
        "malformed digest",
        { digests: { "v1.5.0": { api: "sha256:abc" } } },
        '`release:digests.v1.5.0.api` must be an image digest `sha256:` followed by 64 lower-case hex digits; got "sha256:abc"',
    ],
    [
        "digest in upper-case hex",
        { digests: { "v1.5.0": { api: `sha256:${"AB".repeat(32)}` } } },
        `\`release:digests.v1.5.0.api\` must be an image digest \`sha256:\` followed by 64 lower-case hex digits; got "sha256:${"AB".repeat(32)}"`,
    ],
    [
        "requirePinnedDigests not a boolean",
        { requirePinnedDigests: "yes" },
        '`release:requirePinnedDigests` must be true or false; got "yes"',
    ],
    [
        "missing digest of the version where pinning is required",
        { requirePinnedDigests: true, digests: { "v1.5.0": { api: digestOf("a") } } },
        "`release:digests.v1.5.0.worker` is required because `release:requirePinnedDigests` is true: add the image digest (sha256:…) of ghcr.io/acme/shop-api:v1.5.0",
    ],
    [
        "missing digest of the previous where pinning is required",
        canary({ requirePinnedDigests: "true", digests: { "v1.5.0": { api: digestOf("a"), worker: digestOf("w") } } }),
        "`release:digests.v1.4.2.api` is required because `release:requirePinnedDigests` is true: add the image digest (sha256:…) of ghcr.io/acme/shop-api:v1.4.2",
    ],
    [
        "aws missing",
        { aws: undefined },
        '`release:aws` must be set when `release:platform` is "aws-ecs" (at least `vpcId` and `subnetIds`); got nothing',
    ],
    ["aws not an object", { aws: VPC }, `\`release:aws\` must be an object; got "${VPC}"`],
    ["unknown key in aws", aws({ region: "eu-west-1" }), `\`release:aws\` has unknown key \`region\`; valid keys are ${AWS_KEYS}`],
    ["vpcId missing", aws({ vpcId: undefined }), "`release:aws.vpcId` must be a non-empty string; got nothing"],
    ["bad vpcId", aws({ vpcId: "vpc-123" }), '`release:aws.vpcId` must be a VPC id such as `vpc-0abc12345def67890`; got "vpc-123"'],
    ["subnetIds missing", aws({ subnetIds: undefined }), "`release:aws.subnetIds` must be a list of at least one subnet id; got nothing"],
    ["subnetIds empty", aws({ subnetIds: [] }), "`release:aws.subnetIds` must be a list of at least one subnet id; got []"],
    ["subnetIds a string", aws({ subnetIds: SUBNETS[0] }), `\`release:aws.subnetIds\` must be a list of strings; got "${SUBNETS[0]}"`],
    [
        "bad subnet id",
        aws({ subnetIds: [SUBNETS[0], "subnet-XYZ"] }),
        '`release:aws.subnetIds[1]` must be a subnet id such as `subnet-0abc12345def67890`; got "subnet-XYZ"',
    ],
    [
        "loadBalancerSubnetIds empty",
        aws({ loadBalancerSubnetIds: [] }),
        "`release:aws.loadBalancerSubnetIds` must be a list of at least one subnet id; got []",
    ],
    [
        "logRetentionDays not a CloudWatch period",
        aws({ logRetentionDays: 10 }),
        `\`release:aws.logRetentionDays\` must be one of the CloudWatch retention periods ${RETENTION}; got 10`,
    ],
    ["logRetentionDays 0", aws({ logRetentionDays: 0 }), "`release:aws.logRetentionDays` must be an integer from 1 to 3653; got 0"],
    [
        "certificateArn not ACM",
        aws({ certificateArn: "arn:aws:iam::123456789012:server-certificate/shop" }),
        '`release:aws.certificateArn` must be an ACM certificate ARN (`arn:aws:acm:…`); got "arn:aws:iam::123456789012:server-certificate/shop"',
    ],
    ["internal not a boolean", aws({ internal: "yes" }), '`release:aws.internal` must be true or false; got "yes"'],
    [
        "certificateArn without testHostname",
        aws({ certificateArn: "arn:aws:acm:eu-west-1:123456789012:certificate/abc" }),
        "`release:aws.testHostname` is required with `release:aws.certificateArn`: the test listener then serves HTTPS, and the smoke " +
            "tests must address it by a name its certificate covers (the load balancer's own is not): a DNS record of yours " +
            "resolving to the load balancer, such as `testHostname: release-test.shop.example.com`",
    ],
    [
        "testHostname not a DNS name",
        aws({ testHostname: "https://release-test.shop.example.com" }),
        '`release:aws.testHostname` must be a lower-case DNS name such as `release-test.shop.example.com`; got "https://release-test.shop.example.com"',
    ],
    [
        "task mode behind an internet-facing load balancer without testListenerCidrs",
        aws({ dataStepsIn: "task", runnerImage: RUNNER_IMAGE }),
        '`release:aws.testListenerCidrs` is required when `release:aws.dataStepsIn` is "task" and the load balancer is internet-facing: ' +
            "the smoke tasks reach it from your NAT gateways' public addresses, not from the VPC's range; set it to those addresses, " +
            "such as `testListenerCidrs: [203.0.113.10/32]`, or set `internal: true`",
    ],
    [
        "task mode with public task IPs behind an internet-facing load balancer",
        aws({ dataStepsIn: "task", runnerImage: RUNNER_IMAGE, assignPublicIp: true }),
        '`release:aws.testListenerCidrs` is required when `release:aws.dataStepsIn` is "task" and the load balancer is internet-facing: ' +
            "the smoke tasks reach it from your NAT gateways' public addresses (with `assignPublicIp`, from their own, which no rule can " +
            "name: set `internal: true`), not from the VPC's range; set it to those addresses, such as `testListenerCidrs: [203.0.113.10/32]`, " +
            "or set `internal: true`",
    ],
    ["runnerImage missing in task mode (the default)", aws({ dataStepsIn: undefined }), RUNNER_REQUIRED],
    ['runnerImage missing with dataStepsIn "task"', aws({ dataStepsIn: "task" }), RUNNER_REQUIRED],
    [
        "dataStepsIn neither task nor local",
        aws({ dataStepsIn: "vpc" }),
        '`release:aws.dataStepsIn` must be "task" (the data steps run as ECS tasks of `runnerImage` inside the VPC) or "local" (on the machine running Pulumi); got "vpc"',
    ],
    [
        "runnerImage by tag",
        aws({ dataStepsIn: "task", runnerImage: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/safe-release-runner:latest" }),
        "`release:aws.runnerImage` must be the runner image by digest, such as " +
            "`123456789012.dkr.ecr.eu-west-1.amazonaws.com/safe-release-runner@sha256:<64 hex>`; " +
            'got "123456789012.dkr.ecr.eu-west-1.amazonaws.com/safe-release-runner:latest"',
    ],
    [
        "dataStepTimeout without a unit",
        aws({ dataStepTimeout: "30" }),
        '`release:aws.dataStepTimeout` must be a duration from 1s to 24h such as `45m` or `2h`; got "30"',
    ],
    [
        "dataStepTimeout over a day",
        aws({ dataStepTimeout: "25h" }),
        '`release:aws.dataStepTimeout` must be a duration from 1s to 24h such as `45m` or `2h`; got "25h"',
    ],
    [
        "dataStepTimeout zero",
        aws({ dataStepTimeout: "0m" }),
        '`release:aws.dataStepTimeout` must be a duration from 1s to 24h such as `45m` or `2h`; got "0m"',
    ],
    [
        "a directory store for a runner task's backup",
        { ...aws({ dataStepsIn: "task", runnerImage: RUNNER_IMAGE, internal: true }), databaseUrl: "postgres://x" },
        `${S3_STORE_REQUIRED}"backups"`,
    ],
    [
        "a directory store for a runner task's restore",
        {
            ...aws({ dataStepsIn: "task", runnerImage: RUNNER_IMAGE, internal: true }),
            backup: { store: "var/backups" },
            restoreFrom: "shop-v1.4.2-x",
        },
        `${S3_STORE_REQUIRED}"var/backups"`,
    ],
    [
        "healthCheckIntervalSeconds too short",
        aws({ healthCheckIntervalSeconds: 1 }),
        "`release:aws.healthCheckIntervalSeconds` must be an integer from 5 to 300; got 1",
    ],
    [
        "migrate with neither a command nor writers",
        { migrate: {} },
        "`release:migrate` must be an object with `command` (the migration), `quiesce` (writers to stop for the backup), or both; got {}",
    ],
    [
        "migrate command without a database",
        { migrate: { command: "npx prisma migrate deploy" } },
        "`release:migrate` needs `release:databaseUrl` (a secret): migrations run under a PostgreSQL advisory lock and are recorded in its ledger, so they run exactly once",
    ],
    [
        "migrate quiesces an unknown component",
        { migrate: { quiesce: ["celery"] } },
        '`release:migrate.quiesce[0]` must be a component of `release:components` (`api`, `worker`); got "celery"',
    ],
    [
        "migrate lock timeout without a unit",
        { databaseUrl: "postgres://x", migrate: { command: "x", lockTimeout: "10" } },
        '`release:migrate.lockTimeout` must be a duration such as `30s`, `10m` or `1h`; got "10"',
    ],
    [
        "migrate rehearsal without a migration command",
        { migrate: { quiesce: ["worker"], rehearse: true } },
        "`release:migrate.rehearse` needs `release:migrate.command`: a rehearsal runs the migration on a restored copy",
    ],
    [
        "migrate onDrift neither stop nor warn",
        { databaseUrl: "postgres://x", migrate: { command: "x", onDrift: "ignore" } },
        '`release:migrate.onDrift` must be "stop" or "warn"; got "ignore"',
    ],
    [
        "migrate expects a change to a table that is not critical",
        { databaseUrl: "postgres://x", database: { criticalTables: ["users"] }, migrate: { command: "x", expectChanged: ["orders"] } },
        '`release:migrate.expectChanged[0]` must be a table of `release:database.criticalTables` (`users`); got "orders"',
    ],
    [
        "database without its URL",
        { database: { criticalTables: ["users"] } },
        "`release:database` needs `release:databaseUrl`: set it with `pulumi config set --secret release:databaseUrl`",
    ],
    [
        "critical table with a space",
        { databaseUrl: "postgres://x", database: { criticalTables: ["user accounts"] } },
        '`release:database.criticalTables[0]` must be a table name, optionally schema-qualified (`public.orders`); got "user accounts"',
    ],
    [
        "backup bucket without a target",
        { backup: { bucket: "shop-uploads" } },
        "`release:backup.bucket` and `release:backup.bucketTarget` go together: the bucket to copy and where its copy goes (`backup-bucket/prefix`)",
    ],
    [
        "backup dir escaping the project",
        { backup: { dir: "../elsewhere" } },
        '`release:backup.dir` must be a path relative to the project, without `..`; got "../elsewhere"',
    ],
    [
        "backup store and dir both set",
        { backup: { store: "backups", dir: "old-backups" } },
        "`release:backup.store` and `release:backup.dir` both say where backups go: keep `release:backup.store` " +
            "(`release:backup.dir` is its older name for a directory store) and remove `release:backup.dir`",
    ],
    [
        "backup log with an S3 store",
        { backup: { store: "s3://shop-backups/prod", log: "backups/backups.log" } },
        "`release:backup.log` is a file on this machine, for a directory store; with `release:backup.store` s3://shop-backups/prod " +
            "the backup log is in the store (one object per record under `records/`): remove `release:backup.log`",
    ],
    [
        "backup store bucket with capitals and an underscore",
        { backup: { store: "s3://Shop_Backups/prod" } },
        `\`release:backup.store\` must be \`s3://<bucket>/<prefix>\` with ${BUCKET_RULE}; got "s3://Shop_Backups/prod"`,
    ],
    [
        "backup store bucket that is an IP address",
        { backup: { store: "s3://192.168.10.20/prod" } },
        `\`release:backup.store\` must be \`s3://<bucket>/<prefix>\` with ${BUCKET_RULE}; got "s3://192.168.10.20/prod"`,
    ],
    [
        "backup store bucket with adjacent dots",
        { backup: { store: "s3://shop..backups/prod" } },
        `\`release:backup.store\` must be \`s3://<bucket>/<prefix>\` with ${BUCKET_RULE}; got "s3://shop..backups/prod"`,
    ],
    [
        "backup store bucket of two characters",
        { backup: { store: "s3://ab/prod" } },
        `\`release:backup.store\` must be \`s3://<bucket>/<prefix>\` with ${BUCKET_RULE}; got "s3://ab/prod"`,
    ],
    [
        "backup store without a prefix",
        { backup: { store: "s3://shop-backups/" } },
        '`release:backup.store` must be `s3://<bucket>/<prefix>` with a prefix of the store\'s own, such as `s3://shop-backups/prod`; got "s3://shop-backups/"',
    ],
    [
        "backup store prefix with an empty name",
        { backup: { store: "s3://shop-backups/prod//daily" } },
        `\`release:backup.store\` must be \`s3://<bucket>/<prefix>\` with ${KEY_PREFIX_RULE}; got "s3://shop-backups/prod//daily"`,
    ],
    [
        "backup store prefix climbing with ..",
        { backup: { store: "s3://shop-backups/prod/../staging" } },
        `\`release:backup.store\` must be \`s3://<bucket>/<prefix>\` with ${KEY_PREFIX_RULE}; got "s3://shop-backups/prod/../staging"`,
    ],
    [
        "backup store of another scheme",
        { backup: { store: "gs://shop-backups/prod" } },
        '`release:backup.store` must be `s3://<bucket>/<prefix>` or a path relative to the project, without `..`; got "gs://shop-backups/prod"',
    ],
    [
        "backup store directory escaping the project",
        { backup: { store: "../elsewhere" } },
        '`release:backup.store` must be `s3://<bucket>/<prefix>` or a path relative to the project, without `..`; got "../elsewhere"',
    ],
    [
        "backup store that is the project itself",
        { backup: { store: "./" } },
        '`release:backup.store` must be a directory below the project, not the project itself; got "./"',
    ],
    [
        "restoreFrom not a backup id",
        { restoreFrom: "last night" },
        '`release:restoreFrom` must be a backup id from the `backups` stack output or the backup log, such as `shop-v1.4.2-20261122T041059.123Z`; got "last night"',
    ],
];
