import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";

export interface PinnedImageArgs {
    /** Repository without tag or digest, e.g. `ghcr.io/acme/api`. */
    readonly repository: string;
    /** Tag the image was published under: the release tag for the service's images. */
    readonly version: string;
    /**
     * Digest from `release:digests`. When absent, the registry is asked for the
     * digest of `repository:version` at preview time, and the answer is exported
     * so it can be pinned in config.
     */
    readonly digest?: string;
    /**
     * The provider that answers the registry lookup: the platform's own docker
     * provider, so an update starts one docker plugin, not a second default one.
     */
    readonly lookupProvider?: pulumi.ProviderResource;
}

/**
 * An image reference that cannot move: `repository@sha256:…`. Containers run
 * the digest, never the tag, so what `pulumi preview` showed is what runs, and a
 * rollback redeploys the exact bytes the last known good version ran.
 */
export class PinnedImage extends pulumi.ComponentResource {
    /** `repository@sha256:…` */
    public readonly ref: pulumi.Output<string>;
    public readonly digest: pulumi.Output<string>;
    /** Where the digest came from: `config` (pinned) or `registry` (looked up; pin it). */
    public readonly source: "config" | "registry";

    constructor(name: string, args: PinnedImageArgs, opts: pulumi.ComponentResourceOptions = {}) {
        super("safe-release:image:PinnedImage", name, {}, opts);
        this.source = args.digest === undefined ? "registry" : "config";
        this.digest =
            args.digest === undefined
                ? docker
                      .getRegistryImageOutput(
                          { name: `${args.repository}:${args.version}` },
                          { parent: this, ...(args.lookupProvider !== undefined ? { provider: args.lookupProvider } : {}) },
                      )
                      .sha256Digest.apply((digest) => checkedDigest(digest, `${args.repository}:${args.version}`))
                : pulumi.output(args.digest);
        this.ref = pinnedReference(args.repository, this.digest);
        this.registerOutputs({ ref: this.ref, digest: this.digest });
    }
}

export function pinnedReference(repository: string, digest: pulumi.Input<string>): pulumi.Output<string> {
    return pulumi.interpolate`${repository}@${digest}`;
}

/** A registry answer that is not a sha256 digest must stop the update, not become an unpinned image. */
export function checkedDigest(digest: string, image: string): string {
    if (!/^sha256:[0-9a-f]{64}$/.test(digest)) {
        throw new Error(`the registry returned ${JSON.stringify(digest)} as the digest of ${image}; expected sha256:<64 hex>`);
    }
    return digest;
}
