import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { isLoopbackRegistry, MANIFEST_MEDIA_TYPES, PinnedImageRef } from "../../core/imageRef";

const REQUEST_TIMEOUT_MS = 20_000;

export type Presence = { readonly present: true } | { readonly present: false; readonly reason: string };

/**
 * Whether the registry still serves the manifest `ref.digest` names, by the HTTP API v2
 * (`HEAD /v2/<repository>/manifests/<digest>`), as `docker pull repo@digest` would ask for it.
 * A registry that asks for a token (`WWW-Authenticate: Bearer …`, as Docker Hub, GHCR and most
 * do, also for anonymous pulls) gets one from its realm, with the credentials of the docker
 * config's `auths` entry for that registry where there is one. Credentials are never printed.
 */
export async function registryHasImage(ref: PinnedImageRef, env: NodeJS.ProcessEnv, fetchImpl: typeof fetch = fetch): Promise<Presence> {
    const scheme = isLoopbackRegistry(ref.registry) ? "http" : "https";
    const url = `${scheme}://${ref.registry}/v2/${ref.repository}/manifests/${ref.digest}`;
    const basic = dockerConfigAuth(ref.registry, env);
    const head = (authorization?: string) =>
        fetchImpl(url, {
            method: "HEAD",
            headers: { Accept: MANIFEST_MEDIA_TYPES, ...(authorization !== undefined ? { Authorization: authorization } : {}) },
            signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
    let response = await reach(url, () => head(basic !== undefined ? `Basic ${basic}` : undefined));
    if (response.status === 401) {
        const challenge = response.headers.get("www-authenticate") ?? "";
        if (!/^bearer\s/i.test(challenge)) {
            return {
                present: false,
                reason: `${url} answered 401 (${challenge || "no challenge"}); ${credentialHint(ref.registry, basic)}`,
            };
        }
        const token = await bearerToken(challenge, basic, fetchImpl);
        if (typeof token !== "string") return { present: false, reason: `${token.reason}; ${credentialHint(ref.registry, basic)}` };
        response = await reach(url, () => head(`Bearer ${token}`));
    }
    if (response.status === 200) return { present: true };
    if (response.status === 404) return { present: false, reason: `${url} answered 404: the registry no longer holds that manifest` };
    if (response.status === 401 || response.status === 403) {
        return { present: false, reason: `${url} answered ${response.status}; ${credentialHint(ref.registry, basic)}` };
    }
    return { present: false, reason: `${url} answered ${response.status}; expected 200 for a manifest the registry holds` };
}

async function reach(url: string, request: () => Promise<Response>): Promise<Response> {
    try {
        return await request();
    } catch (err) {
        const cause = (err as { cause?: { message?: string } }).cause?.message;
        throw new Error(`could not reach ${url}: ${(err as Error).message}${cause !== undefined ? ` (${cause})` : ""}`);
    }
}

/** The token service of a `Bearer realm="…",service="…",scope="…"` challenge, asked with basic credentials where known. */
async function bearerToken(challenge: string, basic: string | undefined, fetchImpl: typeof fetch): Promise<string | { reason: string }> {
    const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1].toLowerCase(), m[2]]));
    if (params.realm === undefined) return { reason: `the registry's challenge names no token realm: ${challenge}` };
    const realm = new URL(params.realm);
    for (const name of ["service", "scope"]) if (params[name] !== undefined) realm.searchParams.set(name, params[name]);
    const response = await reach(realm.origin + realm.pathname, () =>
        fetchImpl(realm, {
            headers: basic !== undefined ? { Authorization: `Basic ${basic}` } : {},
            signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        }),
    );
    if (!response.ok) return { reason: `the token service ${realm.origin}${realm.pathname} answered ${response.status}` };
    const body = (await response.json().catch(() => ({}))) as { token?: unknown; access_token?: unknown };
    const token = typeof body.token === "string" ? body.token : body.access_token;
    return typeof token === "string" ? token : { reason: `the token service ${realm.origin}${realm.pathname} returned no token` };
}

function credentialHint(registry: string, basic: string | undefined): string {
    return basic !== undefined
        ? `the credentials for ${registry} in the docker config were refused or may not pull this repository`
        : `no credentials for ${registry} in the docker config (\`docker login ${registry}\` writes them; credential helpers are not read)`;
}

/** `auths[<registry>].auth` (base64 `user:password`) of `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
export function dockerConfigAuth(registry: string, env: NodeJS.ProcessEnv): string | undefined {
    const dir = env.DOCKER_CONFIG ?? path.join(env.HOME ?? os.homedir(), ".docker");
    let config: { auths?: Record<string, { auth?: unknown }> };
    try {
        config = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8"));
    } catch {
        return undefined;
    }
    const auths = config.auths ?? {};
    const keys = registry === "registry-1.docker.io" ? ["https://index.docker.io/v1/", "index.docker.io", "docker.io"] : [registry];
    for (const key of [...keys, `https://${registry}`]) {
        const auth = auths[key]?.auth;
        if (typeof auth === "string" && auth !== "") return auth;
    }
    return undefined;
}
