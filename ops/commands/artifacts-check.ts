import { ecrRegistry } from "../../core/imageRef";
import { ecrHasImage } from "../artifacts/ecrImage";
import { registryHasImage } from "../artifacts/registryImage";
import { OpsCommand, OpsIO } from "../command";
import { parseVersionImages } from "../artifacts/versionImages";

const usage = `usage: safe-release-ops artifacts-check --version <tag> --images <ref@sha256:…>[,<ref@sha256:…>…]

Proves that the images a rollback would return to still exist, before a forward step changes
anything: each pinned image must still be served by its registry. An ECR image
(<account>.dkr.ecr.<region>.amazonaws.com/…) is looked up with ECR DescribeImages (AWS settings
from the environment); any other registry over its HTTP API v2 (HEAD of the manifest by digest;
plain HTTP to loopback only), with a token from the registry's challenge and the docker config's
credentials for it where there are any. Nothing is pulled or written.
Prints {"version", "images": [...]} on stdout; exit 1 names each missing image and why.
`;

async function run(args: string[], io: OpsIO): Promise<number> {
    const { version, images } = parseVersionImages(args, "checked");
    const missing: string[] = [];
    for (const { reference, ref } of images) {
        const ecr = ecrRegistry(ref.registry);
        const presence = ecr !== undefined ? await ecrHasImage(ref, ecr, io.env) : await registryHasImage(ref, io.env);
        if (presence.present) io.stderr.write(`artifacts-check: ${version}: ${reference} is there\n`);
        else missing.push(`${reference}: ${presence.reason}`);
    }
    if (missing.length > 0) {
        for (const line of missing) io.stderr.write(`artifacts-check: ${version}: missing ${line}\n`);
        io.stderr.write(
            `artifacts-check: a rollback to ${version} would have no image to start; push the image again under the same digest ` +
                `(or keep it by the registry's retention rules) before going forward\n`,
        );
        return 1;
    }
    io.stdout.write(`${JSON.stringify({ version, images: images.map((image) => image.reference) })}\n`);
    return 0;
}

export const command: OpsCommand = {
    name: "artifacts-check",
    summary: "prove the images a rollback returns to are still in their registries, before going forward",
    usage,
    run,
};
