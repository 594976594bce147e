import { digestOf } from "./fixtures";
import { StackConfig } from "./mockProviders";

/** The router image every docker-host fixture pins. */
export const ROUTER_IMAGE = `nginx@${digestOf("nginx-1.27-alpine")}`;

/** The same backend + worker service as `ecsConfig`, on one Docker host, every version pinned. */
export function dockerConfig(overrides: StackConfig = {}, versions = ["v1.4.2", "v1.5.0"]): StackConfig {
    const digests = Object.fromEntries(versions.map((v) => [v, { api: digestOf(`api${v}`), worker: digestOf(`worker${v}`) }]));
    return {
        "release:app": "shop",
        "release:platform": "docker-host",
        "release:components": {
            api: { image: "ghcr.io/acme/shop-api", role: "web", port: 8080, healthPath: "/health" },
            worker: { image: "ghcr.io/acme/shop-api", role: "worker", command: ["node", "worker.js"] },
        },
        "release:digests": digests,
        "release:dockerHost": { routerImage: ROUTER_IMAGE },
        ...overrides,
    };
}
