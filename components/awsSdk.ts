import type * as awsTypes from "@pulumi/aws";

/**
 * `@pulumi/aws`, loaded on first use: the data steps reach for it only on AWS
 * (an RDS snapshot, a KMS key), and loading its hundreds of modules costs every
 * `pulumi up` of a `docker-host` or `host` stack a noticeable share of its time.
 */
export function awsSdk(): typeof awsTypes {
    return require("@pulumi/aws");
}
