import * as assert from "assert";
import { pickPriorVersion, planRollback, schemaHeadRefusal } from "../../drivers/rollback";
import { startWebhookReceiver } from "../support/metricsServer";
import { assertNoSecrets, FakeStack, OPERATOR_TOKEN, runDriver, stable, update, WEBHOOK_PATH } from "./fakeStack";

/** Newest first, as `pulumi stack history` lists them: the canary steps of v1.5.0 after a failed v1.4.3. */
const HISTORY = [
    update(9, "v1.5.0"),
    update(8, "v1.5.0"),
    update(7, "v1.5.0"),
    update(6, "v1.4.1", "succeeded", "refresh"),
    update(5, "v1.4.3", "failed"),
    update(4, "v1.4.2"),
    update(3, "v1.4.2"),
    update(2, "v1.4.1"),
    update(1, "v1.4.0"),
];

describe("rollback planning", () => {
    it("picks the newest successful update that ran another version", () => {
        assert.strictEqual(pickPriorVersion(HISTORY, "v1.5.0"), "v1.4.2");
        assert.strictEqual(pickPriorVersion([...HISTORY].reverse(), "v1.5.0"), "v1.4.2");
        assert.strictEqual(pickPriorVersion(HISTORY, "v1.4.2"), "v1.5.0");
        assert.strictEqual(pickPriorVersion([update(2, "v1.5.0"), update(1, "latest")], "v1.5.0"), undefined);
        assert.strictEqual(pickPriorVersion([update(3, "v1.5.0"), update(2, "v1.4.3", "in-progress")], "v1.5.0"), undefined);
    });

    it("keeps the current version warm and gives the target all traffic", () => {
        const plan = planRollback({ stack: "prod", version: "v1.5.0", previous: "v1.4.2", schemaHead: "v1.5.0" }, HISTORY);
        assert.deepStrictEqual(plan, {
            from: "v1.5.0",
            to: "v1.4.2",
            targetWarm: true,
            changes: [
                { key: "release:version", value: "v1.4.2" },
                { key: "release:previous", value: "v1.5.0" },
                { key: "release:canaryWeight", value: "100" },
            ],
        });
        assert.strictEqual(planRollback({ stack: "prod", version: "v1.5.0" }, HISTORY, "v1.4.0").targetWarm, false);
    });

    it("refuses a target older than the schema head that nothing warm would serve, naming restoreFrom", () => {
        const state = { stack: "prod", version: "v1.4.2", schemaHead: "v1.5.0" };
        const message =
            "refusing to roll back stack `prod` from v1.4.2 to v1.4.0: the database schema head is v1.5.0 (stack output `schemaHead`), " +
            "newer than v1.4.0, and no warm version at or above v1.5.0 would serve it after the rollback. " +
            "Set `release:restoreFrom` to the id of the backup taken before the v1.5.0 migration, so the update stops writers, " +
            "restores and verifies it before v1.4.0 takes traffic, then run this rollback again.";
        assert.strictEqual(schemaHeadRefusal(state, "v1.4.2", "v1.4.0"), message);
        assert.throws(() => planRollback(state, HISTORY, "v1.4.0"), { message });
        assert.strictEqual(planRollback({ ...state, restoreFrom: "pg-20260110-v1.4.2" }, HISTORY, "v1.4.0").to, "v1.4.0");
        assert.strictEqual(planRollback({ ...state, version: "v1.6.0" }, HISTORY, "v1.4.0").to, "v1.4.0");
        assert.strictEqual(planRollback({ ...state, schemaHead: "v1.4.0" }, HISTORY, "v1.4.0").to, "v1.4.0");
    });

    it("names what is missing", () => {
        assert.throws(() => planRollback({ stack: "prod" }, HISTORY), {
            message: "`release:version` is not set on stack `prod`; there is nothing to roll back",
        });
        assert.throws(() => planRollback({ stack: "prod", version: "v1.5.0" }, [update(1, "v1.5.0")]), {
            message: "no successful update in the history of stack `prod` ran a version other than v1.5.0; pass `--to vX.Y.Z`",
        });
        assert.throws(() => planRollback({ stack: "prod", version: "v1.5.0" }, HISTORY, "v1.5.0"), {
            message: "`--to v1.5.0` is already `release:version` on stack `prod`; nothing to roll back",
        });
    });
});

describe("rollback driver (fake stack, real webhook)", () => {
    let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
    beforeEach(async () => (receiver = await startWebhookReceiver(WEBHOOK_PATH)));
    afterEach(async () => receiver.close());

    function promotedStack(extra: Record<string, string> = {}, outputs: Record<string, unknown> = { schemaHead: "v1.5.0" }): FakeStack {
        const stack = new FakeStack(
            "prod",
            {
                "release:version": "v1.5.0",
                "release:canaryWeight": "100",
                "release:notify": JSON.stringify({ webhookUrl: receiver.url }),
                ...extra,
            },
            HISTORY,
            outputs,
        );
        stack.upOutput = ["Updating (prod):", `  webhook ${receiver.url}`, `  Authorization: Bearer ${OPERATOR_TOKEN}`];
        return stack;
    }

    it("rolls back to the prior tag from the history, logging and notifying start and completion", async () => {
        const stack = promotedStack({ "release:previous": "v1.4.2" });
        const run = await runDriver(stack, ["rollback", "prod"]);
        assert.strictEqual(run.code, 0, run.progress.join("\n"));
        assert.deepStrictEqual(stack.calls, [
            "set release:version=v1.4.2",
            "set release:previous=v1.5.0",
            "set release:canaryWeight=100",
            "up",
        ]);
        const expected = [
            { event: "rollback_start", from: "v1.5.0", to: "v1.4.2", previous: "v1.5.0", targetWarm: true, stack: "prod" },
            { event: "rollback_complete", success: true, from: "v1.5.0", to: "v1.4.2", stack: "prod" },
        ];
        assert.deepStrictEqual(stable(run.events), expected);
        assert.deepStrictEqual(stable(receiver.received), expected);
        assert.ok(run.progress.includes("rolling back from v1.5.0 to v1.4.2 (v1.4.2 is warm: listener weights only)"));
        assertNoSecrets(run.lines, receiver.url);
    });

    it("stops before changing anything when the schema head would be left unserved", async () => {
        const stack = promotedStack({ "release:version": "v1.4.2" });
        const run = await runDriver(stack, ["rollback", "prod", "--to", "v1.4.0"]);
        assert.strictEqual(run.code, 1);
        assert.deepStrictEqual([stack.calls, run.events, receiver.received], [[], [], []]);
        assert.deepStrictEqual(run.progress, [
            `rollback: ${schemaHeadRefusal({ stack: "prod", schemaHead: "v1.5.0" }, "v1.4.2", "v1.4.0")}`,
        ]);
    });

    it("reports a failed update as an unsuccessful completion", async () => {
        const stack = promotedStack();
        stack.failUp = new Set([0]);
        const run = await runDriver(stack, ["rollback", "prod", "--to", "v1.4.2"]);
        assert.strictEqual(run.code, 1);
        assert.deepStrictEqual(stable(run.events), [
            { event: "rollback_start", from: "v1.5.0", to: "v1.4.2", previous: "v1.5.0", targetWarm: false, stack: "prod" },
            {
                event: "rollback_complete",
                success: false,
                from: "v1.5.0",
                to: "v1.4.2",
                error: "update failed: 1 resource failed",
                stack: "prod",
            },
        ]);
        assert.deepStrictEqual(
            receiver.received.map((e) => e.event),
            ["rollback_start", "rollback_complete"],
        );
    });

    it("prints the config changes and a preview summary on --dry-run", async () => {
        const stack = promotedStack({ "release:previous": "v1.4.2" });
        const run = await runDriver(stack, ["rollback", "prod", "--dry-run"]);
        assert.strictEqual(run.code, 0);
        assert.deepStrictEqual(stack.calls, ["preview"]);
        assert.deepStrictEqual(run.progress, [
            "dry run: roll back stack `prod` from v1.5.0 to v1.4.2 (v1.4.2 is warm: listener weights only); nothing will change",
            "1. set release:version = v1.4.2",
            "2. set release:previous = v1.5.0",
            "3. set release:canaryWeight = 100",
            "4. pulumi up",
            "preview of the stack as configured now: 14 same, 1 update",
        ]);
        assert.deepStrictEqual([run.events, receiver.received], [[], []]);
    });
});
