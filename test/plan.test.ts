import { strict as assert } from "assert";
import { ConfigError } from "../settings/checks";
import { LastRelease, ReleasePlan, planRelease } from "../components/plan";

type PlanInput = Parameters<typeof planRelease>[0];

/** The planner's slice of `release:` config, with the parser's default weight (0 with a previous, else 100). */
function config(version: string, previous?: string, canaryWeight?: number, acceptSchemaHead?: string): PlanInput {
    return {
        version,
        ...(previous !== undefined ? { previous } : {}),
        canaryWeight: canaryWeight ?? (previous === undefined ? 100 : 0),
        ...(acceptSchemaHead !== undefined ? { acceptSchemaHead } : {}),
    };
}

/** What a successful update with `config` and `plan` leaves in the stack outputs for the next one. */
function outputsOf(input: PlanInput, plan: ReleasePlan): LastRelease {
    return {
        version: input.version,
        ...(input.previous !== undefined ? { previous: input.previous } : {}),
        weights: plan.weights,
        schemaHead: plan.schemaHead.after,
    };
}

const V142_ALONE: LastRelease = { version: "v1.4.2", weights: { "v1.4.2": 100 }, schemaHead: "v1.4.2" };
const V150_ALONE: LastRelease = { version: "v1.5.0", weights: { "v1.5.0": 100 }, schemaHead: "v1.5.0" };
/** v1.5.0 promoted to all traffic, v1.4.2 still warm. */
const PROMOTED: LastRelease = { version: "v1.5.0", previous: "v1.4.2", weights: { "v1.5.0": 100, "v1.4.2": 0 }, schemaHead: "v1.5.0" };
/** v1.5.0 on a 10% canary. */
const CANARY_10: LastRelease = { version: "v1.5.0", previous: "v1.4.2", weights: { "v1.5.0": 10, "v1.4.2": 90 }, schemaHead: "v1.5.0" };

function refusal(version: string, head: string): ConfigError {
    return new ConfigError(
        `\`release:version\` ${version} is older than the database schema head ${head}, and no live version serves that schema. ` +
            `Keep ${head} warm as \`release:previous\` (a rollback then only shifts traffic), ` +
            "restore the pre-upgrade backup with `release:restoreFrom`, " +
            `or, if ${head}'s migrations were additive and ${version} runs on them, set \`release:acceptSchemaHead: ${head}\``,
    );
}

describe("release planner (components/plan.ts)", () => {
    it("first deploy: one version at 100%, migrates, the schema head becomes that version", () => {
        assert.deepEqual(planRelease(config("v1.4.2"), {}), {
            live: [{ version: "v1.4.2", weight: 100, slot: "current" }],
            weights: { "v1.4.2": 100 },
            transition: "first-deploy",
            schemaHead: { after: "v1.4.2" },
            migrates: true,
            summary: "first-deploy: schema head moves to v1.4.2 (the data steps run); traffic v1.4.2 100%",
        });
    });

    it("first deploy without any last release argument is the same as with an empty one", () => {
        assert.deepEqual(planRelease(config("v1.4.2")), planRelease(config("v1.4.2"), {}));
    });

    it("first deploy of a pair: the newer version sets the schema head, current listed first", () => {
        const plan = planRelease(config("v1.4.2", "v1.5.0", 100), {});
        assert.equal(plan.transition, "first-deploy");
        assert.deepEqual(plan.schemaHead, { after: "v1.5.0" });
        assert.deepEqual(
            plan.live.map((l) => l.version),
            ["v1.4.2", "v1.5.0"],
        );
    });

    it("start a release with canaryWeight 0: forward upgrade, migrates, schema head moves, no user traffic yet", () => {
        assert.deepEqual(planRelease(config("v1.5.0", "v1.4.2", 0), V142_ALONE), {
            live: [
                { version: "v1.5.0", weight: 0, slot: "current" },
                { version: "v1.4.2", weight: 100, slot: "previous" },
            ],
            weights: { "v1.5.0": 0, "v1.4.2": 100 },
            transition: "release",
            schemaHead: { before: "v1.4.2", after: "v1.5.0" },
            migrates: true,
            summary: "release: schema head moves to v1.5.0 (the data steps run); traffic v1.5.0 0%, v1.4.2 100%",
        });
    });

    it("start a release without stating canaryWeight defaults the new version to 0%", () => {
        assert.deepEqual(planRelease(config("v1.5.0", "v1.4.2"), V142_ALONE).weights, { "v1.5.0": 0, "v1.4.2": 100 });
    });

    it("shift traffic 10 → 50 → 100: traffic shifts only, no migration, schema head unchanged", () => {
        let last = outputsOf(config("v1.5.0", "v1.4.2", 0), planRelease(config("v1.5.0", "v1.4.2", 0), V142_ALONE));
        const seen: Array<[string, boolean, Record<string, number>, string]> = [];
        for (const weight of [10, 50, 100]) {
            const input = config("v1.5.0", "v1.4.2", weight);
            const plan = planRelease(input, last);
            seen.push([plan.transition, plan.migrates, plan.weights, plan.summary]);
            assert.deepEqual(plan.schemaHead, { before: "v1.5.0", after: "v1.5.0" });
            last = outputsOf(input, plan);
        }
        assert.deepEqual(seen, [
            [
                "traffic-shift",
                false,
                { "v1.5.0": 10, "v1.4.2": 90 },
                "traffic-shift: schema head stays v1.5.0; traffic v1.5.0 10%, v1.4.2 90%",
            ],
            [
                "traffic-shift",
                false,
                { "v1.5.0": 50, "v1.4.2": 50 },
                "traffic-shift: schema head stays v1.5.0; traffic v1.5.0 50%, v1.4.2 50%",
            ],
            [
                "traffic-shift",
                false,
                { "v1.5.0": 100, "v1.4.2": 0 },
                "traffic-shift: schema head stays v1.5.0; traffic v1.5.0 100%, v1.4.2 0%",
            ],
        ]);
    });

    it("retire the previous: only the current version stays live", () => {
        assert.deepEqual(planRelease(config("v1.5.0"), PROMOTED), {
            live: [{ version: "v1.5.0", weight: 100, slot: "current" }],
            weights: { "v1.5.0": 100 },
            transition: "retire",
            schemaHead: { before: "v1.5.0", after: "v1.5.0" },
            migrates: false,
            summary: "retire: schema head stays v1.5.0; traffic v1.5.0 100%",
        });
    });

    it("abort a canary (canaryWeight back to 0): a traffic shift, no migration", () => {
        const plan = planRelease(config("v1.5.0", "v1.4.2", 0), CANARY_10);
        assert.equal(plan.transition, "traffic-shift");
        assert.equal(plan.migrates, false);
        assert.deepEqual(plan.weights, { "v1.5.0": 0, "v1.4.2": 100 });
        assert.deepEqual(plan.schemaHead, { before: "v1.5.0", after: "v1.5.0" });
    });

    it("roll back after promotion (swap version and previous): rollback, no migration, schema head stays", () => {
        assert.deepEqual(planRelease(config("v1.4.2", "v1.5.0", 100), PROMOTED), {
            live: [
                { version: "v1.4.2", weight: 100, slot: "current" },
                { version: "v1.5.0", weight: 0, slot: "previous" },
            ],
            weights: { "v1.4.2": 100, "v1.5.0": 0 },
            transition: "rollback",
            schemaHead: { before: "v1.5.0", after: "v1.5.0" },
            migrates: false,
            summary: "rollback: schema head stays v1.5.0; traffic v1.4.2 100%, v1.5.0 0%",
        });
    });

    it("roll forward (swap back after a rollback): roll-forward, no migration", () => {
        const rolledBack = config("v1.4.2", "v1.5.0", 100);
        const last = outputsOf(rolledBack, planRelease(rolledBack, PROMOTED));
        const plan = planRelease(config("v1.5.0", "v1.4.2", 100), last);
        assert.equal(plan.transition, "roll-forward");
        assert.equal(plan.migrates, false);
        assert.deepEqual(plan.weights, { "v1.5.0": 100, "v1.4.2": 0 });
        assert.deepEqual(plan.schemaHead, { before: "v1.5.0", after: "v1.5.0" });
    });

    it("cold rollback below the schema head with no warm previous is refused, naming `release:restoreFrom`", () => {
        assert.throws(() => planRelease(config("v1.4.2"), V150_ALONE), refusal("v1.4.2", "v1.5.0"));
    });

    it("a rollback to two versions that are both older than the schema head is refused too", () => {
        assert.throws(() => planRelease(config("v1.4.2", "v1.4.1", 100), V150_ALONE), refusal("v1.4.2", "v1.5.0"));
    });

    it("the refusal stands when `acceptSchemaHead` names a different version than the head", () => {
        assert.throws(() => planRelease(config("v1.4.2", undefined, undefined, "v1.4.9"), V150_ALONE), refusal("v1.4.2", "v1.5.0"));
    });

    it("the same cold rollback with `acceptSchemaHead` equal to the head is allowed and keeps the head", () => {
        assert.deepEqual(planRelease(config("v1.4.2", undefined, undefined, "v1.5.0"), V150_ALONE), {
            live: [{ version: "v1.4.2", weight: 100, slot: "current" }],
            weights: { "v1.4.2": 100 },
            transition: "rollback",
            schemaHead: { before: "v1.5.0", after: "v1.5.0" },
            migrates: false,
            summary: "rollback: schema head stays v1.5.0; traffic v1.4.2 100%",
        });
    });

    it("re-deploying a version older than the head whose previous IS the head is allowed without migrating", () => {
        const plan = planRelease(config("v1.4.3", "v1.5.0", 0), V150_ALONE);
        assert.equal(plan.migrates, false);
        assert.equal(plan.transition, "rollback");
        assert.deepEqual(plan.schemaHead, { before: "v1.5.0", after: "v1.5.0" });
        assert.deepEqual(plan.live, [
            { version: "v1.4.3", weight: 0, slot: "current" },
            { version: "v1.5.0", weight: 100, slot: "previous" },
        ]);
    });

    it("the same config as the last update is unchanged", () => {
        const plan = planRelease(config("v1.5.0", "v1.4.2", 10), CANARY_10);
        assert.equal(plan.transition, "unchanged");
        assert.equal(plan.migrates, false);
        assert.equal(plan.summary, "unchanged: schema head stays v1.5.0; traffic v1.5.0 10%, v1.4.2 90%");
    });

    it("the same versions with no recorded weights count as a traffic shift, not as unchanged", () => {
        const { weights: _dropped, ...withoutWeights } = CANARY_10;
        assert.equal(planRelease(config("v1.5.0", "v1.4.2", 10), withoutWeights).transition, "traffic-shift");
    });

    it("the next release after a retirement migrates from the head kept in the outputs", () => {
        const plan = planRelease(config("v1.6.0", "v1.5.0", 0), V150_ALONE);
        assert.equal(plan.transition, "release");
        assert.equal(plan.migrates, true);
        assert.deepEqual(plan.schemaHead, { before: "v1.5.0", after: "v1.6.0" });
    });

    it("a release from a pre-release to its final version migrates (SemVer precedence, not text order)", () => {
        const last: LastRelease = { version: "v1.5.0-rc.2", weights: { "v1.5.0-rc.2": 100 }, schemaHead: "v1.5.0-rc.2" };
        const plan = planRelease(config("v1.5.0", "v1.5.0-rc.2", 0), last);
        assert.equal(plan.transition, "release");
        assert.deepEqual(plan.schemaHead, { before: "v1.5.0-rc.2", after: "v1.5.0" });
    });

    it("going back to the schema head version itself, cold, is allowed and does not migrate again", () => {
        const last: LastRelease = { version: "v1.4.2", weights: { "v1.4.2": 100 }, schemaHead: "v1.5.0" };
        const plan = planRelease(config("v1.5.0"), last);
        assert.equal(plan.migrates, false);
        assert.equal(plan.transition, "release");
        assert.deepEqual(plan.schemaHead, { before: "v1.5.0", after: "v1.5.0" });
    });

    it("weights per version: current takes canaryWeight, previous the rest, current listed first", () => {
        const table: Array<[number, Record<string, number>]> = [
            [0, { "v2.0.0": 0, "v1.9.0": 100 }],
            [1, { "v2.0.0": 1, "v1.9.0": 99 }],
            [33, { "v2.0.0": 33, "v1.9.0": 67 }],
            [100, { "v2.0.0": 100, "v1.9.0": 0 }],
        ];
        const last: LastRelease = { version: "v2.0.0", previous: "v1.9.0", weights: { "v2.0.0": 5, "v1.9.0": 95 }, schemaHead: "v2.0.0" };
        for (const [weight, expected] of table) {
            const plan = planRelease(config("v2.0.0", "v1.9.0", weight), last);
            assert.deepEqual(plan.weights, expected);
            assert.deepEqual(Object.keys(plan.weights), ["v2.0.0", "v1.9.0"]);
            assert.deepEqual(
                plan.live.map((l) => [l.slot, l.version, l.weight]),
                [
                    ["current", "v2.0.0", expected["v2.0.0"]],
                    ["previous", "v1.9.0", expected["v1.9.0"]],
                ],
            );
        }
    });
});

describe("planRelease refuses traffic jumps the config does not spell out", () => {
    const settled = { version: "v1.4.2", weights: { "v1.4.2": 100 }, schemaHead: "v1.4.2" };

    it("refuses a new release that enters with weight", () => {
        assert.throws(() => planRelease({ version: "v1.5.0", previous: "v1.4.2", canaryWeight: 10 }, settled), {
            name: "ConfigError",
            message:
                "`release:canaryWeight` must be 0 while v1.5.0 enters the live set (got 10): a new version takes traffic only after " +
                "its services are healthy and its smoke tests pass; raise the weight in the next update",
        });
    });

    it("lets a rollback to an older, cold tag take traffic at once", () => {
        const plan = planRelease({ version: "v1.4.1", previous: "v1.4.2", canaryWeight: 100, acceptSchemaHead: "v1.4.2" }, settled);
        assert.deepEqual(plan.weights, { "v1.4.1": 100, "v1.4.2": 0 });
        assert.equal(plan.transition, "rollback");
    });

    it("refuses retiring the previous version while the current one has less than all traffic", () => {
        const canary = { version: "v1.5.0", previous: "v1.4.2", weights: { "v1.5.0": 50, "v1.4.2": 50 }, schemaHead: "v1.5.0" };
        assert.throws(() => planRelease({ version: "v1.5.0", canaryWeight: 100 }, canary), {
            name: "ConfigError",
            message:
                "removing `release:previous` would move v1.5.0 from 50% to 100% of traffic at once; " +
                "shift traffic first with `release:canaryWeight: 100`, then remove `release:previous`",
        });
        const promoted = { ...canary, weights: { "v1.5.0": 100, "v1.4.2": 0 } };
        assert.equal(planRelease({ version: "v1.5.0", canaryWeight: 0 }, promoted).transition, "retire");
    });
});
