import { strict as assert } from "assert";
import { PLACEHOLDER_DIGEST, ProgramRefusal } from "../../plan/evaluate";
import { LOOKED_UP_DIGEST } from "../../plan/report";
import { renderReport } from "../../plan/render";
import { SECRET_PLACEHOLDER } from "../../plan/stackConfig";
import { firstDeployPlan, releaseStartPlan, rollbackPlan, trafficShiftPlan } from "./expected";
import { DATABASE_URL_CIPHERTEXT, TOKEN_CIPHERTEXT, planOf, shopStack } from "./stackFiles";

const V142 = shopStack({ version: "v1.4.2" });
const START = shopStack({ version: "v1.5.0", previous: "v1.4.2", canaryWeight: 0 });
const COMPARED = "the test's stack file";

async function planText(after: string, before?: string): Promise<string> {
    return renderReport(await planOf(after, before, before === undefined ? "nothing" : COMPARED));
}

describe("plan: the release as the runbooks write it (in-process)", () => {
    it("a first deploy: backup and migration of v1.4.2, smoke test, no writer to stop, every resource created", async () => {
        assert.equal(await planText(V142), firstDeployPlan("nothing"));
    });

    it("a release start: quiesce → backup → migrate → resume → deploy → smoke, then weight 0 for v1.5.0", async () => {
        assert.equal(await planText(START, V142), releaseStartPlan(COMPARED));
    });

    it("a traffic shift: the weights step only, and exactly one update (the listener)", async () => {
        const before = shopStack({ version: "v1.5.0", previous: "v1.4.2", canaryWeight: 10 });
        assert.equal(
            await planText(shopStack({ version: "v1.5.0", previous: "v1.4.2", canaryWeight: 50 }), before),
            trafficShiftPlan(COMPARED),
        );
    });

    it("a rollback after promotion: version and previous swap, the weights move back, nothing migrates or restarts", async () => {
        const promoted = shopStack({ version: "v1.5.0", previous: "v1.4.2", canaryWeight: 100 });
        assert.equal(
            await planText(shopStack({ version: "v1.4.2", previous: "v1.5.0", canaryWeight: 100 }), promoted),
            rollbackPlan(COMPARED),
        );
    });

    it("a cold rollback below the schema head is refused with the program's exact message", async () => {
        await assert.rejects(planOf(V142, shopStack({ version: "v1.5.0" })), (err: Error) => {
            assert.ok(err instanceof ProgramRefusal);
            assert.equal(
                err.message,
                "`release:version` v1.4.2 is older than the database schema head v1.5.0, and no live version serves that schema. " +
                    "Keep v1.5.0 warm as `release:previous` (a rollback then only shifts traffic), " +
                    "restore the pre-upgrade backup with `release:restoreFrom`, " +
                    "or, if v1.5.0's migrations were additive and v1.4.2 runs on them, set `release:acceptSchemaHead: v1.5.0`",
            );
            return true;
        });
    });

    it("a compared-with config the program refuses is named as such", async () => {
        const broken = shopStack({ version: "v1.5.0", previous: "v1.4.2", canaryWeight: 101 });
        await assert.rejects(planOf(START, broken), {
            message:
                'the config it is compared with (before) does not evaluate: `release:canaryWeight` must be an integer from 0 to 100; got "101"',
        });
    });

    it("a restore: every component stops, the backup is restored and verified, no backup or migration of its own", async () => {
        const restore = shopStack({ version: "v1.4.2", extra: "  release:restoreFrom: shop-v1.5.0-20261122T101500.000Z" });
        const report = await planOf(restore, START, COMPARED);
        assert.equal(report.transition, "restore");
        assert.deepEqual(
            report.steps.map((s) => `${s.runs ? "x" : " "} ${s.step}: ${s.detail}`),
            [
                "x record version: v1.5.0 → v1.4.2 (stack output `version`); previous v1.4.2 → none (stack output `previous`)",
                // A restore moves back, not forward: nothing to check the way back to, no schema to check or rehearse on.
                "  check rollback: no newer version enters: v1.4.2 already ran",
                "  check drift: this update restores backup shop-v1.5.0-20261122T101500.000Z instead",
                "  rehearse: this update restores backup shop-v1.5.0-20261122T101500.000Z instead",
                "x quiesce: stop api, worker of v1.4.2",
                "  backup: this update restores backup shop-v1.5.0-20261122T101500.000Z instead",
                "  migrate: this update restores backup shop-v1.5.0-20261122T101500.000Z instead",
                "x restore: restore backup shop-v1.5.0-20261122T101500.000Z into a scratch copy, verify it, then swap it in",
                "x resume: start api, worker of v1.4.2",
                "  deploy: no version enters; v1.5.0 is retired (its resources are deleted)",
                "  smoke: no version enters, and the checks are unchanged",
                "x weights: v1.4.2 100%",
            ],
        );
        assert.deepEqual([report.before.schemaHead, report.after.schemaHead], ["v1.5.0", "v1.4.2"]);
    });

    it("a release start of a stack with `onDrift: stop`: the drift check says a difference stops the update", async () => {
        const stopOnDrift = START.replace("quiesce: [worker] }", "quiesce: [worker], onDrift: stop }");
        assert.notEqual(stopOnDrift, START);
        const text = renderReport(await planOf(stopOnDrift, V142, COMPARED));
        assert.ok(
            text.includes(
                "  [x] 3. check drift: compare the live schema with the one v1.4.2's migration left (a difference stops the update)\n",
            ),
            text,
        );
    });

    it("a rehearsal on aws-ecs is a step of the plan, before any writer stops", async () => {
        // The migration's component takes its database from DATABASE_URL, which the rehearsal's task reads as the copy's.
        const rehearsed = START.replace("quiesce: [worker] }", "quiesce: [worker], rehearse: true }").replace(
            "healthPath: /health }",
            "healthPath: /health, secretEnv: { DATABASE_URL: config:databaseUrl } }",
        );
        assert.ok(
            rehearsed.includes("rehearse: true }") && rehearsed.includes("secretEnv: { DATABASE_URL: config:databaseUrl } }"),
            rehearsed,
        );
        const report = await planOf(rehearsed, V142, COMPARED);
        const steps = report.steps.map((s) => s.step);
        const rehearse = report.steps.find((s) => s.step === "rehearse")!;
        assert.deepEqual(
            [rehearse.runs, rehearse.detail],
            [true, "npx prisma migrate deploy on a copy of the live database first, before any writer stops"],
        );
        assert.ok(steps.indexOf("rehearse") < steps.indexOf("quiesce"), steps.join(", "));
    });

    it("marks digests the registry would be asked for instead of inventing them", async () => {
        const report = await planOf(
            shopStack({ version: "v1.5.0", previous: "v1.4.2", canaryWeight: 0, pinned: false }),
            shopStack({ version: "v1.4.2", pinned: false }),
            COMPARED,
        );
        const text = renderReport(report);
        assert.deepEqual(report.lookedUpDigests, ["ghcr.io/acme/shop-api:v1.4.2", "ghcr.io/acme/shop-api:v1.5.0"]);
        assert.ok(
            text.includes(
                "  digests      looked up at preview for ghcr.io/acme/shop-api:v1.4.2, ghcr.io/acme/shop-api:v1.5.0 (pin them in `release:digests`)\n",
            ),
            text,
        );
        assert.ok(text.includes(`  [x] 7. migrate: npx prisma migrate deploy as a one-off task of api@${LOOKED_UP_DIGEST}\n`), text);
        assert.ok(!text.includes(PLACEHOLDER_DIGEST) && !JSON.stringify(report).includes(PLACEHOLDER_DIGEST));
    });

    it("never prints a secret: neither the stack file's ciphertext nor what stands in for it offline", async () => {
        const report = await planOf(START, V142, COMPARED);
        for (const printed of [renderReport(report), JSON.stringify(report)]) {
            for (const secret of [DATABASE_URL_CIPHERTEXT, TOKEN_CIPHERTEXT, SECRET_PLACEHOLDER])
                assert.ok(!printed.includes(secret), secret);
        }
    });
});
