import { strict as assert } from "assert";
import { dockerConfig } from "./support/dockerFixtures";
import { pinnedImagesOf, resource, rollbackCheckOf } from "./support/inspect";
import { ProgramRun, runProgram } from "./support/mockEngine";
import { StackConfig } from "./support/mockProviders";
import { diffRuns, planDiff } from "./support/planDiff";

const ROUTER_CONFIG = "command:local:Command::shop-docker-router-config";

/** Every resource that belongs to one version: its pinned images, the version component, images and containers. */
function versionResources(version: string): string[] {
    const prefix = `shop-docker-${version}`;
    return [
        `docker:index/container:Container::${prefix}-api`,
        `docker:index/container:Container::${prefix}-worker`,
        `docker:index/remoteImage:RemoteImage::${prefix}-api-image`,
        `docker:index/remoteImage:RemoteImage::${prefix}-worker-image`,
        `safe-release:docker:DockerVersion::${prefix}`,
        `safe-release:image:PinnedImage::shop-${version}-api`,
        `safe-release:image:PinnedImage::shop-${version}-worker`,
    ].sort();
}

function release(version: string, previous?: string, canaryWeight?: number): StackConfig {
    return dockerConfig({
        "release:version": version,
        ...(previous !== undefined ? { "release:previous": previous } : {}),
        ...(canaryWeight !== undefined ? { "release:canaryWeight": canaryWeight } : {}),
    });
}

/** Version → weight in the router's front upstream (`backup` reads as 0), via the direct port each version's hop listens on. */
function routerWeights(run: ProgramRun): Record<string, number> {
    const config: string = resource(run, "command:local:Command", "shop-docker-router-config").inputs.stdin;
    const ports = Object.fromEntries(
        [...config.matchAll(/listen 127\.0\.0\.1:(\d+);\s+add_header X-Release-Version (\S+) always;/g)].map((m) => [m[1], m[2]]),
    );
    const front = /upstream api__weighted \{\n([\s\S]*?)\n\s*\}/.exec(config)![1];
    return Object.fromEntries(
        [...front.matchAll(/server 127\.0\.0\.1:(\d+) (?:weight=(\d+)|backup)/g)].map((m) => [ports[m[1]], Number(m[2] ?? 0)]),
    );
}

describe("release transitions on docker-host (DESIGN.md transition table)", () => {
    it("first deploy: creates v1.4.2 at 100%, the network and the router", async () => {
        const empty: ProgramRun = { resources: new Map(), outputs: {} };
        const after = await runProgram({ config: release("v1.4.2") });
        const diff = diffRuns(empty, after);
        assert.deepEqual([...diff.names("updated"), ...diff.names("deleted")], []);
        const shared = [
            "docker:index/container:Container::shop-docker-router",
            "docker:index/network:Network::shop-docker-network",
            ROUTER_CONFIG,
        ];
        for (const name of [...versionResources("v1.4.2"), ...shared]) assert.ok(diff.names("created").includes(name), name);
        assert.deepEqual(routerWeights(after), { "v1.4.2": 100 });
        assert.equal(after.outputs.transition, "first-deploy");
    });

    it("start a release: creates only v1.5.0's resources and adds it to the router at weight 0", async () => {
        const diff = await planDiff(release("v1.4.2"), release("v1.5.0", "v1.4.2", 0));
        assert.deepEqual(diff.names("created"), [...versionResources("v1.5.0"), ...rollbackCheckOf("v1.5.0")].sort());
        // Before anything of v1.5.0 starts: the registry still serves what a rollback to v1.4.2 would run.
        assert.equal(
            resource(diff.after, "command:local:Command", "shop-rollback-check-v1.5.0-run").inputs.create,
            `node ops/bin/safe-release-ops.js artifacts-check --version v1.4.2 --images ${pinnedImagesOf(diff.after, "v1.4.2")}`,
        );
        assert.deepEqual(diff.names("updated"), [ROUTER_CONFIG]);
        assert.deepEqual(diff.names("deleted"), []);
        assert.deepEqual(routerWeights(diff.after), { "v1.5.0": 0, "v1.4.2": 100 });
    });

    for (const [from, to] of [
        [10, 50],
        [50, 100],
        [0, 10],
    ]) {
        it(`shift traffic ${from} → ${to}: updates the router config and nothing else`, async () => {
            const diff = await planDiff(release("v1.5.0", "v1.4.2", from), release("v1.5.0", "v1.4.2", to));
            assert.deepEqual(diff.names("updated"), [ROUTER_CONFIG]);
            assert.deepEqual([...diff.names("created"), ...diff.names("deleted")], []);
            assert.deepEqual(routerWeights(diff.after), { "v1.5.0": to, "v1.4.2": 100 - to });
            assert.equal(diff.after.outputs.transition, "traffic-shift");
        });
    }

    it("abort a canary (10 → 0): updates the router config only, v1.5.0 stays warm", async () => {
        const diff = await planDiff(release("v1.5.0", "v1.4.2", 10), release("v1.5.0", "v1.4.2", 0));
        assert.deepEqual(diff.names("updated"), [ROUTER_CONFIG]);
        assert.deepEqual([...diff.names("created"), ...diff.names("deleted")], []);
        assert.deepEqual(routerWeights(diff.after), { "v1.5.0": 0, "v1.4.2": 100 });
    });

    it("retire the previous: deletes v1.4.2's containers and images and updates the router config", async () => {
        const diff = await planDiff(release("v1.5.0", "v1.4.2", 100), release("v1.5.0"));
        assert.deepEqual(diff.names("deleted"), versionResources("v1.4.2"));
        assert.deepEqual(diff.names("updated"), [ROUTER_CONFIG]);
        assert.deepEqual(diff.names("created"), []);
        assert.deepEqual(routerWeights(diff.after), { "v1.5.0": 100 });
        assert.equal(diff.after.outputs.transition, "retire");
    });

    it("roll back after promotion (swap version and previous): updates exactly the router config, restarts nothing", async () => {
        const diff = await planDiff(release("v1.5.0", "v1.4.2", 100), release("v1.4.2", "v1.5.0", 100));
        assert.deepEqual(diff.names("updated"), [ROUTER_CONFIG]);
        assert.deepEqual([...diff.names("created"), ...diff.names("deleted")], []);
        assert.deepEqual(routerWeights(diff.after), { "v1.4.2": 100, "v1.5.0": 0 });
        assert.equal(diff.after.outputs.transition, "rollback");
        assert.equal(diff.after.outputs.schemaHead, "v1.5.0");
    });

    it("a cold rollback below the schema head is refused before anything is registered", async () => {
        const deployed = await runProgram({ config: release("v1.5.0") });
        await assert.rejects(
            runProgram({ config: release("v1.4.2"), lastOutputs: deployed.outputs }),
            (err: Error & { registered: string[] }) => {
                assert.deepEqual(err.registered, []);
                assert.match(
                    err.message,
                    /^`release:version` v1\.4\.2 is older than the database schema head v1\.5\.0.*`release:restoreFrom`/,
                );
                return true;
            },
        );
    });

    it("re-running the same config changes nothing, the router config included", async () => {
        const diff = await planDiff(release("v1.5.0", "v1.4.2", 50), release("v1.5.0", "v1.4.2", 50));
        assert.deepEqual([...diff.names("created"), ...diff.names("updated"), ...diff.names("deleted")], []);
    });

    it("a new router image changes the router container and its image, nothing of the versions", async () => {
        const before = release("v1.5.0", "v1.4.2", 50);
        const after = { ...before, "release:dockerHost": { routerImage: `nginx@sha256:${"ab".repeat(32)}` } };
        const diff = await planDiff(before, after);
        assert.deepEqual(diff.names("updated"), [
            "docker:index/container:Container::shop-docker-router",
            "docker:index/remoteImage:RemoteImage::shop-docker-router-image",
        ]);
        assert.deepEqual([...diff.names("created"), ...diff.names("deleted")], []);
    });
});
