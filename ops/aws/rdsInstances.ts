import {
    DBInstance,
    DBSnapshot,
    DeleteDBInstanceCommand,
    DescribeDBInstancesCommand,
    DescribeDBSnapshotsCommand,
    ModifyDBInstanceCommand,
    paginateDescribeDBSnapshots,
    RestoreDBInstanceFromDBSnapshotCommandInput,
    RestoreDBInstanceFromDBSnapshotCommand,
    waitForDBInstanceAvailable,
    waitForDBInstanceDeleted,
} from "@aws-sdk/client-rds";
import { awsCall } from "../../core/awsClient";
import { RESTORED_FROM_TAG } from "./rdsSnapshots";
import { LiveFacts, RdsRestorer, SnapshotFacts } from "./rdsRestore";
import { RdsRun, waitUntil } from "./rdsWait";

/** How many of an instance's snapshots a message about an unknown one lists. */
export const OFFERED_SNAPSHOTS = 5;

export interface LiveInstance extends LiveFacts {
    readonly instance: DBInstance;
}

/** Is `err` RDS saying that the named thing does not exist? */
export function isNotFound(err: unknown): boolean {
    return err instanceof Error && /NotFound(Fault)?$/.test(err.name);
}

/** The restore keeps what the app reaches the database through: class, subnet group, security groups, Multi-AZ. */
export function instanceRestoreInput(live: DBInstance, snapshot: string, restored: string): RestoreDBInstanceFromDBSnapshotCommandInput {
    const securityGroups = (live.VpcSecurityGroups ?? []).map((g) => g.VpcSecurityGroupId).filter((id): id is string => id !== undefined);
    const optional = {
        DBInstanceClass: live.DBInstanceClass,
        DBSubnetGroupName: live.DBSubnetGroup?.DBSubnetGroupName,
        MultiAZ: live.MultiAZ,
        PubliclyAccessible: live.PubliclyAccessible,
    };
    return {
        DBInstanceIdentifier: restored,
        DBSnapshotIdentifier: snapshot,
        ...Object.fromEntries(Object.entries(optional).filter(([, value]) => value !== undefined)),
        ...(securityGroups.length > 0 ? { VpcSecurityGroupIds: securityGroups } : {}),
        Tags: [{ Key: RESTORED_FROM_TAG, Value: snapshot }],
    };
}

export function snapshotFacts(snapshot: DBSnapshot): SnapshotFacts {
    return {
        id: snapshot.DBSnapshotIdentifier ?? "",
        arn: snapshot.DBSnapshotArn ?? "",
        source: snapshot.DBInstanceIdentifier ?? "",
        status: snapshot.Status ?? "unknown",
        ...(snapshot.Engine !== undefined ? { engine: snapshot.Engine } : {}),
        ...(snapshot.EngineVersion !== undefined ? { engineVersion: snapshot.EngineVersion } : {}),
    };
}

export async function describeInstance(run: RdsRun, id: string): Promise<DBInstance | undefined> {
    try {
        const answer = await run.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }));
        return answer.DBInstances?.[0];
    } catch (err) {
        if (isNotFound(err)) return undefined;
        return awsCall(`RDS DescribeDBInstances of \`${id}\``, run.env, () => Promise.reject(err));
    }
}

export async function waitInstanceAvailable(run: RdsRun, id: string): Promise<void> {
    await waitUntil(run, `instance ${id}`, "available", waitForDBInstanceAvailable, { DBInstanceIdentifier: id });
}

/** An RDS instance restored from a DB snapshot. */
export function instanceRestorer(run: RdsRun): RdsRestorer<LiveInstance> {
    const { rds, env } = run;
    return {
        noun: "instance",
        snapshotNoun: "DB snapshot",
        async describeSnapshot(id) {
            try {
                const answer = await rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: id }));
                const snapshot = answer.DBSnapshots?.[0];
                return snapshot !== undefined ? snapshotFacts(snapshot) : undefined;
            } catch (err) {
                if (isNotFound(err)) return undefined;
                return awsCall(`RDS DescribeDBSnapshots of \`${id}\``, env, () => Promise.reject(err));
            }
        },
        async snapshotsOf(live) {
            const snapshots: DBSnapshot[] = [];
            await awsCall(`RDS DescribeDBSnapshots of \`${live}\``, env, async () => {
                for await (const page of paginateDescribeDBSnapshots({ client: rds }, { DBInstanceIdentifier: live })) {
                    snapshots.push(...(page.DBSnapshots ?? []));
                }
            });
            return newestIds(snapshots.map((s) => ({ id: s.DBSnapshotIdentifier, time: s.SnapshotCreateTime })));
        },
        async describe(id) {
            const instance = await describeInstance(run, id);
            if (instance === undefined) return undefined;
            const address = instance.Endpoint?.Address;
            return {
                instance,
                status: instance.DBInstanceStatus ?? "unknown",
                ...(address !== undefined ? { endpoint: `${address}:${instance.Endpoint?.Port ?? ""}`.replace(/:$/, "") } : {}),
            };
        },
        refusal: ({ instance }) =>
            instance.DBClusterIdentifier !== undefined
                ? `\`${instance.DBInstanceIdentifier}\` is an instance of Aurora cluster \`${instance.DBClusterIdentifier}\`: ` +
                  `restore a cluster snapshot with \`--cluster ${instance.DBClusterIdentifier}\``
                : undefined,
        async restore(snapshot, live, restored, created) {
            const input = instanceRestoreInput(live.instance, snapshot.id, restored);
            await awsCall(`RDS RestoreDBInstanceFromDBSnapshot of \`${snapshot.id}\` into \`${restored}\``, env, () =>
                rds.send(new RestoreDBInstanceFromDBSnapshotCommand(input)),
            );
            created.push(restored);
        },
        async waitRestored(created) {
            for (const id of created) await waitInstanceAvailable(run, id);
        },
        async rename(from, to) {
            run.log(`renaming instance ${from} to ${to}`);
            await awsCall(`RDS ModifyDBInstance renaming \`${from}\` to \`${to}\``, env, () =>
                rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: from, NewDBInstanceIdentifier: to, ApplyImmediately: true })),
            );
            await waitInstanceAvailable(run, to);
        },
        async remove(created) {
            for (const id of created) {
                run.log(`deleting instance ${id} (no final snapshot)`);
                await awsCall(`RDS DeleteDBInstance of \`${id}\``, env, () =>
                    rds.send(
                        new DeleteDBInstanceCommand({ DBInstanceIdentifier: id, SkipFinalSnapshot: true, DeleteAutomatedBackups: true }),
                    ),
                );
                await waitUntil(run, `instance ${id}`, "deleted", waitForDBInstanceDeleted, { DBInstanceIdentifier: id });
            }
        },
        removeHint: (created) =>
            created.map((id) => `aws rds delete-db-instance --db-instance-identifier ${id} --skip-final-snapshot`).join(" && "),
        renameHint: (from, to) =>
            `aws rds modify-db-instance --db-instance-identifier ${from} --new-db-instance-identifier ${to} --apply-immediately`,
    };
}

/** Up to `OFFERED_SNAPSHOTS` ids, newest first. */
export function newestIds(snapshots: readonly { id?: string; time?: Date }[]): string[] {
    return (
        [...snapshots]
            .filter((s): s is { id: string; time?: Date } => s.id !== undefined)
            // Equal times (two snapshots in one millisecond) fall back to the id, so the list is the same on every run.
            .sort((a, b) => (b.time?.getTime() ?? 0) - (a.time?.getTime() ?? 0) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
            .slice(0, OFFERED_SNAPSHOTS)
            .map((s) => s.id)
    );
}
