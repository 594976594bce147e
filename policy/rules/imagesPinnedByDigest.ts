import { ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { UNKNOWN, describeResource, quote, readKnown } from "../known";

export const TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition";
export const DOCKER_CONTAINER = "docker:index/container:Container";
export const DOCKER_REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage";

/** One image reference found in a resource's inputs, with the field it came from. */
export interface ImageReference {
    readonly field: string;
    readonly image: unknown;
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/**
 * True for `repository@sha256:<64 lowercase hex>`. The repository may carry a registry
 * host and port (`registry:5000/team/app`) but no tag: a tag next to a digest is
 * ignored by Docker and only misleads whoever reads the plan.
 */
export function isPinnedByDigest(image: string): boolean {
    const at = image.indexOf("@");
    if (at <= 0 || image.indexOf("@", at + 1) !== -1) {
        return false;
    }
    const repository = image.slice(0, at);
    const lastComponent = repository.slice(repository.lastIndexOf("/") + 1);
    return (
        !/\s/.test(repository) &&
        lastComponent !== "" &&
        !lastComponent.includes(":") &&
        !repository.startsWith("/") &&
        DIGEST.test(image.slice(at + 1))
    );
}

/**
 * The image references of a task definition's `containerDefinitions` JSON. Throws (with the
 * tail of a violation message) when it cannot be read, because then no image in it can be checked.
 */
export function taskDefinitionImages(containerDefinitions: string): ImageReference[] {
    let parsed: unknown;
    try {
        parsed = JSON.parse(containerDefinitions);
    } catch {
        throw new Error("must be a JSON array of container definitions; got text that is not JSON");
    }
    if (!Array.isArray(parsed)) {
        throw new Error(
            `must be a JSON array of container definitions; got ${typeof parsed === "object" && parsed !== null ? "an object" : quote(parsed)}`,
        );
    }
    return parsed.map((definition, index) => ({
        field: `containerDefinitions[${index}].image`,
        image: definition !== null && typeof definition === "object" ? (definition as Record<string, unknown>).image : undefined,
    }));
}

/** Every image reference in a resource's inputs; `[]` for types that hold none. */
export function imageReferences(type: string, props: Record<string, unknown>): ImageReference[] {
    switch (type) {
        case TASK_DEFINITION: {
            const definitions = readKnown(props, "containerDefinitions");
            if (definitions === UNKNOWN) {
                return [];
            }
            if (typeof definitions !== "string") {
                return [{ field: "containerDefinitions", image: definitions }];
            }
            return taskDefinitionImages(definitions);
        }
        case DOCKER_CONTAINER:
            return [{ field: "image", image: readKnown(props, "image") }];
        case DOCKER_REMOTE_IMAGE:
            return [{ field: "name", image: readKnown(props, "name") }];
        default:
            return [];
    }
}

/** The violation messages for one resource; unknown (preview-time) images are left for `pulumi up`. */
export function imageViolations(type: string, name: string, props: Record<string, unknown>): string[] {
    let references: ImageReference[];
    try {
        references = imageReferences(type, props);
    } catch (err) {
        return [`\`containerDefinitions\` of ${describeResource(type, name)} ${(err as Error).message}`];
    }
    return references
        .filter(({ image }) => image !== UNKNOWN && !(typeof image === "string" && isPinnedByDigest(image)))
        .map(
            ({ field, image }) =>
                `\`${field}\` of ${describeResource(type, name)} must pin its image by digest as ` +
                `\`repository@sha256:<64 hex>\`; got ${quote(image)}`,
        );
}

export const imagesPinnedByDigest: ResourceValidationPolicy = {
    name: "images-pinned-by-digest",
    description: "Every container image is pinned by digest (`repository@sha256:<64 hex>`), never by a tag or a bare repository.",
    enforcementLevel: "mandatory",
    validateResource: (args: ResourceValidationArgs, reportViolation) => {
        for (const message of imageViolations(args.type, args.name, args.props)) {
            reportViolation(message);
        }
    },
};
