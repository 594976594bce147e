import { strict as assert } from "assert";
import {
    CreateDBSnapshotCommand,
    DeleteDBInstanceCommand,
    DescribeDBInstancesCommand,
    DescribeDBSnapshotsCommand,
    ModifyDBInstanceCommand,
    RDSClient,
    RestoreDBInstanceFromDBSnapshotCommand,
} from "@aws-sdk/client-rds";
import { mockClient } from "aws-sdk-client-mock";
import {
    clusterInventory,
    createCluster,
    createInstance,
    instanceInventory,
    RdsWorld,
    rdsOps,
    stampOf,
    startRdsWorld,
    tagsOf,
} from "./awsRdsSupport";

describe("rds-restore refusals and failures against moto's RDS", function () {
    this.timeout(60_000);
    let world: RdsWorld;

    before(async () => {
        world = await startRdsWorld();
        await createInstance(world, "refuse-db");
        await createInstance(world, "other-db");
        await createCluster(world, "refuse-cart");
        await world.rds.send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: "refuse-db", DBSnapshotIdentifier: "refuse-db-a" }));
        await world.rds.send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: "refuse-db", DBSnapshotIdentifier: "refuse-db-b" }));
        await world.rds.send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: "other-db", DBSnapshotIdentifier: "other-db-a" }));
    });
    after(async () => {
        world?.rds.destroy();
        await world?.moto.stop();
    });

    /** A refusal changes nothing and prints no result. */
    async function refused(args: string[], message: string): Promise<void> {
        const instances = await instanceInventory(world);
        const clusters = await clusterInventory(world);
        const run = await rdsOps(world, ["rds-restore", ...args]);
        // The automated snapshot RDS takes of a new instance (cluster) is named after the minute it was taken.
        const stderr = run.stderr.replace(/(rds:[a-z-]+)-\d{4}-\d\d-\d\d-\d\d-\d\d/g, "$1-<minute>");
        assert.deepEqual([run.code, run.stdout, stderr], [1, "", `rds-restore: ${message}\n`]);
        assert.deepEqual(await instanceInventory(world), instances);
        assert.deepEqual(await clusterInventory(world), clusters);
    }

    it("refuses an unknown snapshot and lists the instance's own, newest first", async () => {
        await refused(
            ["--snapshot", "refuse-db-z", "--instance", "refuse-db"],
            "`--snapshot` names `refuse-db-z`, which is no DB snapshot RDS knows; snapshots of `refuse-db`, newest first: refuse-db-b, refuse-db-a, rds:refuse-db-<minute>; nothing was changed",
        );
    });

    it("refuses a DB snapshot named as a cluster snapshot, and lists the cluster's own", async () => {
        await refused(
            ["--snapshot", "refuse-db-a", "--cluster", "refuse-cart"],
            "`--snapshot` names `refuse-db-a`, which is no cluster snapshot RDS knows; snapshots of `refuse-cart`, newest first: rds:refuse-cart-<minute>; nothing was changed",
        );
    });

    it("refuses to restore a DB snapshot over an instance of an Aurora cluster", async () => {
        await refused(
            ["--snapshot", "refuse-db-a", "--instance", "refuse-cart-1", "--into", "refuse-cart-1"],
            "`refuse-cart-1` is an instance of Aurora cluster `refuse-cart`: restore a cluster snapshot with `--cluster refuse-cart`; nothing was changed",
        );
    });

    it("refuses a snapshot of another instance unless --into names the live one, as restore --into does", async () => {
        await refused(
            ["--snapshot", "other-db-a", "--instance", "refuse-db"],
            "refusing to restore DB snapshot `other-db-a` of instance `other-db` into `refuse-db` (`--instance`): it would replace `refuse-db`. " +
                "Name the snapshot's own instance with `--instance other-db`, or pass `--into refuse-db` to replace `refuse-db` on purpose; nothing was changed",
        );
        await refused(
            ["--snapshot", "other-db-a", "--instance", "refuse-db", "--into", "other-db"],
            "`--into` must name the instance `--instance` names, the one the restore replaces (`refuse-db`); got `other-db`; nothing was changed",
        );
        // A drill replaces nothing: it needs no --into.
        const drill = await rdsOps(world, ["rds-restore", "--snapshot", "other-db-a", "--instance", "refuse-db", "--drill"]);
        assert.equal(drill.code, 0, drill.stderr);
    });

    it("restores a snapshot of another instance when --into names the live one", async () => {
        const onPurpose = await rdsOps(world, ["rds-restore", "--snapshot", "refuse-db-a", "--instance", "other-db", "--into", "other-db"]);
        assert.equal(onPurpose.code, 0, onPurpose.stderr);
        const [live] = (await world.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: "other-db" }))).DBInstances!;
        assert.deepEqual(tagsOf(live), { "safe-release:restored-from": "refuse-db-a" });
    });

    it("refuses a snapshot that is not available yet (aws-sdk-client-mock: moto's snapshots are available at once)", async () => {
        const rds = mockClient(RDSClient);
        try {
            rds.on(DescribeDBSnapshotsCommand).resolves({
                DBSnapshots: [{ DBSnapshotIdentifier: "refuse-db-c", DBInstanceIdentifier: "refuse-db", Status: "creating" }],
            });
            const run = await rdsOps(world, ["rds-restore", "--snapshot", "refuse-db-c", "--instance", "refuse-db"]);
            assert.deepEqual(
                [run.code, run.stdout, run.stderr],
                [
                    1,
                    "",
                    "rds-restore: DB snapshot `refuse-db-c` is `creating`, not `available`: run the restore again once it is available; nothing was changed\n",
                ],
            );
            assert.deepEqual(
                rds.calls().map((call) => call.args[0].constructor.name),
                ["DescribeDBSnapshotsCommand"],
            );
        } finally {
            rds.restore();
        }
    });

    /** moto, except that the restored copy never becomes available: it reports `status`. */
    async function restoredStuckAt(status: string, extra: string[]): Promise<{ result: Record<string, unknown>; stderr: string }> {
        const realSend = RDSClient.prototype.send as unknown as (this: RDSClient, command: unknown) => Promise<unknown>;
        const rds = mockClient(RDSClient);
        try {
            const moto = (getClient: () => unknown, command: unknown) => realSend.call(getClient() as RDSClient, command);
            rds.on(DescribeDBSnapshotsCommand).callsFake((input, getClient) => moto(getClient, new DescribeDBSnapshotsCommand(input)));
            rds.on(RestoreDBInstanceFromDBSnapshotCommand).callsFake((input, getClient) =>
                moto(getClient, new RestoreDBInstanceFromDBSnapshotCommand(input)),
            );
            rds.on(DescribeDBInstancesCommand).callsFake((input, getClient) =>
                /-restore-\d{14}$/.test(input.DBInstanceIdentifier ?? "")
                    ? Promise.resolve({ DBInstances: [{ DBInstanceIdentifier: input.DBInstanceIdentifier, DBInstanceStatus: status }] })
                    : moto(getClient, new DescribeDBInstancesCommand(input)),
            );
            const run = await rdsOps(world, ["rds-restore", "--snapshot", "refuse-db-a", "--instance", "refuse-db", ...extra]);
            assert.equal(run.code, 1, run.stderr);
            const result = JSON.parse(run.stdout);
            delete result.totalMs;
            return { result, stderr: run.stderr };
        } finally {
            rds.restore();
        }
    }

    for (const [status, extra, why] of [
        ["incompatible-restore", [], "will not become available; last status: incompatible-restore"],
        ["creating", ["--timeout", "400ms"], "was not available within 400ms (`--timeout`)"],
    ] as const) {
        it(`keeps a restored copy that ${why.split(";")[0]} and leaves the live instance as it was (aws-sdk-client-mock for its status)`, async () => {
            const before = await instanceInventory(world);
            const { result, stderr } = await restoredStuckAt(status, [...extra]);
            const restored = String((result.exists as string[])[0]);
            assert.match(restored, /^refuse-db-restore-\d{14}$/);
            const message =
                `instance ${restored} ${why}; \`refuse-db\` is untouched; the restored copy \`${restored}\` is kept for inspection: ` +
                `delete it when done with \`aws rds delete-db-instance --db-instance-identifier ${restored} --skip-final-snapshot\``;
            assert.deepEqual(result, { ok: false, snapshot: "refuse-db-a", live: "refuse-db", error: message, exists: [restored] });
            assert.ok(stderr.endsWith(`rds-restore: ${message}\n`), stderr);
            const after = await instanceInventory(world);
            // Removed as the message says, so that the next restore of this second may use the name again.
            await world.rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: restored, SkipFinalSnapshot: true }));
            assert.deepEqual(
                after.filter((i) => (i as string[])[0] !== restored),
                before,
            );
        });
    }

    it("renames the live instance back when the restored one cannot take its name, and says what exists", async () => {
        const original = (await world.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: "refuse-db" }))).DBInstances![0];
        // The SDK's own send, kept before the mock replaces it: everything but the injected fault goes to moto.
        const realSend = RDSClient.prototype.send as unknown as (this: RDSClient, command: unknown) => Promise<unknown>;
        const rds = mockClient(RDSClient);
        try {
            const moto = (getClient: () => unknown, command: unknown) => realSend.call(getClient() as RDSClient, command);
            rds.on(DescribeDBSnapshotsCommand).callsFake((input, getClient) => moto(getClient, new DescribeDBSnapshotsCommand(input)));
            rds.on(DescribeDBInstancesCommand).callsFake((input, getClient) => moto(getClient, new DescribeDBInstancesCommand(input)));
            rds.on(RestoreDBInstanceFromDBSnapshotCommand).callsFake((input, getClient) =>
                moto(getClient, new RestoreDBInstanceFromDBSnapshotCommand(input)),
            );
            // RDS refuses the rename of the restored copy to the live identifier.
            rds.on(ModifyDBInstanceCommand).callsFake((input, getClient) => {
                if (/-restore-\d{14}$/.test(input.DBInstanceIdentifier) && !input.DBInstanceIdentifier.includes("-pre-restore-")) {
                    return Promise.reject(Object.assign(new Error("injected by the test"), { name: "InvalidDBInstanceStateFault" }));
                }
                return moto(getClient, new ModifyDBInstanceCommand(input));
            });
            const run = await rdsOps(world, ["rds-restore", "--snapshot", "refuse-db-a", "--instance", "refuse-db"]);
            assert.equal(run.code, 1, run.stderr);
            const result = JSON.parse(run.stdout);
            const restored = `refuse-db-restore-${stampOf(result.exists[0])}`;
            const message =
                `RDS ModifyDBInstance renaming \`${restored}\` to \`refuse-db\` failed: InvalidDBInstanceStateFault: injected by the test; ` +
                "`refuse-db` was renamed back and is as it was; " +
                `the restored copy \`${restored}\` is kept (delete it with \`aws rds delete-db-instance --db-instance-identifier ${restored} --skip-final-snapshot\`)`;
            delete result.totalMs;
            assert.deepEqual(result, {
                ok: false,
                snapshot: "refuse-db-a",
                live: "refuse-db",
                error: message,
                exists: [restored, "refuse-db"],
            });
            assert.ok(run.stderr.endsWith(`rds-restore: ${message}\n`), run.stderr);
        } finally {
            rds.restore();
        }
        const byId = new Map(
            (await world.rds.send(new DescribeDBInstancesCommand({}))).DBInstances!.map((i) => [i.DBInstanceIdentifier!, i]),
        );
        assert.equal(byId.get("refuse-db")?.InstanceCreateTime?.toISOString(), original.InstanceCreateTime?.toISOString());
        assert.deepEqual(
            [...byId.keys()].filter((id) => id.startsWith("refuse-db-")).map((id) => id.replace(/\d{14}/, "<stamp>")),
            ["refuse-db-restore-<stamp>"],
        );
    });
});
