import * as assert from "assert";
import { APP, ShopWorld, backupLog, ledger, startShopWorld, stopShopWorld } from "./support/shopStack";

/**
 * The runbooks' "ensure previous binaries/images are available for rollback", under the real
 * engine on docker-host: a release start first asks the registry for every digest of the version
 * it moves forward from. With v1.0.0's manifest deleted from the (loopback) registry, starting
 * v1.1.0 fails at that check, before any writer stops, anything migrates or v1.1.0 starts.
 */
describe("e2e: the way back must exist before a release moves forward (docker-host)", function () {
    let world: ShopWorld;

    before(async () => {
        // Digests pinned, as prod pins them: nothing looks a tag up, so only the rollback check asks the registry.
        world = await startShopWorld("rollback-target", { version: "v1.0.0", pinned: true });
    });
    after(async () => stopShopWorld(world));

    async function containerNames(): Promise<string[]> {
        const { stdout } = await world.engine.docker(["ps", "-a", "--filter", `label=safe-release.app=${APP}`, "--format", "{{.Names}}"]);
        return stdout
            .split("\n")
            .filter((n) => n !== "")
            .sort();
    }

    it("first deploy: v1.0.0 serving", async () => {
        await world.stack.up();
        assert.deepStrictEqual(await world.get("/"), { status: 200, body: "v1.0.0" });
    });

    it("v1.0.0's digest deleted from its registry: starting v1.1.0 fails at the rollback check, and nothing of the release ran", async () => {
        const digest = world.images.service.digests["v1.0.0"];
        const repository = world.images.service.repository.slice(world.registry.address.length + 1);
        const removed = await fetch(`http://${world.registry.address}/v2/${repository}/manifests/${digest}`, { method: "DELETE" });
        assert.strictEqual(removed.status, 202, "the registry deletes the manifest");
        const before = { containers: await containerNames(), ledger: await ledger(world), backups: backupLog(world).length };

        world.configure({ version: "v1.1.0", previous: "v1.0.0", canaryWeight: 0, pinned: true });
        const failed = await world.stack.up({ allowFailure: true });
        assert.notStrictEqual(failed.code, 0);
        const image = `${world.images.service.repository}@${digest}`;
        const output = failed.stdout + failed.stderr;
        assert.ok(
            output.includes(
                `artifacts-check: v1.0.0: missing ${image}: http://${world.registry.address}/v2/${repository}/manifests/${digest} answered 404: ` +
                    "the registry no longer holds that manifest",
            ),
            output,
        );
        assert.ok(output.includes("artifacts-check: a rollback to v1.0.0 would have no image to start"), output);

        assert.deepStrictEqual(await containerNames(), before.containers, "no container of v1.1.0, none stopped or replaced");
        assert.deepStrictEqual(await ledger(world), before.ledger, "nothing migrated");
        assert.strictEqual(backupLog(world).length, before.backups, "no pre-upgrade backup taken");
        assert.deepStrictEqual(await world.get("/"), { status: 200, body: "v1.0.0" });
        const outputs = await world.stack.outputs();
        assert.deepStrictEqual([outputs.version, outputs.schemaHead, outputs.weights], ["v1.0.0", "v1.0.0", { "v1.0.0": 100 }]);
    });
});
