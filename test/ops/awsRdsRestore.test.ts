import { strict as assert } from "assert";
import { DescribeDBClusterSnapshotsCommand, DescribeDBSnapshotsCommand } from "@aws-sdk/client-rds";
import { secretsLeaked } from "../support/opsRun";
import {
    clusterInventory,
    createCluster,
    createInstance,
    describeClusters,
    describeInstances,
    INSTANCE_CLASS,
    instanceInventory,
    RdsWorld,
    rdsOps,
    stable,
    stampOf,
    startRdsWorld,
    tagsOf,
    WRITER_CLASS,
} from "./awsRdsSupport";

const PRE_UPGRADE = { "safe-release:app": "shop", "safe-release:version": "v1.5.0", "safe-release:purpose": "pre-upgrade" };

describe("rds-snapshot and rds-restore against moto's RDS", function () {
    // moto and the SDK's first load take seconds of CPU on a busy machine; each wait below is bounded on its own.
    this.timeout(60_000);
    let world: RdsWorld;

    before(async () => {
        world = await startRdsWorld();
    });
    after(async () => {
        world?.rds.destroy();
        await world?.moto.stop();
    });

    async function snapshot(target: "--instance" | "--cluster", id: string, snapshotId: string): Promise<Record<string, unknown>> {
        const run = await rdsOps(world, ["rds-snapshot", target, id, "--app", "shop", "--version", "v1.5.0", "--id", snapshotId]);
        assert.equal(run.code, 0, run.stderr);
        return JSON.parse(run.stdout);
    }

    describe("an RDS instance", () => {
        it("rds-snapshot takes a tagged DB snapshot, waits until it is available and prints its `backups` record", async () => {
            await createInstance(world, "orders-db");
            const run = await rdsOps(world, ["rds-snapshot", "--instance", "orders-db", "--app", "shop", "--version", "v1.5.0"]);
            assert.equal(run.code, 0, run.stderr);
            const record = JSON.parse(run.stdout);
            assert.match(record.id, /^shop-v1-5-0-\d{14}$/);
            const [described] = (await world.rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: record.id }))).DBSnapshots!;
            assert.deepEqual(record, {
                id: record.id,
                kind: "rds-snapshot",
                app: "shop",
                version: "v1.5.0",
                location: `arn:aws:rds:eu-west-1:123456789012:snapshot:${record.id}`,
                time: described.SnapshotCreateTime!.toISOString(),
            });
            assert.deepEqual(
                [described.DBInstanceIdentifier, described.Status, described.SnapshotType, tagsOf(described)],
                ["orders-db", "available", "manual", PRE_UPGRADE],
            );
            assert.equal(
                stable(run.stderr),
                [
                    `rds-snapshot: creating DB snapshot ${record.id} of instance orders-db`,
                    `rds-snapshot: waiting until DB snapshot ${record.id} is available (at most 1h)`,
                    `rds-snapshot: DB snapshot ${record.id} is available (T)`,
                    "",
                ].join("\n"),
            );
            assert.deepEqual(secretsLeaked(run), []);
        });

        it("rds-restore restores beside the live instance, keeps it as <live>-pre-restore-<stamp> and gives the live identifier to the restore", async () => {
            const original = await createInstance(world, "shop-db");
            const taken = await snapshot("--instance", "shop-db", "shop-v1-5-0-pre-upgrade");
            const run = await rdsOps(world, ["rds-restore", "--snapshot", "shop-v1-5-0-pre-upgrade", "--instance", "shop-db"]);
            assert.equal(run.code, 0, run.stderr);
            const result = JSON.parse(run.stdout);
            const stamp = stampOf(result.restored);
            const endpoint = `${original.Endpoint!.Address}:5432`;
            assert.equal(typeof result.totalMs, "number");
            delete result.totalMs;
            assert.deepEqual(result, {
                ok: true,
                snapshot: "shop-v1-5-0-pre-upgrade",
                kind: "rds-snapshot",
                drill: false,
                live: "shop-db",
                restored: `shop-db-restore-${stamp}`,
                created: [`shop-db-restore-${stamp}`],
                endpointBefore: endpoint,
                preRestore: `shop-db-pre-restore-${stamp}`,
                endpoint,
                deleted: [],
            });
            const byId = new Map((await describeInstances(world)).map((i) => [i.DBInstanceIdentifier, i]));
            assert.equal(byId.has(`shop-db-restore-${stamp}`), false, "the restored copy is known by the live identifier only");
            const live = byId.get("shop-db")!;
            const kept = byId.get(`shop-db-pre-restore-${stamp}`)!;
            // The live identifier names an instance created after the snapshot, from it; the old one is kept as it was.
            assert.deepEqual(tagsOf(live), { "safe-release:restored-from": "shop-v1-5-0-pre-upgrade" });
            assert.ok(live.InstanceCreateTime! > new Date(String(taken.time)), `${live.InstanceCreateTime} after ${taken.time}`);
            assert.deepEqual(
                [kept.InstanceCreateTime, kept.DBInstanceStatus, tagsOf(kept)],
                [original.InstanceCreateTime, "available", {}],
            );
            // What the app reaches the database through is the live one's.
            assert.deepEqual(
                [live.Endpoint?.Address, live.DBInstanceClass, live.DBSubnetGroup?.DBSubnetGroupName, live.VpcSecurityGroups],
                [
                    original.Endpoint?.Address,
                    INSTANCE_CLASS,
                    "shop-subnets",
                    [{ VpcSecurityGroupId: world.securityGroup, Status: "active" }],
                ],
            );
            assert.equal(
                stable(run.stderr, stamp),
                [
                    "rds-restore: restoring DB snapshot shop-v1-5-0-pre-upgrade into instance shop-db-restore-<stamp>, beside shop-db",
                    "rds-restore: waiting until instance shop-db-restore-<stamp> is available (at most 1h)",
                    "rds-restore: instance shop-db-restore-<stamp> is available (T)",
                    "rds-restore: renaming instance shop-db to shop-db-pre-restore-<stamp>",
                    "rds-restore: waiting until instance shop-db-pre-restore-<stamp> is available (at most 1h)",
                    "rds-restore: instance shop-db-pre-restore-<stamp> is available (T)",
                    "rds-restore: renaming instance shop-db-restore-<stamp> to shop-db",
                    "rds-restore: waiting until instance shop-db is available (at most 1h)",
                    "rds-restore: instance shop-db is available (T)",
                    "rds-restore: shop-db is now the restore of shop-v1-5-0-pre-upgrade; the previous one is kept as shop-db-pre-restore-<stamp>",
                    "",
                ].join("\n"),
            );
            assert.deepEqual(secretsLeaked(run), []);
        });

        it("rds-restore --drill restores and deletes the copy; the live instance stays as it was", async () => {
            await createInstance(world, "drill-db");
            await snapshot("--instance", "drill-db", "drill-db-snapshot");
            const before = await instanceInventory(world);
            const run = await rdsOps(world, ["rds-restore", "--snapshot", "drill-db-snapshot", "--instance", "drill-db", "--drill"]);
            assert.equal(run.code, 0, run.stderr);
            const result = JSON.parse(run.stdout);
            const stamp = stampOf(result.restored);
            assert.deepEqual(
                [result.drill, result.preRestore, result.created, result.deleted],
                [true, null, [`drill-db-restore-${stamp}`], [`drill-db-restore-${stamp}`]],
            );
            assert.match(result.endpoint, new RegExp(`^drill-db-restore-${stamp}\\.`));
            assert.deepEqual(await instanceInventory(world), before);
            assert.ok(
                stable(run.stderr, stamp).endsWith(
                    [
                        "rds-restore: deleting instance drill-db-restore-<stamp> (no final snapshot)",
                        "rds-restore: waiting until instance drill-db-restore-<stamp> is deleted (at most 1h)",
                        "rds-restore: instance drill-db-restore-<stamp> is deleted (T)",
                        "rds-restore: drill: drill-db-snapshot restored into drill-db-restore-<stamp> and deleted; drill-db untouched",
                        "",
                    ].join("\n"),
                ),
                run.stderr,
            );
        });
    });

    describe("an Aurora cluster", () => {
        it("rds-snapshot takes a cluster snapshot and prints its `backups` record", async () => {
            await createCluster(world, "cart");
            const record = await snapshot("--cluster", "cart", "cart-v1-5-0-pre-upgrade");
            const [described] = (
                await world.rds.send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: "cart-v1-5-0-pre-upgrade" }))
            ).DBClusterSnapshots!;
            assert.deepEqual(record, {
                id: "cart-v1-5-0-pre-upgrade",
                kind: "aurora-snapshot",
                app: "shop",
                version: "v1.5.0",
                location: "arn:aws:rds:eu-west-1:123456789012:cluster-snapshot:cart-v1-5-0-pre-upgrade",
                time: described.SnapshotCreateTime!.toISOString(),
            });
            assert.deepEqual([described.DBClusterIdentifier, described.Status, tagsOf(described)], ["cart", "available", PRE_UPGRADE]);
        });

        it("rds-restore restores the cluster and one writer-class instance beside it, then swaps the cluster identifiers", async () => {
            const original = (await describeClusters(world)).find((c) => c.DBClusterIdentifier === "cart")!;
            const run = await rdsOps(world, ["rds-restore", "--snapshot", "cart-v1-5-0-pre-upgrade", "--cluster", "cart"]);
            assert.equal(run.code, 0, run.stderr);
            const result = JSON.parse(run.stdout);
            const stamp = stampOf(result.restored);
            assert.deepEqual(
                [result.kind, result.restored, result.created, result.preRestore, result.endpointBefore],
                [
                    "aurora-snapshot",
                    `cart-restore-${stamp}`,
                    [`cart-restore-${stamp}`, `cart-restore-${stamp}-1`],
                    `cart-pre-restore-${stamp}`,
                    `${original.Endpoint}:5432`,
                ],
            );
            const clusters = new Map((await describeClusters(world)).map((c) => [c.DBClusterIdentifier, c]));
            assert.equal(clusters.has(`cart-restore-${stamp}`), false);
            const live = clusters.get("cart")!;
            const kept = clusters.get(`cart-pre-restore-${stamp}`)!;
            assert.deepEqual(tagsOf(live), { "safe-release:restored-from": "cart-v1-5-0-pre-upgrade" });
            assert.ok(live.ClusterCreateTime! > original.ClusterCreateTime!);
            assert.deepEqual([kept.ClusterCreateTime, tagsOf(kept)], [original.ClusterCreateTime, {}]);
            assert.deepEqual(
                [live.Engine, live.EngineVersion, live.DBSubnetGroup, live.VpcSecurityGroups?.map((g) => g.VpcSecurityGroupId)],
                ["aurora-postgresql", "15.4", "shop-subnets", [world.securityGroup]],
            );
            const instance = (await describeInstances(world)).find((i) => i.DBInstanceIdentifier === `cart-restore-${stamp}-1`)!;
            assert.deepEqual(
                [instance.DBInstanceClass, instance.Engine, tagsOf(instance)],
                [WRITER_CLASS, "aurora-postgresql", { "safe-release:restored-from": "cart-v1-5-0-pre-upgrade" }],
            );
            assert.ok(
                stable(run.stderr, stamp).startsWith(
                    [
                        "rds-restore: restoring cluster snapshot cart-v1-5-0-pre-upgrade into cluster cart-restore-<stamp>, beside cart",
                        `rds-restore: creating instance cart-restore-<stamp>-1 (${WRITER_CLASS}) in cluster cart-restore-<stamp>`,
                        "rds-restore: waiting until cluster cart-restore-<stamp> is available (at most 1h)",
                    ].join("\n"),
                ),
                run.stderr,
            );
            assert.ok(run.stderr.includes(`rds-restore: renaming cluster cart to cart-pre-restore-${stamp}\n`), run.stderr);
            assert.ok(run.stderr.includes(`rds-restore: renaming cluster cart-restore-${stamp} to cart\n`), run.stderr);
        });

        it("rds-restore --drill deletes the restored instance, then the restored cluster; the live cluster stays as it was", async () => {
            await createCluster(world, "basket");
            await snapshot("--cluster", "basket", "basket-snapshot");
            const clustersBefore = await clusterInventory(world);
            const instancesBefore = await instanceInventory(world);
            const run = await rdsOps(world, ["rds-restore", "--snapshot", "basket-snapshot", "--cluster", "basket", "--drill"]);
            assert.equal(run.code, 0, run.stderr);
            const result = JSON.parse(run.stdout);
            const stamp = stampOf(result.restored);
            assert.deepEqual(result.deleted, [`basket-restore-${stamp}`, `basket-restore-${stamp}-1`]);
            assert.deepEqual(await clusterInventory(world), clustersBefore);
            assert.deepEqual(await instanceInventory(world), instancesBefore);
            assert.ok(
                stable(run.stderr, stamp).endsWith(
                    [
                        "rds-restore: deleting instance basket-restore-<stamp>-1",
                        "rds-restore: waiting until instance basket-restore-<stamp>-1 is deleted (at most 1h)",
                        "rds-restore: instance basket-restore-<stamp>-1 is deleted (T)",
                        "rds-restore: deleting cluster basket-restore-<stamp> (no final snapshot)",
                        "rds-restore: waiting until cluster basket-restore-<stamp> is deleted (at most 1h)",
                        "rds-restore: cluster basket-restore-<stamp> is deleted (T)",
                        "rds-restore: drill: basket-snapshot restored into basket-restore-<stamp> and deleted; basket untouched",
                        "",
                    ].join("\n"),
                ),
                run.stderr,
            );
        });
    });
});
