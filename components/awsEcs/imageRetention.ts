import * as aws from "@pulumi/aws";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { ecrRegistry, parsePinnedImage } from "../../core/imageRef";
import { lifecyclePolicyDocument } from "../../core/imageRetention";
import { ComponentSpec } from "../../settings/components";
import { ReleaseConfig } from "../../settings/release";
import { NO_RERUN, OPS, commandLine } from "../data/opsCommand";
import { VersionImages } from "../platform";

/**
 * The runbooks' "retain the last N (default 5) release images, or guarantee registry
 * retention", on aws-ecs: each version this program releases gets the tag
 * `safe-release-<version>` on its pinned digests (`ecr-tag`), and each ECR repository the
 * components' images come from gets a lifecycle policy that expires the images so tagged
 * beyond the newest `release:keepImages`. The program can only count what it can
 * identify: images without that tag match no rule and are never expired by it. Images in
 * other registries get no policy; their registry's own retention keeps them or not.
 */

/** An ECR repository a component's image comes from: its registry's account and region, and its name. */
interface EcrRepository {
    readonly account: string;
    readonly region: string;
    readonly name: string;
}

/** The ECR repository of a component's `image` (a repository without tag or digest), if it is in ECR. */
function ecrRepositoryOf(image: string): EcrRepository | undefined {
    // Any digest splits the repository the way a pinned reference of it is split.
    const ref = parsePinnedImage(`${image}@sha256:${"0".repeat(64)}`);
    const at = ecrRegistry(ref.registry);
    return at === undefined ? undefined : { ...at, name: ref.repository };
}

/** The distinct ECR repositories of the components' images, in the order of their first component. */
export function ecrRepositories(config: ReleaseConfig): EcrRepository[] {
    const found = new Map<string, EcrRepository>();
    for (const component of config.components) {
        const repository = ecrRepositoryOf(component.image);
        if (repository !== undefined) found.set(`${repository.account}/${repository.region}/${repository.name}`, repository);
    }
    return [...found.values()];
}

/**
 * One lifecycle policy per ECR repository, managed in the repository's region. ECR holds one
 * policy per repository: this one replaces any the repository had, so rules of one's own
 * belong in this stack, not beside it.
 */
export function imageRetentionPolicies(name: string, config: ReleaseConfig, parent: pulumi.Resource): aws.ecr.LifecyclePolicy[] {
    return ecrRepositories(config).map(
        (repository) =>
            new aws.ecr.LifecyclePolicy(
                `${name}-${repository.name.replace(/[^a-z0-9-]+/g, "-")}-retention`,
                { repository: repository.name, region: repository.region, policy: lifecyclePolicyDocument(config.keepImages) },
                { parent },
            ),
    );
}

/**
 * `ecr-tag` of one version's ECR images: created once per version (its name is keyed by the
 * version; a later update repeats its output), after `after` (the version's services, healthy:
 * a version counts as released once it runs). None when no image is in ECR.
 */
export function releasedImagesTag(
    name: string,
    args: {
        readonly components: readonly ComponentSpec[];
        readonly version: string;
        readonly images: VersionImages;
        readonly after?: pulumi.Resource[];
    },
    parent: pulumi.Resource,
): command.local.Command | undefined {
    const inEcr = new Set(args.components.filter((c) => ecrRepositoryOf(c.image) !== undefined).map((c) => c.name));
    const refs = Object.entries(args.images)
        .filter(([component]) => inEcr.has(component))
        .map(([, ref]) => ref);
    if (refs.length === 0) return undefined;
    const argv = pulumi
        .all(refs)
        .apply((resolved) => [...OPS, "ecr-tag", "--version", args.version, "--images", [...new Set(resolved)].sort().join(",")]);
    return new command.local.Command(
        `${name}-${args.version}-ecr-tag`,
        { create: commandLine(argv), update: NO_RERUN },
        { parent, dependsOn: args.after ?? [] },
    );
}
