import { strict as assert } from "assert";
import { lastReleaseFromOutputs, withLoggedBackups } from "../components/lastRelease";
import { heldSlots } from "../components/host/hostPlatform";
import { planRelease } from "../components/plan";
import { parseHostSettings } from "../settings/host";

function notATag(name: string, shown: string): { message: string } {
    return { message: `the last update's stack output \`${name}\` is ${shown}, not a release tag; check \`pulumi stack output\`` };
}

describe("last release from the stack's own outputs (lastReleaseFromOutputs)", () => {
    it("keeps the version, previous, weights and schema head of a valid update", () => {
        const outputs = { version: "v1.5.0", previous: "v1.4.2", weights: { "v1.5.0": 10, "v1.4.2": 90 }, schemaHead: "v1.5.0" };
        assert.deepEqual(lastReleaseFromOutputs(outputs), outputs);
    });

    it("ignores the other outputs (url, images, summary)", () => {
        const outputs = {
            version: "v1.4.2",
            weights: { "v1.4.2": 100 },
            schemaHead: "v1.4.2",
            url: "http://shop.example",
            transition: "first-deploy",
        };
        assert.deepEqual(lastReleaseFromOutputs(outputs), { version: "v1.4.2", weights: { "v1.4.2": 100 }, schemaHead: "v1.4.2" });
    });

    it("returns nothing before the first deploy (all outputs undefined)", () => {
        assert.deepEqual(
            lastReleaseFromOutputs({ version: undefined, previous: undefined, weights: undefined, schemaHead: undefined }),
            {},
        );
        assert.deepEqual(lastReleaseFromOutputs({}), {});
    });

    it("tolerates null outputs as absent", () => {
        assert.deepEqual(lastReleaseFromOutputs({ version: "v1.5.0", previous: null, weights: null, schemaHead: "v1.5.0" }), {
            version: "v1.5.0",
            schemaHead: "v1.5.0",
        });
    });

    it("ignores weights that are not all numbers", () => {
        const base = { version: "v1.5.0", schemaHead: "v1.5.0" };
        for (const weights of [{ "v1.5.0": "100" }, { "v1.5.0": 90, "v1.4.2": null }, "v1.5.0=100", 100, true]) {
            assert.deepEqual(lastReleaseFromOutputs({ ...base, weights }), base, `weights ${JSON.stringify(weights)}`);
        }
    });

    const bad: Array<[string, unknown, string]> = [
        ["version", 5, "5"],
        ["version", "latest", '"latest"'],
        ["version", "1.5.0", '"1.5.0"'],
        ["previous", "v1.4", '"v1.4"'],
        ["previous", { tag: "v1.4.2" }, '{"tag":"v1.4.2"}'],
        ["schemaHead", "", '""'],
        ["schemaHead", "v1.5.0+build.1", '"v1.5.0+build.1"'],
        ["schemaHead", ["v1.5.0"], '["v1.5.0"]'],
    ];
    for (const [name, value, shown] of bad) {
        it(`refuses a hand-edited \`${name}\` of ${shown}`, () => {
            const outputs: Record<string, unknown> = { version: "v1.5.0", previous: "v1.4.2", schemaHead: "v1.5.0", [name]: value };
            assert.throws(() => lastReleaseFromOutputs(outputs), notATag(name, shown));
        });
    }

    it("keeps the `slots` a remote host's next update places its versions by", () => {
        const outputs = { version: "v1.1.0", previous: "v1.0.0", schemaHead: "v1.1.0", slots: { "v1.0.0": 0, "v1.1.0": 1 } };
        assert.deepEqual(lastReleaseFromOutputs(outputs), outputs);
        assert.deepEqual(lastReleaseFromOutputs({ version: "v1.1.0", slots: null }), { version: "v1.1.0" });
    });

    for (const slots of [{}, { "v1.0.0": 2 }, { "v1.0.0": 0, "v1.1.0": 0 }, { latest: 0 }, { "v1.0.0": "0" }, [0, 1], 1]) {
        it(`refuses a hand-edited \`slots\` of ${JSON.stringify(slots)}`, () =>
            assert.throws(() => lastReleaseFromOutputs({ version: "v1.1.0", slots }), {
                message: `the last update's stack output \`slots\` is ${JSON.stringify(slots)}, not release tags each in its own slot 0 or 1; check \`pulumi stack output slots\``,
            }));
    }

    it("places the versions by the router's file here, by the last `slots` output on a remote host", () => {
        const settings = parseHostSettings({ root: "/srv/shop" }, []);
        const remote = parseHostSettings({ root: "/srv/shop", address: "ssh://deploy@db1", privateKey: "config:sshKey" }, []);
        const last = { version: "v1.1.0", slots: { "v1.1.0": 1 } };
        const read: string[] = [];
        const file = (path: string) => (read.push(path), { "v1.1.0": 0 });
        assert.deepEqual(heldSlots(settings, last, file), { "v1.1.0": 0 });
        assert.deepEqual(read, ["/srv/shop/router/live.json"]);
        assert.deepEqual(heldSlots(remote, last, file), { "v1.1.0": 1 });
        assert.deepEqual(heldSlots(remote, { version: "v1.1.0" }, file), {}, "before any slot was recorded: every slot is free");
        assert.equal(read.length, 1, "a remote host's slots are never read from this machine");
    });

    it("feeds the planner: a retired head recorded in the outputs still refuses a cold rollback", () => {
        const last = lastReleaseFromOutputs({ version: "v1.5.0", previous: undefined, weights: { "v1.5.0": 100 }, schemaHead: "v1.5.0" });
        assert.throws(() => planRelease({ version: "v1.4.2", canaryWeight: 100 }, last), {
            name: "ConfigError",
            message:
                "`release:version` v1.4.2 is older than the database schema head v1.5.0, and no live version serves that schema. " +
                "Keep v1.5.0 warm as `release:previous` (a rollback then only shifts traffic), " +
                "restore the pre-upgrade backup with `release:restoreFrom`, " +
                "or, if v1.5.0's migrations were additive and v1.4.2 runs on them, set `release:acceptSchemaHead: v1.5.0`",
        });
        assert.equal(planRelease({ version: "v1.5.0", canaryWeight: 100 }, last).transition, "unchanged");
    });
});

describe("withLoggedBackups: the backup of a failed update, from the backup log", () => {
    const last = { version: "v1.4.2", schemaHead: "v1.4.2", backups: [{ id: "shop-v1.4.2-20261101T000000.000Z", kind: "postgres" }] };
    const logged = [
        { id: "shop-v1.4.2-20261101T000000.000Z", kind: "postgres", app: "shop", version: "v1.4.2" },
        { id: "shop-v1.5.0-20261122T101500.000Z", kind: "postgres", app: "shop", version: "v1.5.0" },
        { id: "shop-v1.3.0-20261001T000000.000Z", kind: "postgres", app: "shop", version: "v1.3.0" },
        { id: "blog-v2.0.0-20261122T101500.000Z", kind: "postgres", app: "blog", version: "v2.0.0" },
    ];

    it("adds an unrecorded backup taken before migrating past the schema head, holding the head's schema", () => {
        const merged = withLoggedBackups(last, "shop", logged);
        assert.deepEqual(
            merged.backups!.map((b) => [b.id, b.schemaHead]),
            [
                ["shop-v1.4.2-20261101T000000.000Z", undefined],
                ["shop-v1.5.0-20261122T101500.000Z", "v1.4.2"],
            ],
        );
    });

    it("lets the restore of a failed migration plan, though the failed update recorded nothing", () => {
        const plan = planRelease(
            { version: "v1.4.2", canaryWeight: 100, restoreFrom: "shop-v1.5.0-20261122T101500.000Z" },
            withLoggedBackups(last, "shop", logged),
        );
        assert.deepEqual([plan.transition, plan.schemaHead.after], ["restore", "v1.4.2"]);
    });

    it("adds nothing before the first deploy recorded a schema head", () => {
        assert.deepEqual(withLoggedBackups({}, "shop", logged), {});
    });
});
