import {
    BatchGetImageCommand,
    ECRClient,
    ImageAlreadyExistsException,
    ImageTagAlreadyExistsException,
    PutImageCommand,
    RepositoryNotFoundException,
} from "@aws-sdk/client-ecr";
import { awsErrorText, awsClientConfig, withClient } from "../../core/awsClient";
import { MANIFEST_MEDIA_TYPES, PinnedImageRef } from "../../core/imageRef";

export type TagOutcome = { readonly tagged: true; readonly already: boolean } | { readonly tagged: false; readonly reason: string };

/**
 * Puts `tag` on the image `ref.digest` names, in its own ECR repository: `BatchGetImage` reads
 * the manifest exactly as stored, and `PutImage` stores it again under the tag with its digest,
 * so no byte is pulled or pushed and the digest cannot change. A tag already on that digest is
 * a success (the step runs again after an interrupted update); on another digest it moves
 * there, unless the repository's tags are immutable.
 */
export function tagEcrImage(
    ref: PinnedImageRef,
    at: { account: string; region: string },
    tag: string,
    env: NodeJS.ProcessEnv,
): Promise<TagOutcome> {
    const where = `ECR repository ${ref.repository} (${at.account}, ${at.region})`;
    return withClient(new ECRClient(awsClientConfig(env, "ECR", at.region)), async (ecr) => {
        let manifest: { text: string; mediaType?: string };
        try {
            const got = await ecr.send(
                new BatchGetImageCommand({
                    registryId: at.account,
                    repositoryName: ref.repository,
                    imageIds: [{ imageDigest: ref.digest }],
                    acceptedMediaTypes: MANIFEST_MEDIA_TYPES.split(", "),
                }),
            );
            const image = got.images?.find((i) => i.imageManifest !== undefined);
            if (image === undefined) {
                const failure = got.failures?.[0];
                const why = failure !== undefined ? ` (${failure.failureCode}: ${failure.failureReason})` : "";
                return { tagged: false, reason: `${where} no longer holds ${ref.digest}${why}` };
            }
            manifest = { text: image.imageManifest!, ...(image.imageManifestMediaType ? { mediaType: image.imageManifestMediaType } : {}) };
        } catch (err) {
            if (err instanceof RepositoryNotFoundException) return { tagged: false, reason: `${where} does not exist` };
            return { tagged: false, reason: awsErrorText(`ECR BatchGetImage of ${ref.repository}@${ref.digest}`, err, env) };
        }
        try {
            await ecr.send(
                new PutImageCommand({
                    registryId: at.account,
                    repositoryName: ref.repository,
                    imageManifest: manifest.text,
                    ...(manifest.mediaType !== undefined ? { imageManifestMediaType: manifest.mediaType } : {}),
                    imageDigest: ref.digest,
                    imageTag: tag,
                }),
            );
            return { tagged: true, already: false };
        } catch (err) {
            if (err instanceof ImageAlreadyExistsException) return { tagged: true, already: true };
            if (err instanceof ImageTagAlreadyExistsException) {
                return {
                    tagged: false,
                    reason:
                        `${where} has immutable tags and \`${tag}\` already names another image there; ` +
                        `release the rebuilt image under a new version, or delete that tag if no live version runs it`,
                };
            }
            return { tagged: false, reason: awsErrorText(`ECR PutImage of ${ref.repository}:${tag}`, err, env) };
        }
    });
}
