/**
 * How the program marks the images of the versions it released in ECR, and the one lifecycle
 * rule that keeps the last of them. Shared by the `ecr-tag` program (which adds the tag) and
 * the aws-ecs component (which owns the policy), so both name the same tags.
 */

/** Every version this program releases gets `safe-release-<version>` on its pinned digest. */
export const RELEASED_TAG_PREFIX = "safe-release-";

export function releasedImageTag(version: string): string {
    return `${RELEASED_TAG_PREFIX}${version}`;
}

/**
 * The lifecycle policy text: expire the images tagged `safe-release-*` beyond the newest `keep`
 * (ECR counts them newest first by push time). Images without such a tag match no rule and are
 * never expired by it.
 */
export function lifecyclePolicyDocument(keep: number): string {
    return JSON.stringify({
        rules: [
            {
                rulePriority: 1,
                description: `keep the images of the last ${keep} versions safe-release released`,
                selection: {
                    tagStatus: "tagged",
                    tagPatternList: [`${RELEASED_TAG_PREFIX}*`],
                    countType: "imageCountMoreThan",
                    countNumber: keep,
                },
                action: { type: "expire" },
            },
        ],
    });
}
