import {
    CreateDBInstanceCommand,
    DBCluster,
    DBClusterSnapshot,
    DeleteDBClusterCommand,
    DeleteDBInstanceCommand,
    DescribeDBClusterSnapshotsCommand,
    DescribeDBClustersCommand,
    ModifyDBClusterCommand,
    paginateDescribeDBClusterSnapshots,
    RestoreDBClusterFromSnapshotCommand,
    RestoreDBClusterFromSnapshotCommandInput,
    waitForDBClusterAvailable,
    waitForDBClusterDeleted,
    waitForDBInstanceDeleted,
} from "@aws-sdk/client-rds";
import { awsCall } from "../../core/awsClient";
import { RESTORED_FROM_TAG } from "./rdsSnapshots";
import { LiveFacts, RdsRestorer, SnapshotFacts } from "./rdsRestore";
import { describeInstance, isNotFound, newestIds, waitInstanceAvailable } from "./rdsInstances";
import { RdsRun, waitUntil } from "./rdsWait";

export interface LiveCluster extends LiveFacts {
    readonly cluster: DBCluster;
}

/** A restored cluster has no instance until one is created in it: this one serves the cluster endpoint. */
export function clusterInstanceId(restoredCluster: string): string {
    return `${restoredCluster}-1`;
}

/** The restore keeps what the app reaches the cluster through: subnet group, security groups, port, engine. */
export function clusterRestoreInput(live: DBCluster, snapshot: SnapshotFacts, restored: string): RestoreDBClusterFromSnapshotCommandInput {
    const securityGroups = (live.VpcSecurityGroups ?? []).map((g) => g.VpcSecurityGroupId).filter((id): id is string => id !== undefined);
    const optional = {
        EngineVersion: snapshot.engineVersion ?? live.EngineVersion,
        DBSubnetGroupName: live.DBSubnetGroup,
        Port: live.Port,
    };
    return {
        DBClusterIdentifier: restored,
        SnapshotIdentifier: snapshot.id,
        Engine: snapshot.engine ?? live.Engine,
        ...Object.fromEntries(Object.entries(optional).filter(([, value]) => value !== undefined)),
        ...(securityGroups.length > 0 ? { VpcSecurityGroupIds: securityGroups } : {}),
        Tags: [{ Key: RESTORED_FROM_TAG, Value: snapshot.id }],
    };
}

export function clusterSnapshotFacts(snapshot: DBClusterSnapshot): SnapshotFacts {
    return {
        id: snapshot.DBClusterSnapshotIdentifier ?? "",
        arn: snapshot.DBClusterSnapshotArn ?? "",
        source: snapshot.DBClusterIdentifier ?? "",
        status: snapshot.Status ?? "unknown",
        ...(snapshot.Engine !== undefined ? { engine: snapshot.Engine } : {}),
        ...(snapshot.EngineVersion !== undefined ? { engineVersion: snapshot.EngineVersion } : {}),
    };
}

export async function describeCluster(run: RdsRun, id: string): Promise<DBCluster | undefined> {
    try {
        return (await run.rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: id }))).DBClusters?.[0];
    } catch (err) {
        if (isNotFound(err)) return undefined;
        return awsCall(`RDS DescribeDBClusters of \`${id}\``, run.env, () => Promise.reject(err));
    }
}

async function waitClusterAvailable(run: RdsRun, id: string): Promise<void> {
    await waitUntil(run, `cluster ${id}`, "available", waitForDBClusterAvailable, { DBClusterIdentifier: id });
}

/** The writer's class: the restored cluster's one instance takes the load the writer takes now. */
async function writerClass(run: RdsRun, live: DBCluster): Promise<string> {
    const writer = (live.DBClusterMembers ?? []).find((m) => m.IsClusterWriter === true)?.DBInstanceIdentifier;
    const instance = writer !== undefined ? await describeInstance(run, writer) : undefined;
    if (instance?.DBInstanceClass === undefined) {
        throw new Error(
            `cluster \`${live.DBClusterIdentifier}\` has no writer instance to take the restored instance's class from; ` +
                "add a writer to it, or restore the snapshot by hand",
        );
    }
    return instance.DBInstanceClass;
}

/** An Aurora cluster restored from a cluster snapshot, with one instance of the live writer's class. */
export function clusterRestorer(run: RdsRun): RdsRestorer<LiveCluster> {
    const { rds, env } = run;
    return {
        noun: "cluster",
        snapshotNoun: "cluster snapshot",
        async describeSnapshot(id) {
            try {
                const answer = await rds.send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: id }));
                const snapshot = answer.DBClusterSnapshots?.[0];
                return snapshot !== undefined ? clusterSnapshotFacts(snapshot) : undefined;
            } catch (err) {
                if (isNotFound(err)) return undefined;
                return awsCall(`RDS DescribeDBClusterSnapshots of \`${id}\``, env, () => Promise.reject(err));
            }
        },
        async snapshotsOf(live) {
            const snapshots: DBClusterSnapshot[] = [];
            await awsCall(`RDS DescribeDBClusterSnapshots of \`${live}\``, env, async () => {
                for await (const page of paginateDescribeDBClusterSnapshots({ client: rds }, { DBClusterIdentifier: live })) {
                    snapshots.push(...(page.DBClusterSnapshots ?? []));
                }
            });
            return newestIds(snapshots.map((s) => ({ id: s.DBClusterSnapshotIdentifier, time: s.SnapshotCreateTime })));
        },
        async describe(id) {
            const cluster = await describeCluster(run, id);
            if (cluster === undefined) return undefined;
            const port = cluster.Port !== undefined ? `:${cluster.Port}` : "";
            return {
                cluster,
                status: cluster.Status ?? "unknown",
                ...(cluster.Endpoint !== undefined ? { endpoint: `${cluster.Endpoint}${port}` } : {}),
            };
        },
        // A cluster without a writer has no instance class to give the restored one.
        refusal: ({ cluster }) =>
            (cluster.DBClusterMembers ?? []).some((m) => m.IsClusterWriter === true)
                ? undefined
                : `cluster \`${cluster.DBClusterIdentifier}\` has no writer instance to take the restored instance's class from; ` +
                  "add a writer to it, or restore the snapshot by hand",
        async restore(snapshot, live, restored, created) {
            const instanceClass = await writerClass(run, live.cluster);
            await awsCall(`RDS RestoreDBClusterFromSnapshot of \`${snapshot.id}\` into \`${restored}\``, env, () =>
                rds.send(new RestoreDBClusterFromSnapshotCommand(clusterRestoreInput(live.cluster, snapshot, restored))),
            );
            created.push(restored);
            const instance = clusterInstanceId(restored);
            run.log(`creating instance ${instance} (${instanceClass}) in cluster ${restored}`);
            await awsCall(`RDS CreateDBInstance \`${instance}\` in \`${restored}\``, env, () =>
                rds.send(
                    new CreateDBInstanceCommand({
                        DBInstanceIdentifier: instance,
                        DBClusterIdentifier: restored,
                        DBInstanceClass: instanceClass,
                        Engine: snapshot.engine ?? live.cluster.Engine,
                        Tags: [{ Key: RESTORED_FROM_TAG, Value: snapshot.id }],
                    }),
                ),
            );
            created.push(instance);
        },
        async waitRestored(created) {
            const [cluster, ...instances] = created;
            await waitClusterAvailable(run, cluster);
            for (const id of instances) await waitInstanceAvailable(run, id);
        },
        async rename(from, to) {
            run.log(`renaming cluster ${from} to ${to}`);
            await awsCall(`RDS ModifyDBCluster renaming \`${from}\` to \`${to}\``, env, () =>
                rds.send(new ModifyDBClusterCommand({ DBClusterIdentifier: from, NewDBClusterIdentifier: to, ApplyImmediately: true })),
            );
            await waitClusterAvailable(run, to);
        },
        async remove(created) {
            // A cluster is deleted only once it has no instance left.
            const [cluster, ...instances] = created;
            for (const id of instances) {
                run.log(`deleting instance ${id}`);
                await awsCall(`RDS DeleteDBInstance of \`${id}\``, env, () =>
                    rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: id })),
                );
                await waitUntil(run, `instance ${id}`, "deleted", waitForDBInstanceDeleted, { DBInstanceIdentifier: id });
            }
            run.log(`deleting cluster ${cluster} (no final snapshot)`);
            await awsCall(`RDS DeleteDBCluster of \`${cluster}\``, env, () =>
                rds.send(new DeleteDBClusterCommand({ DBClusterIdentifier: cluster, SkipFinalSnapshot: true })),
            );
            await waitUntil(run, `cluster ${cluster}`, "deleted", waitForDBClusterDeleted, { DBClusterIdentifier: cluster });
        },
        removeHint: (created) => {
            const [cluster, ...instances] = created;
            return [
                ...instances.map((id) => `aws rds delete-db-instance --db-instance-identifier ${id}`),
                ...(cluster !== undefined ? [`aws rds delete-db-cluster --db-cluster-identifier ${cluster} --skip-final-snapshot`] : []),
            ].join(" && ");
        },
        renameHint: (from, to) =>
            `aws rds modify-db-cluster --db-cluster-identifier ${from} --new-db-cluster-identifier ${to} --apply-immediately`,
    };
}
