import { digestOf } from "../test/support/fixtures";

/** A service with `count` components (one web, the rest workers), every live version pinned. */
export function benchConfig(count: number, version: string, previous: string, canaryWeight: number): Record<string, unknown> {
    const names = Array.from({ length: count }, (_, i) => (i === 0 ? "web" : `worker${i}`));
    const components = Object.fromEntries(
        names.map((name, i) => [
            name,
            i === 0 ? { image: "ghcr.io/acme/app", port: 8080 } : { image: "ghcr.io/acme/app", role: "worker", command: ["run", name] },
        ]),
    );
    const digests = Object.fromEntries(
        [version, previous].map((v) => [v, Object.fromEntries(names.map((n) => [n, digestOf(`${n}${v}`)]))]),
    );
    return {
        "release:app": "bench",
        "release:version": version,
        "release:previous": previous,
        "release:canaryWeight": canaryWeight,
        "release:components": components,
        "release:digests": digests,
        "release:aws": { vpcId: "vpc-0abc12345def67890", subnetIds: ["subnet-0aaa1111bbbb2222c"] },
    };
}
