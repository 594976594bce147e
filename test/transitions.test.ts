import { strict as assert } from "assert";
import { ecsConfig } from "./support/fixtures";
import { pinnedImagesOf, resource, rollbackCheckOf } from "./support/inspect";
import { ProgramRun, runProgram } from "./support/mockEngine";
import { StackConfig } from "./support/mockProviders";
import { diffRuns, planDiff } from "./support/planDiff";

const LISTENER = "aws:lb/listener:Listener::shop-ecs-listener";

/** Every resource that belongs to one version: the pinned images, the ECS version component and its children. */
function versionResources(version: string): string[] {
    const prefix = `shop-ecs-${version}`;
    return [
        `aws:ecs/service:Service::${prefix}-api-service`,
        `aws:ecs/service:Service::${prefix}-worker-service`,
        `aws:ecs/taskDefinition:TaskDefinition::${prefix}-api-task`,
        `aws:ecs/taskDefinition:TaskDefinition::${prefix}-worker-task`,
        `aws:lb/listenerRule:ListenerRule::${prefix}-api-test-route`,
        `aws:lb/targetGroup:TargetGroup::${prefix}-api-tg`,
        `safe-release:aws:EcsVersion::${prefix}`,
        `safe-release:image:PinnedImage::shop-${version}-api`,
        `safe-release:image:PinnedImage::shop-${version}-worker`,
    ].sort();
}

function release(version: string, previous?: string, canaryWeight?: number): StackConfig {
    return ecsConfig({
        "release:version": version,
        ...(previous !== undefined ? { "release:previous": previous } : {}),
        ...(canaryWeight !== undefined ? { "release:canaryWeight": canaryWeight } : {}),
    });
}

/** Target group name → weight in the listener's forward action. */
function listenerWeights(run: ProgramRun): Record<string, number> {
    const listener = resource(run, "aws:lb/listener:Listener", "shop-ecs-listener");
    const groups: Array<{ arn: string; weight: number }> = listener.inputs.defaultActions[0].forward.targetGroups;
    return Object.fromEntries(groups.map((g) => [g.arn.split(":").pop()!, g.weight]));
}

describe("release transitions on aws-ecs (DESIGN.md transition table)", () => {
    it("first deploy: creates v1.4.2 at 100% and everything it shares", async () => {
        const empty: ProgramRun = { resources: new Map(), outputs: {} };
        const after = await runProgram({ config: release("v1.4.2") });
        const diff = diffRuns(empty, after);
        assert.deepEqual(diff.names("updated"), []);
        assert.deepEqual(diff.names("deleted"), []);
        for (const name of [...versionResources("v1.4.2"), LISTENER]) assert.ok(diff.names("created").includes(name), name);
        assert.deepEqual(listenerWeights(after), { "shop-ecs-v1.4.2-api-tg": 100 });
        assert.equal(after.outputs.transition, "first-deploy");
    });

    it("start a release: creates only v1.5.0's resources and adds it to the listener at weight 0", async () => {
        const diff = await planDiff(release("v1.4.2"), release("v1.5.0", "v1.4.2", 0));
        assert.deepEqual(diff.names("created"), [...versionResources("v1.5.0"), ...rollbackCheckOf("v1.5.0")].sort());
        assert.equal(
            resource(diff.after, "command:local:Command", "shop-rollback-check-v1.5.0-run").inputs.create,
            `node ops/bin/safe-release-ops.js artifacts-check --version v1.4.2 --images ${pinnedImagesOf(diff.after, "v1.4.2")}`,
        );
        assert.deepEqual(diff.names("updated"), [LISTENER]);
        assert.deepEqual(diff.names("deleted"), []);
        assert.deepEqual(listenerWeights(diff.after), { "shop-ecs-v1.5.0-api-tg": 0, "shop-ecs-v1.4.2-api-tg": 100 });
        assert.equal(diff.after.outputs.transition, "release");
        assert.equal(diff.after.outputs.schemaHead, "v1.5.0");
    });

    for (const [from, to] of [
        [10, 50],
        [50, 100],
        [0, 10],
    ]) {
        it(`shift traffic ${from} → ${to}: updates the listener and nothing else`, async () => {
            const diff = await planDiff(release("v1.5.0", "v1.4.2", from), release("v1.5.0", "v1.4.2", to));
            assert.deepEqual(diff.names("updated"), [LISTENER]);
            assert.deepEqual(diff.names("created"), []);
            assert.deepEqual(diff.names("deleted"), []);
            assert.deepEqual(listenerWeights(diff.after), { "shop-ecs-v1.5.0-api-tg": to, "shop-ecs-v1.4.2-api-tg": 100 - to });
            assert.equal(diff.after.outputs.transition, "traffic-shift");
        });
    }

    it("abort a canary (10 → 0): updates the listener only, v1.5.0 stays warm", async () => {
        const diff = await planDiff(release("v1.5.0", "v1.4.2", 10), release("v1.5.0", "v1.4.2", 0));
        assert.deepEqual(diff.names("updated"), [LISTENER]);
        assert.deepEqual([...diff.names("created"), ...diff.names("deleted")], []);
        assert.deepEqual(listenerWeights(diff.after), { "shop-ecs-v1.5.0-api-tg": 0, "shop-ecs-v1.4.2-api-tg": 100 });
    });

    it("retire the previous: deletes v1.4.2's service and target group and updates the listener", async () => {
        const diff = await planDiff(release("v1.5.0", "v1.4.2", 100), release("v1.5.0"));
        assert.deepEqual(diff.names("deleted"), versionResources("v1.4.2"));
        assert.deepEqual(diff.names("updated"), [LISTENER]);
        assert.deepEqual(diff.names("created"), []);
        assert.deepEqual(listenerWeights(diff.after), { "shop-ecs-v1.5.0-api-tg": 100 });
        assert.equal(diff.after.outputs.transition, "retire");
    });

    it("roll back after promotion (swap version and previous): updates exactly the listener, restarts nothing", async () => {
        const diff = await planDiff(release("v1.5.0", "v1.4.2", 100), release("v1.4.2", "v1.5.0", 100));
        assert.deepEqual(diff.names("updated"), [LISTENER]);
        assert.deepEqual(diff.names("created"), []);
        assert.deepEqual(diff.names("deleted"), []);
        assert.deepEqual(listenerWeights(diff.after), { "shop-ecs-v1.4.2-api-tg": 100, "shop-ecs-v1.5.0-api-tg": 0 });
        assert.equal(diff.after.outputs.transition, "rollback");
        assert.equal(diff.after.outputs.schemaHead, "v1.5.0", "a rollback never moves the schema head back");
    });

    it("a cold rollback below the schema head is refused before anything is registered, naming `release:restoreFrom`", async () => {
        const deployed = await runProgram({ config: release("v1.5.0") });
        await assert.rejects(runProgram({ config: release("v1.4.2"), lastOutputs: deployed.outputs }), {
            registered: [],
            message:
                "`release:version` v1.4.2 is older than the database schema head v1.5.0, and no live version serves that schema. " +
                "Keep v1.5.0 warm as `release:previous` (a rollback then only shifts traffic), " +
                "restore the pre-upgrade backup with `release:restoreFrom`, " +
                "or, if v1.5.0's migrations were additive and v1.4.2 runs on them, set `release:acceptSchemaHead: v1.5.0`",
        });
    });

    it("keeps the schema head after the version that migrated is retired", async () => {
        const diff = await planDiff(
            release("v1.4.2", "v1.5.0", 100),
            ecsConfig({ "release:version": "v1.4.2", "release:acceptSchemaHead": "v1.5.0" }),
        );
        assert.equal(diff.after.outputs.schemaHead, "v1.5.0");
        assert.deepEqual(diff.names("deleted"), versionResources("v1.5.0"));
        assert.deepEqual(diff.names("updated"), [LISTENER]);
    });

    it("re-running the same config changes nothing", async () => {
        const diff = await planDiff(release("v1.5.0", "v1.4.2", 50), release("v1.5.0", "v1.4.2", 50));
        assert.deepEqual([...diff.names("created"), ...diff.names("updated"), ...diff.names("deleted")], []);
        assert.equal(diff.after.outputs.transition, "unchanged");
    });
});
