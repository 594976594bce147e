import { strict as assert } from "assert";
import { ecsConfig } from "./support/fixtures";
import { planDiff } from "./support/planDiff";

const LISTENER = "aws:lb/listener:Listener::shop-ecs-listener";

describe("release transitions on aws-ecs (DESIGN.md transition table)", () => {
    it("shifting traffic 10 → 50 updates the listener and nothing else", async () => {
        const diff = await planDiff(
            ecsConfig({ "release:version": "v1.5.0", "release:previous": "v1.4.2", "release:canaryWeight": 10 }),
            ecsConfig({ "release:version": "v1.5.0", "release:previous": "v1.4.2", "release:canaryWeight": 50 }),
        );
        for (const r of diff.after.resources.values()) if (diff.changes.get(r.urn) !== "unchanged") console.log(diff.changes.get(r.urn), r.type, r.name);
        assert.deepEqual(diff.names("updated"), [LISTENER]);
        assert.deepEqual(diff.names("created"), []);
        assert.deepEqual(diff.names("deleted"), []);
    });
});
