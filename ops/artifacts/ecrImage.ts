import { DescribeImagesCommand, ECRClient, ImageNotFoundException, RepositoryNotFoundException } from "@aws-sdk/client-ecr";
import { awsCall, awsClientConfig, withClient } from "../../core/awsClient";
import { PinnedImageRef } from "../../core/imageRef";
import { Presence } from "./registryImage";

/**
 * Whether ECR still holds the image: `DescribeImages` by digest in the registry's own
 * account and region (a lifecycle rule or a `batch-delete-image` may have expired it).
 * The ECR API rather than the registry protocol: the release's role reads it with
 * `ecr:DescribeImages` alone, and ECR answers "not found" apart from "not allowed".
 */
export function ecrHasImage(ref: PinnedImageRef, at: { account: string; region: string }, env: NodeJS.ProcessEnv): Promise<Presence> {
    return withClient(new ECRClient(awsClientConfig(env, "ECR", at.region)), async (ecr) => {
        try {
            await ecr.send(
                new DescribeImagesCommand({
                    registryId: at.account,
                    repositoryName: ref.repository,
                    imageIds: [{ imageDigest: ref.digest }],
                }),
            );
            return { present: true };
        } catch (err) {
            if (err instanceof ImageNotFoundException) {
                return {
                    present: false,
                    reason: `ECR repository ${ref.repository} (${at.account}, ${at.region}) no longer holds ${ref.digest}`,
                };
            }
            if (err instanceof RepositoryNotFoundException) {
                return { present: false, reason: `ECR repository ${ref.repository} does not exist in ${at.account}, ${at.region}` };
            }
            return awsCall(`ECR DescribeImages of ${ref.repository}@${ref.digest}`, env, () => Promise.reject(err));
        }
    });
}
