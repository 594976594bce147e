import { strict as assert } from "assert";
import { clusterRestoreInput, clusterInstanceId } from "../../ops/aws/rdsClusters";
import { instanceRestoreInput, newestIds } from "../../ops/aws/rdsInstances";
import { defaultSnapshotId, rdsStamp, restoreNames, statusOf } from "../../ops/aws/rdsSnapshots";
import { runOps } from "../support/opsRun";

/** No AWS settings at all: a usage error must come before any AWS call. */
const NO_AWS = { PATH: process.env.PATH };

describe("rds-snapshot and rds-restore: names, inputs and usage errors", () => {
    it("names what a restore creates from the live identifier and a UTC stamp RDS accepts", () => {
        const stamp = rdsStamp(new Date("2026-11-22T04:10:59.123Z"));
        assert.equal(stamp, "20261122041059");
        assert.deepEqual(restoreNames("shop-db", stamp), {
            restored: "shop-db-restore-20261122041059",
            preRestore: "shop-db-pre-restore-20261122041059",
        });
        assert.equal(restoreNames("a".repeat(36), stamp).preRestore.length, 63);
        assert.throws(
            () => restoreNames("a".repeat(37), stamp),
            new RegExp(
                `^Error: \`a{37}\` is too long to keep beside its restored copy: \`a{37}-pre-restore-20261122041059\` would exceed RDS's 63 characters \\(a live identifier may have at most 36\\); restore it by hand$`,
            ),
        );
        assert.equal(clusterInstanceId("cart-restore-20261122041059"), "cart-restore-20261122041059-1");
    });

    it("names a drill's snapshot after the app, the version and the time", () => {
        const date = new Date("2026-11-22T04:10:59.123Z");
        assert.equal(defaultSnapshotId("shop", "v1.5.0-rc.1", date), "shop-v1-5-0-rc-1-20261122041059");
        assert.throws(() => defaultSnapshotId("shop_web", "v1.5.0", date), {
            message:
                "the snapshot id `shop_web-v1-5-0-20261122041059` made of `--app` and `--version` is not an RDS identifier " +
                "(letters, digits and single `-`, at most 63): name it with `--id`",
        });
    });

    it("restores an instance with the live one's class, subnet group, security groups and Multi-AZ", () => {
        const input = instanceRestoreInput(
            {
                DBInstanceIdentifier: "shop-db",
                DBInstanceClass: "db.m6g.large",
                DBSubnetGroup: { DBSubnetGroupName: "private" },
                VpcSecurityGroups: [{ VpcSecurityGroupId: "sg-1", Status: "active" }, { VpcSecurityGroupId: "sg-2" }],
                MultiAZ: true,
                PubliclyAccessible: false,
            },
            "shop-v1-5-0-pre-upgrade",
            "shop-db-restore-20261122041059",
        );
        assert.deepEqual(input, {
            DBInstanceIdentifier: "shop-db-restore-20261122041059",
            DBSnapshotIdentifier: "shop-v1-5-0-pre-upgrade",
            DBInstanceClass: "db.m6g.large",
            DBSubnetGroupName: "private",
            MultiAZ: true,
            PubliclyAccessible: false,
            VpcSecurityGroupIds: ["sg-1", "sg-2"],
            Tags: [{ Key: "safe-release:restored-from", Value: "shop-v1-5-0-pre-upgrade" }],
        });
    });

    it("restores a cluster with the snapshot's engine and the live cluster's network and port", () => {
        const input = clusterRestoreInput(
            {
                DBClusterIdentifier: "cart",
                Engine: "aurora-postgresql",
                EngineVersion: "15.6",
                DBSubnetGroup: "private",
                Port: 5433,
                VpcSecurityGroups: [{ VpcSecurityGroupId: "sg-1" }],
            },
            { id: "cart-snap", arn: "arn", source: "cart", status: "available", engine: "aurora-postgresql", engineVersion: "15.4" },
            "cart-restore-20261122041059",
        );
        assert.deepEqual(input, {
            DBClusterIdentifier: "cart-restore-20261122041059",
            SnapshotIdentifier: "cart-snap",
            Engine: "aurora-postgresql",
            EngineVersion: "15.4",
            DBSubnetGroupName: "private",
            Port: 5433,
            VpcSecurityGroupIds: ["sg-1"],
            Tags: [{ Key: "safe-release:restored-from", Value: "cart-snap" }],
        });
    });

    it("offers at most five snapshots, newest first, and reads a waiter's last status", () => {
        const at = (s: number) => new Date(Date.UTC(2026, 10, 22, 4, 0, s));
        const ids = newestIds([1, 5, 3, 2, 6, 4].map((s) => ({ id: `s${s}`, time: at(s) })).concat([{ id: "t6", time: at(6) }]));
        assert.deepEqual(ids, ["t6", "s6", "s5", "s4", "s3"]);
        assert.equal(statusOf({ DBInstances: [{ DBInstanceStatus: "incompatible-restore" }] }), "incompatible-restore");
        assert.equal(statusOf({ DBClusters: [{ Status: "failed" }] }), "failed");
        assert.equal(statusOf(Object.assign(new Error("x"), { name: "DBInstanceNotFoundFault" })), "DBInstanceNotFoundFault");
        assert.equal(statusOf(undefined), undefined);
    });

    const usageErrors: [string, string[], string][] = [
        ["rds-restore", [], "`--snapshot` is required: the id of the snapshot to restore (the `backups` stack output lists them)"],
        ["rds-restore", ["--snapshot", "shop-v1"], "`--instance` (an RDS instance) or `--cluster` (an Aurora cluster) is required"],
        [
            "rds-restore",
            ["--snapshot", "shop-v1", "--instance", "a", "--cluster", "b"],
            "give `--instance` (an RDS instance) or `--cluster` (an Aurora cluster), not both",
        ],
        [
            "rds-restore",
            ["--snapshot", "shop_v1", "--instance", "shop-db"],
            "`--snapshot` must be an RDS snapshot identifier: 1–63 letters, digits and `-`, starting with a letter, without `--` or a trailing `-` (an automated snapshot's with `rds:` before it); got `shop_v1`",
        ],
        [
            "rds-restore",
            ["--snapshot", "shop-v1", "--instance", "shop--db"],
            "`--instance` must be an RDS instance identifier: 1–63 letters, digits and `-`, starting with a letter, without `--` or a trailing `-`; got `shop--db`",
        ],
        [
            "rds-restore",
            ["--snapshot", "shop-v1", "--cluster", "a".repeat(40)],
            `\`${"a".repeat(40)}\` is too long to keep beside its restored copy: \`${"a".repeat(40)}-pre-restore-<stamp>\` would exceed RDS's 63 characters (a live identifier may have at most 36); restore it by hand`,
        ],
        [
            "rds-restore",
            ["--snapshot", "shop-v1", "--instance", "shop-db", "--timeout", "1s", "--poll", "1s"],
            "`--timeout` must be longer than `--poll`; got `--timeout 1s` and `--poll 1s`",
        ],
        ["rds-restore", ["--snapshot", "shop-v1", "--instance", "shop-db", "--drill=yes"], "`--drill` takes no value; got `--drill=yes`"],
        [
            "rds-snapshot",
            ["--instance", "shop-db", "--app", "shop", "--version", "1.5.0"],
            "`--version` must be a release tag `vMAJOR.MINOR.PATCH`, optionally with a pre-release suffix such as `v1.5.0-rc.1`; got `1.5.0`",
        ],
        ["rds-snapshot", ["--instance", "shop-db", "--version", "v1.5.0"], "`--app` is required: the application the snapshot is of"],
        [
            "rds-snapshot",
            ["--cluster", "cart", "--app", "shop", "--version", "v1.5.0", "--id", "cart-"],
            "`--id` must be an RDS snapshot identifier: 1–63 letters, digits and `-`, starting with a letter, without `--` or a trailing `-`; got `cart-`",
        ],
        [
            "rds-snapshot",
            ["--instance", "shop-db", "--app", "shop", "--version", "v1.5.0", "--wait"],
            "unknown argument `--wait`; valid options: --instance, --cluster, --app, --version, --id, --timeout, --poll",
        ],
    ];
    for (const [name, args, message] of usageErrors) {
        it(`${name} ${args.join(" ")}: exits 2 before any AWS call`, async () => {
            const run = await runOps([name, ...args], NO_AWS);
            const stderr = run.stderr.replace(/-pre-restore-\d{14}/, "-pre-restore-<stamp>");
            assert.deepEqual([run.code, run.stdout, stderr], [2, "", `${name}: ${message}\n`]);
        });
    }
});
