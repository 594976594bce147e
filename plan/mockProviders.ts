import { MockCallArgs, MockResourceArgs, MockResourceResult } from "@pulumi/pulumi/runtime/mocks";

/** Stack config as a test or a stack file gives it: `release:` keys with plain values; objects become JSON as the CLI would pass them. */
export type StackConfig = Record<string, unknown>;

export const MOCK_REGION = "eu-west-1";
export const MOCK_VPC_CIDR = "10.20.0.0/16";

/**
 * What the providers would answer. Identifiers derive from the logical name
 * only, so two runs of the same config produce identical inputs downstream —
 * which is what lets a diff of two runs say "unchanged".
 */
export function mockState(args: MockResourceArgs, lastOutputs: Record<string, unknown>): MockResourceResult {
    const id = `${args.name}-id`;
    const arn = `arn:aws:mock:${MOCK_REGION}:123456789012:${args.name}`;
    switch (args.type) {
        case "pulumi:pulumi:StackReference":
            return { id: args.inputs.name, state: { ...args.inputs, outputs: lastOutputs, secretOutputNames: [] } };
        case "aws:lb/loadBalancer:LoadBalancer":
            return {
                id,
                state: { ...args.inputs, arn, arnSuffix: `${args.name}-suffix`, dnsName: `${args.name}.${MOCK_REGION}.elb.example` },
            };
        case "aws:lb/targetGroup:TargetGroup":
            return { id, state: { ...args.inputs, arn, arnSuffix: `${args.name}-suffix` } };
        case "aws:cloudwatch/logGroup:LogGroup":
        case "aws:ecs/cluster:Cluster":
        case "aws:iam/role:Role":
            return { id, state: { name: args.inputs.name ?? args.name, ...args.inputs, arn } };
        case "aws:rds/snapshot:Snapshot":
            return { id, state: { ...args.inputs, dbSnapshotArn: arn } };
        case "aws:rds/clusterSnapshot:ClusterSnapshot":
            return { id, state: { ...args.inputs, dbClusterSnapshotArn: arn } };
        case "command:local:Command":
            return { id, state: { ...args.inputs, stdout: mockOpsStdout(String(args.inputs.create ?? "")), stderr: "" } };
        default:
            return { id, state: { ...args.inputs, arn } };
    }
}

/** The JSON an ops command prints; a backup answers with a log record whose id derives from its arguments. */
function mockOpsStdout(create: string): string {
    const word = (flag: string) => new RegExp(`${flag} (\\S+)`).exec(create)?.[1];
    const kind =
        / backup --kind (\S+)/.exec(create)?.[1] ??
        (create.includes(" bucket-backup ") ? "bucket" : create.includes(" kms-record ") ? "kms" : undefined);
    if (kind === undefined) return "{}";
    const [app, version] = [word("--app"), word("--version")];
    const millis = String(["postgres", "directory", "bucket", "kms"].indexOf(kind)).padStart(3, "0");
    return JSON.stringify({
        id: `${app}-${version}-20261122T101500.${millis}Z`,
        kind,
        app,
        version,
        time: `2026-11-22T10:15:00.${millis}Z`,
        verified: true,
    });
}

/**
 * What the providers' functions answer. A registry look-up answers from
 * `registry`; an image missing there gets `unlisted(image)` when given, and
 * fails otherwise, as a registry without the tag would.
 */
/** What a database secret read by ARN holds under the mocks. */
export const MOCK_SECRET_DATABASE_URL = "postgresql://app:mock-password@db.internal:5432/app";

export function mockCall(
    args: MockCallArgs,
    registry: Record<string, string>,
    unlisted?: (image: string) => string,
): Record<string, unknown> {
    switch (args.token) {
        case "aws:index/getRegion:getRegion":
            return { region: MOCK_REGION, name: MOCK_REGION, id: MOCK_REGION };
        case "aws:ec2/getVpc:getVpc":
            return { id: args.inputs.id, cidrBlock: MOCK_VPC_CIDR };
        case "aws:secretsmanager/getSecretVersion:getSecretVersion":
            // A secret named by ARN: its value is not known offline, only its shape.
            return { id: args.inputs.secretId, arn: args.inputs.secretId, secretString: MOCK_SECRET_DATABASE_URL };
        case "docker:index/getRegistryImage:getRegistryImage": {
            const digest = registry[args.inputs.name] ?? unlisted?.(args.inputs.name);
            if (digest === undefined) throw new Error(`registry has no image ${args.inputs.name}`);
            return { id: args.inputs.name, name: args.inputs.name, sha256Digest: digest };
        }
        default:
            throw new Error(`no mock for call ${args.token}`);
    }
}
