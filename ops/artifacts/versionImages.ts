import { PinnedImageRef, parsePinnedImage } from "../../core/imageRef";
import { UsageError } from "../command";
import { parseFlags, requireValue } from "../flags";
import { validateVersion } from "../validate";

export interface VersionImages {
    readonly version: string;
    readonly images: readonly { readonly reference: string; readonly ref: PinnedImageRef }[];
}

/** `--version <tag> --images <ref@sha256:…>[,…]`, the flags of the commands that act on one version's pinned images. */
export function parseVersionImages(args: readonly string[], purpose: string): VersionImages {
    const flags = parseFlags(args, { version: "value", images: "value" });
    const version = validateVersion(requireValue(flags, "version", `the release tag whose images are ${purpose}`));
    const references = requireValue(flags, "images", "the pinned images, `repository@sha256:…`, separated by commas").split(",");
    const images = references.map((reference) => {
        try {
            return { reference, ref: parsePinnedImage(reference) };
        } catch (err) {
            throw new UsageError(`\`--images\`: ${(err as Error).message}`);
        }
    });
    return { version, images };
}
