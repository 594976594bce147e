import * as assert from "assert";
import { engineChanges, offlinePlan } from "./support/offlinePlan";
import { PreviewJson, changedSteps } from "./support/pulumiCli";
import { APP, ReleaseStep, ShopWorld, backupLog, ledger, split, startShopWorld, stopShopWorld } from "./support/shopStack";

/**
 * A whole release of a web + worker service on PostgreSQL, on `docker-host`,
 * through the real engine: every step is the config change the README's table
 * names, previewed with `pulumi preview --json` and applied with `pulumi up`,
 * and checked where the operator would look — the engine's plan, the
 * containers, the router's answers, the rows in PostgreSQL, the backup log,
 * the stack's outputs and history.
 */
describe("e2e: a release on docker-host under the real engine", function () {
    let world: ShopWorld;
    /** The pre-upgrade backup of the release whose migration failed, and the rows it held. */
    let failedReleaseBackup: { id: string; rows: number } | undefined;

    /** The configs applied so far, oldest first: what the offline plan starts from. */
    const applied: ReleaseStep[] = [];

    /** `npm run plan` names the same resources as created, updated and deleted as the engine's preview. */
    async function planAgrees(step: ReleaseStep, json: PreviewJson): Promise<void> {
        const offline = await offlinePlan(
            world.stack.name,
            applied.map((s) => world.config(s)),
            world.config(step),
        );
        assert.deepStrictEqual(offline, engineChanges(json), "the offline plan and the engine's preview");
    }

    /** Applies a previewed step and records it as applied. */
    async function apply(step: ReleaseStep): Promise<void> {
        await world.stack.up();
        applied.push(step);
    }

    async function post(pathname: string): Promise<void> {
        const response = await fetch(`http://127.0.0.1:${world.routerPort}${pathname}`, { method: "POST" });
        assert.strictEqual(response.status, 201, `POST ${pathname}`);
    }

    before(async () => {
        world = await startShopWorld("shop");
    });
    after(async () => stopShopWorld(world));

    /** Container name → id and start time: a traffic shift must leave every one alone. */
    async function containers(): Promise<Record<string, string>> {
        const { stdout } = await world.engine.docker(["ps", "-a", "--filter", `label=safe-release.app=${APP}`, "--format", "{{.Names}}"]);
        const names = stdout
            .split("\n")
            .filter((n) => n !== "")
            .sort();
        const state: Record<string, string> = {};
        for (const name of names) {
            const inspect = await world.engine.docker(["inspect", "--format", "{{.Id}} {{.State.StartedAt}} {{.State.Status}}", name]);
            state[name] = inspect.stdout.trim();
        }
        return state;
    }

    /**
     * What the engine deletes on the first update after a release: the data steps
     * that release declared. Their commands ran; deleting them runs nothing (they
     * have no `delete`), and the backup's record stays in the stack outputs.
     */
    function finishedDataSteps(version: string): string[] {
        return [
            // A release (not a first deploy) checked its way back and the live schema first.
            `delete command:local:Command::shop-rollback-check-${version}-run`,
            `delete safe-release:data:RollbackCheck::shop-rollback-check-${version}`,
            `delete command:local:Command::shop-drift-${version}-run`,
            `delete safe-release:data:DriftCheck::shop-drift-${version}`,
            `delete command:local:Command::shop-preflight-${version}-checks`,
            `delete command:local:Command::shop-preflight-${version}-store-check`,
            `delete safe-release:data:Preflight::shop-preflight-${version}`,
            `delete command:local:Command::shop-quiesce-${version}-stop`,
            `delete command:local:Command::shop-quiesce-${version}-resume`,
            `delete safe-release:data:Quiesce::shop-quiesce-${version}`,
            `delete command:local:Command::shop-backup-${version}-pg-dump`,
            `delete safe-release:data:PreUpgradeBackup::shop-backup-${version}`,
            `delete command:local:Command::shop-migrate-${version}-run`,
            `delete safe-release:data:Migration::shop-migrate-${version}`,
            `delete command:local:Command::shop-prune-${version}`,
        ];
    }

    /**
     * A traffic shift or a warm rollback: the engine's plan is the router's config
     * (and, right after a release, the removal of its finished data steps); no
     * container is created, replaced or restarted.
     */
    async function weightsOnly(step: ReleaseStep, expected: Record<string, number>, afterRelease?: string): Promise<void> {
        world.configure(step);
        const before = await containers();
        const { json } = await world.stack.preview();
        const want = ["update command:local:Command::shop-docker-router-config", ...(afterRelease ? finishedDataSteps(afterRelease) : [])];
        assert.deepStrictEqual(changedSteps(json).sort(), want.sort());
        await planAgrees(step, json);
        await apply(step);
        assert.deepStrictEqual(await containers(), before, "no container created, replaced or restarted");
        assert.deepStrictEqual((await world.stack.outputs()).weights, expected);
    }

    it("first deploy: v1.0.0 migrated once and serving at 100%", async () => {
        const { json } = await world.stack.preview();
        const steps = changedSteps(json);
        assert.ok(steps.includes("create safe-release:data:Migration::shop-migrate-v1.0.0"), steps.join("\n"));
        assert.ok(steps.includes("create docker:index/container:Container::shop-docker-v1.0.0-web"), steps.join("\n"));
        await planAgrees({ version: "v1.0.0" }, json);
        await apply({ version: "v1.0.0" });

        assert.deepStrictEqual(await ledger(world), ["v1.0.0 succeeded"]);
        assert.deepStrictEqual(await world.get("/"), { status: 200, body: "v1.0.0" });
        const outputs = await world.stack.outputs();
        assert.strictEqual(outputs.version, "v1.0.0");
        assert.strictEqual(outputs.schemaHead, "v1.0.0");
        assert.deepStrictEqual(outputs.weights, { "v1.0.0": 100 });
        const history = await world.stack.history();
        assert.deepStrictEqual(
            history.map((h) => [h.kind, h.result]),
            [["update", "succeeded"]],
        );
    });

    it("start a release: preflight, quiesce, backup, migrate once, resume, deploy, smoke; no user traffic yet", async () => {
        await world.get("/items"); // nothing to see: rows come from the worker and the POSTs below
        for (let i = 0; i < 3; i++)
            assert.strictEqual((await fetch(`http://127.0.0.1:${world.routerPort}/items`, { method: "POST" })).status, 201);
        world.configure({ version: "v1.1.0", previous: "v1.0.0", canaryWeight: 0 });
        const { json } = await world.stack.preview();
        const steps = changedSteps(json);
        const order = [
            "create command:local:Command::shop-rollback-check-v1.1.0-run",
            "create command:local:Command::shop-preflight-v1.1.0-checks",
            "create command:local:Command::shop-drift-v1.1.0-run",
            "create command:local:Command::shop-backup-v1.1.0-pg-dump",
            "create command:local:Command::shop-migrate-v1.1.0-run",
            "create docker:index/container:Container::shop-docker-v1.1.0-web",
            "create command:local:Command::shop-docker-router-config".replace("create", "update"),
        ];
        for (const step of order) assert.ok(steps.includes(step), `${step} in:\n${steps.join("\n")}`);
        const positions = order.map((step) => steps.indexOf(step));
        assert.deepStrictEqual(
            [...positions].sort((a, b) => a - b),
            positions,
            `in order:\n${steps.join("\n")}`,
        );
        const containersBefore = await containers();
        await planAgrees({ version: "v1.1.0", previous: "v1.0.0", canaryWeight: 0 }, json);
        await apply({ version: "v1.1.0", previous: "v1.0.0", canaryWeight: 0 });

        assert.deepStrictEqual(await ledger(world), ["v1.0.0 succeeded", "v1.1.0 succeeded"]);
        const outputs = await world.stack.outputs();
        assert.deepStrictEqual([outputs.version, outputs.previous, outputs.schemaHead], ["v1.1.0", "v1.0.0", "v1.1.0"]);
        assert.deepStrictEqual(outputs.weights, { "v1.1.0": 0, "v1.0.0": 100 });
        const logged = backupLog(world).filter((r) => r.version === "v1.1.0");
        assert.strictEqual(logged.length, 1, "one pre-upgrade backup of v1.1.0 in the log");
        assert.match(String(logged[0].sha256), /^[0-9a-f]{64}$/);
        assert.deepStrictEqual(await split(world, 20), { "v1.0.0": 20 }, "no user traffic on v1.1.0");
        const after = await containers();
        assert.strictEqual(after["shop-web-v1-0-0"], containersBefore["shop-web-v1-0-0"], "v1.0.0's web container untouched");
    });

    it("shift traffic 10 → 50 → 100: the router's config only, the split measured through the router", async () => {
        for (const weight of [10, 50, 100]) {
            await weightsOnly(
                { version: "v1.1.0", previous: "v1.0.0", canaryWeight: weight },
                { "v1.1.0": weight, "v1.0.0": 100 - weight },
                weight === 10 ? "v1.1.0" : undefined,
            );
            if (weight === 10) {
                const backups = (await world.stack.outputs()).backups as Array<{ version: string }>;
                assert.ok(
                    backups.some((b) => b.version === "v1.1.0"),
                    "the release's backup is still listed once its step is gone",
                );
            }
            const answers = await split(world, 100);
            assert.deepStrictEqual(
                answers,
                Object.fromEntries(Object.entries({ "v1.1.0": weight, "v1.0.0": 100 - weight }).filter(([, n]) => n > 0)),
            );
        }
    });

    it("roll back after promotion: v1.0.0 takes all traffic at once, nothing restarts", async () => {
        await weightsOnly({ version: "v1.0.0", previous: "v1.1.0", canaryWeight: 100 }, { "v1.0.0": 100, "v1.1.0": 0 });
        assert.deepStrictEqual(await split(world, 20), { "v1.0.0": 20 });
        assert.deepStrictEqual(
            await ledger(world),
            ["v1.0.0 succeeded", "v1.1.0 succeeded"],
            "a rollback never re-runs or reverts a migration",
        );
    });

    it("roll forward, then retire v1.0.0: its containers deleted, v1.1.0 alone", async () => {
        await weightsOnly({ version: "v1.1.0", previous: "v1.0.0", canaryWeight: 100 }, { "v1.1.0": 100, "v1.0.0": 0 });
        world.configure({ version: "v1.1.0" });
        const { json } = await world.stack.preview();
        await planAgrees({ version: "v1.1.0" }, json);
        const deleted = changedSteps(json).filter((step) => step.startsWith("delete docker"));
        assert.deepStrictEqual(deleted.sort(), [
            "delete docker:index/container:Container::shop-docker-v1.0.0-web",
            "delete docker:index/container:Container::shop-docker-v1.0.0-worker",
            "delete docker:index/remoteImage:RemoteImage::shop-docker-v1.0.0-web-image",
            "delete docker:index/remoteImage:RemoteImage::shop-docker-v1.0.0-worker-image",
        ]);
        await apply({ version: "v1.1.0" });
        assert.deepStrictEqual(Object.keys(await containers()).sort(), ["shop-router", "shop-web-v1-1-0", "shop-worker-v1-1-0"]);
        assert.deepStrictEqual(await split(world, 10), { "v1.1.0": 10 });
        const outputs = await world.stack.outputs();
        assert.deepStrictEqual([outputs.version, outputs.previous ?? null, outputs.schemaHead], ["v1.1.0", null, "v1.1.0"]);
    });

    it("stack history: one entry per update, each with the version its config named", async () => {
        const history = await world.stack.history();
        // Newest first: retire, roll forward, roll back, 100, 50, 10, start, first deploy.
        assert.deepStrictEqual(
            history.map(
                (h) =>
                    `${h.result} ${(h.config?.["release:version"] as { value?: string } | undefined)?.value ?? h.config?.["release:version"]}`,
            ),
            ["v1.1.0", "v1.1.0", "v1.0.0", "v1.1.0", "v1.1.0", "v1.1.0", "v1.1.0", "v1.0.0"].map((v) => `succeeded ${v}`),
        );
    });

    it("a release whose migration fails: the update fails naming the ways on, no traffic moves, the head stays", async () => {
        for (let i = 0; i < 2; i++) await post("/items");
        const rowsAtBackup = Number((await world.db.query("SELECT count(*) AS n FROM items"))[0].n);
        world.configure({ version: "v1.2.0", previous: "v1.1.0", canaryWeight: 0 });
        const failed = await world.stack.up({ allowFailure: true });
        assert.notStrictEqual(failed.code, 0);
        const output = failed.stdout + failed.stderr;
        assert.match(
            output,
            /migration of `shop` v1\.2\.0 \(sha256:[0-9a-f]{64}\) failed with exit code 1; `safe_release_migrations` records it as failed/,
        );
        assert.match(output, /Writers stay stopped \(worker\)\. Do not retry the same migration/);
        assert.match(output, /roll back: restore the pre-upgrade backup of `shop` by setting `release:restoreFrom`/);
        assert.ok(!output.includes(world.db.hostUrl) && !output.includes(world.db.containerUrl), "no connection string in the output");

        assert.deepStrictEqual(await ledger(world), ["v1.0.0 succeeded", "v1.1.0 succeeded", "v1.2.0 failed"]);
        assert.deepStrictEqual(await split(world, 10), { "v1.1.0": 10 }, "v1.1.0 keeps all traffic");
        const names = Object.keys(await containers());
        assert.ok(!names.some((n) => n.includes("v1-2-0")), `no v1.2.0 container started on the old schema: ${names.join(", ")}`);
        const outputs = await world.stack.outputs();
        assert.strictEqual(outputs.schemaHead, "v1.1.0", "the stack does not believe the failed version's schema");
        assert.strictEqual(outputs.version, "v1.1.0");
        const backup = backupLog(world).find((r) => r.version === "v1.2.0");
        assert.ok(backup !== undefined, "the failed release's pre-upgrade backup is in the log");
        failedReleaseBackup = { id: String(backup.id), rows: rowsAtBackup };

        // The same `pulumi up` again: the migration is refused, never retried blindly.
        const again = await world.stack.up({ allowFailure: true });
        assert.notStrictEqual(again.code, 0);
        assert.match(again.stdout + again.stderr, /v1\.2\.0/);
        assert.deepStrictEqual(await ledger(world), ["v1.0.0 succeeded", "v1.1.0 succeeded", "v1.2.0 failed"]);
    });

    it("restoreFrom the failed release's backup with v1.1.0: restored, verified, writers resumed", async () => {
        assert.ok(failedReleaseBackup !== undefined, "the previous step found the backup");
        await post("/items"); // written after the backup: the restore takes the database back to the backup
        world.configure({ version: "v1.1.0", restoreFrom: failedReleaseBackup.id });
        const { json } = await world.stack.preview();
        assert.ok(
            changedSteps(json).includes(`create safe-release:data:Restore::shop-restore-${failedReleaseBackup.id}`),
            changedSteps(json).join("\n"),
        );
        // No offline comparison here: the state now holds what the failed update created before its migration
        // failed, which no stack file describes.
        await world.stack.up();
        assert.deepStrictEqual(await ledger(world), ["v1.0.0 succeeded", "v1.1.0 succeeded"], "the ledger as the backup held it");
        assert.strictEqual(Number((await world.db.query("SELECT count(*) AS n FROM items"))[0].n), failedReleaseBackup.rows);
        assert.deepStrictEqual(await split(world, 10), { "v1.1.0": 10 });
        const { stdout } = await world.engine.docker(["inspect", "--format", "{{.State.Status}}", "shop-worker-v1-1-0"]);
        assert.strictEqual(stdout.trim(), "running", "the worker runs again");
        assert.strictEqual((await world.stack.outputs()).restoredFrom, failedReleaseBackup.id);
    });
});
