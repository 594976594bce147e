import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { HeldDump, heldPgDump, upKilledWhen, waitFor } from "./support/faults";
import { CliResult, PROJECT_DIR } from "./support/pulumiCli";
import { ShopWorld, backupLog, ledger, split, startShopWorld, stopShopWorld } from "./support/shopStack";

/**
 * Faults in the middle of a release on `docker-host`, under the real engine:
 * a failing smoke test, `pulumi up` killed (SIGKILL, the CLI and all it
 * started) during the backup and during the migration, and two `pulumi up`s of
 * one stack at once. Each ends with a message that names the next step, no
 * traffic moved and no data lost; docs/troubleshooting.md quotes what the
 * operator sees.
 */
/** What the CLI prints when another update (live or killed) holds the stack's lock on a file backend. */
/**
 * The warning of an up after a killed one, in its diagnostics: the step the kill interrupted is created
 * again. The pending create of the earlier kill (the backup's) is still listed: the engine keeps it.
 */
const PENDING_MIGRATION = new RegExp(
    "warning: Attempting to deploy or update resources with 2 pending operations from previous deployment\\.\\n" +
        "\\s+\\* urn:pulumi:e2e-faults::release::safe-release:index:Release\\$safe-release:data:Migration\\$command:local:Command::shop-migrate-v1\\.1\\.0-run, interrupted while creating\\n" +
        "\\s+\\* urn:pulumi:e2e-faults::release::safe-release:index:Release\\$safe-release:data:PreUpgradeBackup\\$command:local:Command::shop-backup-v1\\.1\\.0-pg-dump, interrupted while creating",
);

const STALE_LOCK =
    /error: the stack is currently locked by 1 lock\(s\)\. Either wait for the other process\(es\) to end or delete the lock file with `pulumi cancel`\./;

describe("e2e: faults during a release on docker-host", function () {
    let world: ShopWorld;
    let dump: HeldDump;
    const release = { version: "v1.1.0", previous: "v1.0.0", canaryWeight: 0 };
    /** Waits 30 s before migrating: long enough to kill `pulumi up` while the migration runs. */
    const slowMigration = ["sh", "-c", "sleep 30; service migrate"];

    before(async () => {
        dump = await heldPgDump();
        world = await startShopWorld("faults", undefined, { env: dump.env });
    });
    after(async () => stopShopWorld(world));

    async function state(container: string): Promise<string> {
        const { stdout } = await world.engine.docker(["inspect", "--format", "{{.State.Status}}", container]);
        return stdout.trim();
    }

    /** Running one-off containers of v1.1.0: its migration. */
    async function migrationContainers(): Promise<string[]> {
        const args = ["ps", "-q", "--filter", "label=safe-release.role=one-off", "--filter", "label=safe-release.version=v1.1.0"];
        return (await world.engine.docker(args)).stdout.split("\n").filter(Boolean);
    }

    async function itemCount(): Promise<number> {
        return Number((await world.db.query("SELECT count(*) AS n FROM items"))[0].n);
    }

    async function addItems(count: number): Promise<void> {
        for (let i = 0; i < count; i++) {
            const response = await fetch(`http://127.0.0.1:${world.routerPort}/items`, { method: "POST" });
            assert.strictEqual(response.status, 201, "POST /items");
        }
    }

    function outputOf(result: CliResult): string {
        return result.stdout + result.stderr;
    }

    /** Restores `backupId` with v1.0.0 alone: the way back the refusals name; the ledger as the backup held it. */
    async function restoreWithV100(backupId: string): Promise<void> {
        world.configure({ version: "v1.0.0", restoreFrom: backupId });
        await world.stack.up();
        assert.deepStrictEqual(await ledger(world), ["v1.0.0 succeeded"]);
        assert.strictEqual(await state("shop-worker-v1-0-0"), "running", "the writers run again");
        assert.strictEqual((await world.stack.outputs()).restoredFrom, backupId);
    }

    /**
     * What the operator does after a killed `pulumi up` (docs/troubleshooting.md): the next up refuses
     * on the killed CLI's lock; `pulumi cancel` deletes it (every lock of the stack, so only once no
     * `pulumi` of the stack runs).
     */
    async function clearStaleLock(): Promise<void> {
        const locked = await world.stack.up({ allowFailure: true });
        assert.notStrictEqual(locked.code, 0);
        assert.match(outputOf(locked), STALE_LOCK);
        assert.deepStrictEqual(await ledger(world), ledgerBefore, "the refused up ran nothing");
        const cancel = await world.stack.cli(["cancel", "--yes"]);
        assert.match(outputOf(cancel), /The currently running update for 'e2e-faults' has been canceled!/);
    }
    let ledgerBefore: string[] = [];

    it("first deploy: v1.0.0 serving", async () => {
        await world.stack.up();
        await addItems(3);
        assert.deepStrictEqual(await split(world, 5), { "v1.0.0": 5 });
    });

    it("a failing smoke test: the update fails naming the check, v1.1.0 takes no traffic, the record names v1.0.0", async () => {
        world.configure({ ...release, smokeFails: ["v1.1.0"] });
        const failed = await world.stack.up({ allowFailure: true });
        assert.notStrictEqual(failed.code, 0);
        assert.match(
            outputOf(failed),
            /smoke check `smoke` failed: GET \/smoke returned 500, expected 200; response body \(first 500 bytes, secrets masked\): v1\.1\.0 smoke check failed \(SMOKE_FAIL=1\)/,
        );
        assert.deepStrictEqual(await split(world, 20), { "v1.0.0": 20 }, "all traffic stays on v1.0.0");
        const outputs = await world.stack.outputs();
        assert.deepStrictEqual([outputs.version, outputs.schemaHead, outputs.weights], ["v1.0.0", "v1.0.0", { "v1.0.0": 100 }]);
        assert.deepStrictEqual(
            await ledger(world),
            ["v1.0.0 succeeded", "v1.1.0 succeeded"],
            "the migration ran once, before the smoke test",
        );

        // The next step the docs name for a release that failed after its migration: restore its backup with v1.0.0.
        const backup = backupLog(world).find((r) => r.version === "v1.1.0");
        assert.ok(backup !== undefined, "the failed release's backup is in the log");
        await restoreWithV100(String(backup.id));
        assert.strictEqual(await itemCount(), 3, "no row lost");
    });

    let interruptedDump: string | undefined;

    it("`pulumi up` killed during the backup: the half-written dump is never counted; the writers stay stopped", async () => {
        world.configure(release);
        dump.hold();
        await upKilledWhen(
            world.stack.name,
            () => world.stack.up({ allowFailure: true }),
            "the backup",
            async () => dump.holding(),
        );
        dump.release();
        // A dump is written under `<file>.<pid>.partial` and gets its name only once whole: the killed one keeps the partial name.
        const files = fs.readdirSync(path.join(PROJECT_DIR, world.backupDir));
        const logged = backupLog(world).map((r) => path.basename(String(r.location)));
        const partial = files.filter((f) => /\.dump(\.zst)?\.\d+\.partial$/.test(f));
        assert.strictEqual(partial.length, 1, `one partial dump: ${files.join(", ")}`);
        assert.deepStrictEqual(
            files.filter((f) => /\.dump(\.zst)?$/.test(f)).sort(),
            [...logged].filter((f) => /\.dump(\.zst)?$/.test(f)).sort(),
            "every whole dump is logged",
        );
        interruptedDump = partial[0];
        assert.deepStrictEqual(
            backupLog(world).map((r) => r.version),
            ["v1.0.0", "v1.1.0"],
            "the log holds the first deploy's and the smoke release's backups only",
        );
        assert.strictEqual(await state("shop-worker-v1-0-0"), "exited", "the writers stay stopped");
        assert.deepStrictEqual(await split(world, 10), { "v1.0.0": 10 }, "v1.0.0 still serves");
        ledgerBefore = await ledger(world);
        assert.deepStrictEqual(ledgerBefore, ["v1.0.0 succeeded"]);
        await clearStaleLock();
    });

    it("`pulumi up` killed during the migration: the next up takes the backup again, and the `running` row makes it refuse", async () => {
        // This up is also the one after `pulumi cancel`: it warns of the killed backup's pending create and takes it anew.
        world.configure({ ...release, migrateCommand: slowMigration });
        const { result } = await upKilledWhen(
            world.stack.name,
            () => world.stack.up({ allowFailure: true }),
            "the migration",
            // Running: its ledger row says so and dockerd runs its one-off container.
            async () =>
                (await ledger(world).catch((): string[] => [])).includes("v1.1.0 running") && (await migrationContainers()).length === 1,
        );
        assert.match(
            outputOf(result),
            /warning: Attempting to deploy or update resources with 1 pending operations from previous deployment\./,
        );
        const backups = backupLog(world).filter((r) => r.version === "v1.1.0");
        assert.strictEqual(backups.length, 2, "the smoke release's backup and this one's; the interrupted dump is not logged");
        assert.ok(!backups.some((r) => path.basename(String(r.location)) === interruptedDump));
        assert.ok(
            !fs.existsSync(path.join(PROJECT_DIR, world.backupDir, interruptedDump!)),
            "the next backup removed the killed one's partial dump",
        );
        assert.match(
            outputOf(result),
            /removed `[^`]+\.partial`: the partial file of a backup that did not finish \(process \d+ is gone\)/,
        );

        // The one-off container outlives the CLI: dockerd runs it, not the killed tree. The refusal below names it.
        const ids = await migrationContainers();
        assert.strictEqual(ids.length, 1, "the migration's container still runs");

        ledgerBefore = ["v1.0.0 succeeded", "v1.1.0 running"];
        assert.deepStrictEqual(await ledger(world), ledgerBefore);
        await clearStaleLock();
        const refused = await world.stack.up({ allowFailure: true });
        assert.notStrictEqual(refused.code, 0);
        const output = outputOf(refused);
        assert.match(output, PENDING_MIGRATION);
        assert.match(output, /refusing to migrate `shop` v1\.1\.0: `safe_release_migrations` holds an unfinished migration of this app:/);
        assert.match(
            output,
            /v1\.1\.0 \(sha256:[0-9a-f]{64}\) started and never finished, started \S+ \(its migrate process died mid-run; make sure nothing of it still runs\)/,
        );
        assert.match(output, /Writers stay stopped \(worker\)\. Do not retry the same migration/);
        assert.match(
            output,
            new RegExp(
                `still running: one-off container \\S+ \\(${ids[0]}, created [^)]+\\) of \`shop\` v1\\.1\\.0: ` +
                    `stop it before anything else: \`docker (-H \\S+ )?rm -f ${ids[0]}\``,
            ),
        );
        await world.engine.docker(["rm", "-f", ...ids]);
        assert.deepStrictEqual(await ledger(world), ledgerBefore, "refused, not re-run");
        assert.strictEqual(await state("shop-worker-v1-0-0"), "exited", "the writers stay stopped, as the message says");
        assert.deepStrictEqual(await split(world, 10), { "v1.0.0": 10 });
        const outputs = await world.stack.outputs();
        assert.strictEqual(outputs.version, "v1.0.0");
        const recorded = (outputs.backups as Array<{ location: string }>).map((b) => path.basename(b.location));
        assert.ok(!recorded.includes(interruptedDump!), `the interrupted dump is not among the recorded backups: ${recorded.join(", ")}`);

        // The way on the message names: restore this release's pre-upgrade backup with v1.0.0.
        await restoreWithV100(String(backups[1].id));
        assert.strictEqual(await itemCount(), 3, "no row lost");
    });

    it("two `pulumi up`s of the same stack at once: the second is refused by the stack's lock; one migration runs", async () => {
        world.configure({ ...release, migrateCommand: slowMigration });
        const updating = world.stack.up({ allowFailure: true });
        // The second starts while the first is inside its migration, well past taking the stack's lock.
        await waitFor("the first up's migration", async () => ((await ledger(world)).includes("v1.1.0 running") ? true : undefined));
        const second = await world.stack.up({ allowFailure: true });
        assert.notStrictEqual(second.code, 0);
        assert.match(outputOf(second), STALE_LOCK);
        const first = await updating;
        assert.strictEqual(first.code, 0, outputOf(first).slice(-3000));
        const rows = await world.db.query("SELECT status FROM safe_release_migrations WHERE version = 'v1.1.0'");
        assert.deepStrictEqual(
            rows.map((r) => r.status),
            ["succeeded"],
        );
        const outputs = await world.stack.outputs();
        assert.deepStrictEqual(
            [outputs.version, outputs.schemaHead, outputs.weights],
            ["v1.1.0", "v1.1.0", { "v1.1.0": 0, "v1.0.0": 100 }],
        );
        assert.deepStrictEqual(await split(world, 10), { "v1.0.0": 10 });
        assert.strictEqual(await itemCount(), 3, "no row lost");
        assert.strictEqual(await state("shop-worker-v1-0-0"), "running");
    });
});
