/** An image pinned by digest, split the way a registry's HTTP API v2 addresses it. */
export interface PinnedImageRef {
    /** `127.0.0.1:5000`, `123456789012.dkr.ecr.eu-west-1.amazonaws.com`, `registry-1.docker.io`. */
    readonly registry: string;
    /** `shop/api`; Docker Hub's official images get `library/`, as the docker CLI fills it in. */
    readonly repository: string;
    /** `sha256:` and 64 hex digits. */
    readonly digest: string;
}

export const DOCKER_HUB = "registry-1.docker.io";

/**
 * The manifest media types `docker push` (Docker 20.10 and on) and OCI tools write. A request
 * for a manifest must accept them all, or a registry answers 404 for one it holds, and the
 * digest it gives is that of the stored manifest only when the stored type is accepted.
 */
export const MANIFEST_MEDIA_TYPES = [
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
].join(", ");

/** `repo[:tag]@sha256:…` with an optional registry host: the form every pinned image of a stack takes. */
export function parsePinnedImage(reference: string): PinnedImageRef {
    const match = /^([^@\s]+)@(sha256:[0-9a-f]{64})$/.exec(reference);
    if (!match) throw new Error(`\`${reference}\` must be an image pinned by digest: \`[registry/]repository@sha256:<64 hex digits>\``);
    let name = match[1];
    const slash = name.indexOf("/");
    const first = slash < 0 ? "" : name.slice(0, slash);
    // The docker CLI's rule: a first part with a dot or a port, or `localhost`, is a registry host.
    const hasRegistry = first.includes(".") || first.includes(":") || first === "localhost";
    const registry = hasRegistry ? first : DOCKER_HUB;
    name = hasRegistry ? name.slice(slash + 1) : name;
    // A tag before the digest (`api:v1.4.2@sha256:…`) documents the pin; the digest alone names the manifest.
    const colon = name.lastIndexOf(":");
    if (colon > name.lastIndexOf("/")) name = name.slice(0, colon);
    if (name === "") throw new Error(`\`${reference}\` names no repository`);
    const repository = registry === DOCKER_HUB && !name.includes("/") ? `library/${name}` : name;
    return { registry, repository, digest: match[2] };
}

/** Docker speaks plain HTTP to a registry on loopback, HTTPS to any other. */
export function isLoopbackRegistry(registry: string): boolean {
    const host = registry.replace(/:\d+$/, "");
    return host === "localhost" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === "[::1]";
}

/** ECR's private registries: `<account>.dkr.ecr.<region>.amazonaws.com` (and `.com.cn`). */
export function ecrRegistry(registry: string): { readonly account: string; readonly region: string } | undefined {
    const match = /^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/.exec(registry);
    return match ? { account: match[1], region: match[2] } : undefined;
}
