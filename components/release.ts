import * as pulumi from "@pulumi/pulumi";
import { ReleaseConfig } from "../settings/release";
import { EcsPlatform } from "./awsEcs/ecsPlatform";
import { PinnedImage } from "./pinnedImage";
import { LastRelease, ReleasePlan, planRelease } from "./plan";
import { PlatformAdapter, PlatformArgs, VersionImages } from "./platform";

export interface ReleaseArgs extends PlatformArgs {
    /** What the last successful update exported; empty before the first deploy. */
    readonly last: LastRelease;
}

/** The stack outputs: what a person or a script needs to act on the release. */
export interface ReleaseOutputs {
    readonly version: string;
    readonly previous?: string;
    /** Version → percent of traffic. */
    readonly weights: Record<string, number>;
    /** Version → component → `repo@sha256:…` */
    readonly images: pulumi.Output<Record<string, Record<string, string>>>;
    /** Version → component → digest, for images whose digest was looked up rather than pinned: copy into `release:digests`. */
    readonly unpinnedDigests: pulumi.Output<Record<string, Record<string, string>>>;
    /** Newest version whose migration has run. */
    readonly schemaHead: string;
    readonly transition: string;
    readonly summary: string;
    readonly url: pulumi.Output<string>;
}

/**
 * One release of one service: the plan (live versions, weights, schema head),
 * pinned images for every live version, the platform's resources per version,
 * and the weighted routing between them.
 */
export class Release extends pulumi.ComponentResource {
    public readonly plan: ReleasePlan;
    public readonly outputs: ReleaseOutputs;

    constructor(name: string, args: ReleaseArgs, opts: pulumi.ComponentResourceOptions = {}) {
        // Planning may refuse the config; it does so before the first resource is registered.
        const plan = planRelease(args.config, args.last);
        super("safe-release:index:Release", name, {}, opts);
        const { config } = args;
        this.plan = plan;
        const platform = choosePlatform(name, args, this);
        const pinned = this.plan.live.map((live) => ({ live, images: this.pinImages(name, config, live.version) }));
        const routing = platform.routeTraffic(
            pinned.map(({ live, images }) => ({ deployed: platform.deployVersion(live.version, refs(images)), weight: live.weight })),
        );
        this.outputs = {
            version: config.version,
            ...(config.previous !== undefined ? { previous: config.previous } : {}),
            weights: this.plan.weights,
            images: pulumi.output(Object.fromEntries(pinned.map(({ live, images }) => [live.version, refs(images)]))),
            unpinnedDigests: pulumi.output(Object.fromEntries(
                pinned
                    .map(({ live, images }) => [live.version, Object.fromEntries(Object.entries(images).filter(([, i]) => i.source === "registry").map(([c, i]) => [c, i.digest]))] as const)
                    .filter(([, digests]) => Object.keys(digests).length > 0),
            )),
            schemaHead: this.plan.schemaHead.after,
            transition: this.plan.transition,
            summary: this.plan.summary,
            url: routing.url,
        };
        this.registerOutputs({ ...this.outputs });
    }

    private pinImages(name: string, config: ReleaseConfig, version: string): Record<string, PinnedImage> {
        return Object.fromEntries(
            config.components.map((component) => [
                component.name,
                new PinnedImage(`${name}-${version}-${component.name}`, {
                    repository: component.image,
                    version,
                    digest: config.digests[version]?.[component.name],
                }, { parent: this }),
            ]),
        );
    }
}

function refs(images: Record<string, PinnedImage>): VersionImages {
    return Object.fromEntries(Object.entries(images).map(([component, image]) => [component, image.ref]));
}

function choosePlatform(name: string, args: PlatformArgs, parent: pulumi.Resource): PlatformAdapter {
    switch (args.config.platform) {
        case "aws-ecs":
            return new EcsPlatform(`${name}-ecs`, args, { parent });
        default:
            throw new Error(`\`release:platform\` "${args.config.platform}" has no adapter`);
    }
}
