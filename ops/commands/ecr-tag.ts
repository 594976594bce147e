import { ecrRegistry } from "../../core/imageRef";
import { releasedImageTag, RELEASED_TAG_PREFIX } from "../../core/imageRetention";
import { tagEcrImage } from "../artifacts/ecrTag";
import { OpsCommand, OpsIO } from "../command";
import { parseVersionImages } from "../artifacts/versionImages";

const usage = `usage: safe-release-ops ecr-tag --version <tag> --images <ref@sha256:…>[,<ref@sha256:…>…]

Marks the images of a version this program released, so that the ECR lifecycle policy it manages
(keep the last \`release:keepImages\` images tagged ${RELEASED_TAG_PREFIX}*) can count them: each
pinned ECR image (<account>.dkr.ecr.<region>.amazonaws.com/…) gets the tag ${RELEASED_TAG_PREFIX}<version>
on its digest. ECR BatchGetImage reads the stored manifest and PutImage stores it again under
the tag: nothing is pulled or pushed and the digest stays the same. A tag already on that digest
is fine; on another digest it moves (a rebuilt image of the same version), unless the
repository's tags are immutable. Images in other registries are skipped: no lifecycle policy
is managed there. AWS settings come from the environment.
Prints {"version", "tag", "tagged": [...], "alreadyTagged": [...], "skipped": [...]} on stdout;
exit 1 names each image that could not be tagged and why.
`;

async function run(args: string[], io: OpsIO): Promise<number> {
    const { version, images } = parseVersionImages(args, "marked");
    const tag = releasedImageTag(version);
    const result = { version, tag, tagged: [] as string[], alreadyTagged: [] as string[], skipped: [] as string[] };
    const failed: string[] = [];
    for (const { reference, ref } of images) {
        const ecr = ecrRegistry(ref.registry);
        if (ecr === undefined) {
            result.skipped.push(reference);
            io.stderr.write(`ecr-tag: ${version}: ${reference} is not in ECR; its registry's own retention rules keep it or not\n`);
            continue;
        }
        const outcome = await tagEcrImage(ref, ecr, tag, io.env);
        if (!outcome.tagged) {
            failed.push(`${reference}: ${outcome.reason}`);
        } else if (outcome.already) {
            result.alreadyTagged.push(reference);
            io.stderr.write(`ecr-tag: ${version}: ${reference} already tagged ${tag}\n`);
        } else {
            result.tagged.push(reference);
            io.stderr.write(`ecr-tag: ${version}: tagged ${reference} ${tag}\n`);
        }
    }
    if (failed.length > 0) {
        for (const line of failed) io.stderr.write(`ecr-tag: ${version}: could not tag ${line}\n`);
        io.stderr.write(
            `ecr-tag: without the tag the lifecycle policy does not count ${version} among the released versions ` +
                `(it neither keeps nor expires its images); fix the cause and run the update again\n`,
        );
        return 1;
    }
    io.stdout.write(`${JSON.stringify(result)}\n`);
    return 0;
}

export const command: OpsCommand = {
    name: "ecr-tag",
    summary: "tag a released version's ECR images safe-release-<version>, for the lifecycle policy that keeps the last ones",
    usage,
    run,
};
