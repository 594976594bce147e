import * as crypto from "crypto";

/**
 * `docker:index/getRegistryImage:getRegistryImage`: `{name: "repo:tag"}` →
 * `{name, sha256Digest}`, the digest the registry's HTTP API v2 gives for the
 * tag's manifest, as upstream's `docker_registry_image` data source asks for it:
 * `GET /v2/<repository>/manifests/<tag>` with the manifest media types in
 * `Accept`, the digest from `Docker-Content-Digest` or else the sha256 of the
 * body. A registry on loopback (127.0.0.0/8, `localhost`) is spoken to over
 * plain HTTP, as Docker itself does; any other over HTTPS. Registry
 * authentication (`registryAuth`, token challenges) is not implemented.
 */

export const GET_REGISTRY_IMAGE = "docker:index/getRegistryImage:getRegistryImage";

export const MANIFEST_MEDIA_TYPES = [
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
];

const DOCKER_HUB = "registry-1.docker.io";
const LOOKUP_TIMEOUT_MS = 30_000;

export interface ImageReference {
    readonly registry: string;
    readonly repository: string;
    readonly tag: string;
}

/** `127.0.0.1:5000/shop/api:v1` → registry, repository, tag; Docker Hub and `library/` as the docker CLI fills them in. */
export function parseImageReference(name: string): ImageReference {
    if (name.includes("@"))
        throw new Error(`getRegistryImage: \`name\` must be \`repository:tag\`, not a digest reference; got ${JSON.stringify(name)}`);
    const slash = name.indexOf("/");
    const first = slash < 0 ? "" : name.slice(0, slash);
    const hasRegistry = first.includes(".") || first.includes(":") || first === "localhost";
    const registry = hasRegistry ? first : DOCKER_HUB;
    let path = hasRegistry ? name.slice(slash + 1) : name;
    const colon = path.lastIndexOf(":");
    const tag = colon > path.lastIndexOf("/") ? path.slice(colon + 1) : "latest";
    if (colon > path.lastIndexOf("/")) path = path.slice(0, colon);
    if (path === "" || tag === "") throw new Error(`getRegistryImage: cannot read ${JSON.stringify(name)} as \`repository:tag\``);
    const repository = registry === DOCKER_HUB && !path.includes("/") ? `library/${path}` : path;
    return { registry, repository, tag };
}

export function isLoopbackRegistry(registry: string): boolean {
    const host = registry.replace(/:\d+$/, "");
    return host === "localhost" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === "[::1]";
}

export function manifestUrl(ref: ImageReference): string {
    const scheme = isLoopbackRegistry(ref.registry) ? "http" : "https";
    return `${scheme}://${ref.registry}/v2/${ref.repository}/manifests/${ref.tag}`;
}

export async function registryDigest(name: string, fetchImpl: typeof fetch = fetch): Promise<string> {
    const url = manifestUrl(parseImageReference(name));
    let response: Response;
    try {
        response = await fetchImpl(url, {
            headers: { Accept: MANIFEST_MEDIA_TYPES.join(", ") },
            signal: AbortSignal.timeout(LOOKUP_TIMEOUT_MS),
        });
    } catch (err) {
        throw new Error(`getRegistryImage: could not reach ${url} for ${name}: ${(err as Error).message}`);
    }
    const body = Buffer.from(await response.arrayBuffer());
    if (response.status === 401) {
        throw new Error(`getRegistryImage: ${url} asks for authentication, which the stand-in docker provider does not implement`);
    }
    if (!response.ok) {
        const detail = body.toString("utf8").replace(/\s+/g, " ").trim().slice(0, 200);
        throw new Error(
            `getRegistryImage: ${url} answered ${response.status} for ${name}${detail ? `: ${detail}` : ""}; check the repository and tag`,
        );
    }
    return response.headers.get("docker-content-digest") ?? `sha256:${crypto.createHash("sha256").update(body).digest("hex")}`;
}

export async function getRegistryImage(args: { name?: unknown; insecureSkipVerify?: unknown }): Promise<Record<string, unknown>> {
    if (typeof args.name !== "string" || args.name === "") throw new Error("getRegistryImage: `name` is required: `repository:tag`");
    const digest = await registryDigest(args.name);
    return { id: digest, name: args.name, sha256Digest: digest, insecureSkipVerify: args.insecureSkipVerify ?? false };
}
