import * as pulumi from "@pulumi/pulumi";
import { PolicyResourceOptions, ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { UNKNOWN, describeResource, quote, readKnown } from "../known";
import { PRE_UPGRADE_BACKUP } from "./migrationAfterBackup";

/** State holders that AWS itself can refuse to delete, and the input that says so. */
export const DELETION_PROTECTION_FIELDS: Readonly<Record<string, string>> = {
    "aws:rds/instance:Instance": "deletionProtection",
    "aws:rds/cluster:Cluster": "deletionProtection",
    "aws:lb/loadBalancer:LoadBalancer": "enableDeletionProtection",
};

/** State holders that only Pulumi can keep: they need the `protect` resource option. */
export const PROTECTED_TYPES: readonly string[] = [
    "aws:rds/snapshot:Snapshot",
    "aws:rds/clusterSnapshot:ClusterSnapshot",
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketV2:BucketV2",
    "aws:kms/key:Key",
];

export interface ProductionConfig {
    /** Overrides the stack-name rule either way. */
    readonly production?: boolean;
}

/** `prod`, `production`, or either as a `-`/`_`/`.`/`/`-separated part: `prod`, `prod-eu`, `acme/production`, not `product`. */
export function isProductionStackName(stack: string): boolean {
    return /(^|[-_./])prod(uction)?($|[-_./])/i.test(stack);
}

/** The `production` policy config when set, otherwise the stack-name rule. */
export function isProduction(config: ProductionConfig, stack: string): boolean {
    return typeof config.production === "boolean" ? config.production : isProductionStackName(stack);
}

/**
 * The violation for one resource in a production stack, or `undefined` when it keeps its
 * state. Only `protect` is accepted from the resource options: `@pulumi/policy` 1.21 does
 * not pass `retainOnDelete` to policies, so a rule cannot see it.
 */
export function retentionViolation(
    type: string,
    name: string,
    props: Record<string, unknown>,
    opts: Pick<PolicyResourceOptions, "protect" | "parent">,
    stack: string,
): string | undefined {
    const field = DELETION_PROTECTION_FIELDS[type];
    if (field !== undefined) {
        const value = readKnown(props, field);
        if (value === true || value === UNKNOWN) {
            return undefined;
        }
        return (
            `\`${field}\` of ${describeResource(type, name)} must be \`true\` in production (stack \`${stack}\`) ` +
            `so that deleting it needs a deliberate change first; got ${quote(value)}`
        );
    }
    if (SNAPSHOT_TYPES.includes(type) && parentType(opts.parent) === PRE_UPGRADE_BACKUP) {
        return undefined;
    }
    if (PROTECTED_TYPES.includes(type) && opts.protect !== true) {
        return (
            `${describeResource(type, name)} holds state and must have the resource option \`protect: true\` ` +
            `in production (stack \`${stack}\`); got \`protect: ${String(opts.protect)}\``
        );
    }
    return undefined;
}

/*
 * A pre-upgrade snapshot leaves the program with every later release, so it
 * cannot be `protect`ed (deleting a protected resource fails the update); the
 * program gives it `retainOnDelete` instead, which policies cannot see. The
 * snapshots a PreUpgradeBackup component owns are therefore accepted: the
 * program's own tests assert their `retainOnDelete`.
 */
const SNAPSHOT_TYPES = ["aws:rds/snapshot:Snapshot", "aws:rds/clusterSnapshot:ClusterSnapshot"];

/** The type of the resource a URN names: the last `$`-separated type of its type chain. */
export function parentType(urn: string | undefined): string | undefined {
    const chain = urn?.split("::")[2];
    return chain?.split("$").pop();
}

/** Builds the policy around a stack-name source, so tests can choose the stack. */
export function makeStateRetainedInProduction(stackName: () => string): ResourceValidationPolicy {
    return {
        name: "state-retained-in-production",
        description: "In production, databases, snapshots, buckets, keys and load balancers cannot be deleted by an update.",
        enforcementLevel: "mandatory",
        configSchema: {
            properties: {
                production: {
                    type: "boolean",
                    description:
                        "Whether this stack is production. When unset, a stack named `prod`, `production` " +
                        "or with either as a `-`, `_`, `.` or `/`-separated part (`prod-eu`) is production.",
                },
            },
        },
        validateResource: (args: ResourceValidationArgs, reportViolation) => {
            const stack = stackName();
            if (!isProduction(args.getConfig<ProductionConfig>(), stack)) {
                return;
            }
            const message = retentionViolation(args.type, args.name, args.props, args.opts, stack);
            if (message !== undefined) {
                reportViolation(message);
            }
        },
    };
}

export const stateRetainedInProduction = makeStateRetainedInProduction(() => pulumi.getStack());
