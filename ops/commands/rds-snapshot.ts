import {
    CreateDBClusterSnapshotCommand,
    CreateDBSnapshotCommand,
    DescribeDBClusterSnapshotsCommand,
    DescribeDBSnapshotsCommand,
    waitForDBClusterSnapshotAvailable,
    waitForDBSnapshotAvailable,
} from "@aws-sdk/client-rds";
import { OpsCommand, OpsIO } from "../command";
import { parseFlags, requireValue } from "../flags";
import { awsCall, progress, withClient } from "../../core/awsClient";
import { reported } from "../report";
import { validateApp, validateVersion } from "../validate";
import {
    DEFAULT_RDS_POLL,
    DEFAULT_RDS_TIMEOUT,
    defaultSnapshotId,
    parseTarget,
    parseWaitOptions,
    rdsClient,
    RdsTarget,
    SNAPSHOT_KIND,
    SnapshotRecord,
    snapshotTags,
    validateIdentifier,
} from "../aws/rdsSnapshots";
import { RdsRun, waitUntil } from "../aws/rdsWait";

const USAGE = `usage: safe-release-ops rds-snapshot (--instance <id> | --cluster <id>) --app <app> --version <vX.Y.Z>
                                     [--id <snapshot id>] [--timeout ${DEFAULT_RDS_TIMEOUT}] [--poll ${DEFAULT_RDS_POLL}]

Takes a manual snapshot: a DB snapshot of an RDS instance (--instance) or a cluster snapshot
of an Aurora cluster (--cluster), tagged with the app and version, and waits with the SDK's
waiter until it is available (each wait at most --timeout; --poll is its first delay).
The snapshot is named --id, by default <app>-<version with - for .>-<UTC stamp>; a release's
own pre-upgrade snapshot (<app>-<version>-pre-upgrade) is taken by the program and kept when
it leaves it. This one is for a restore drill (\`rds-restore --drill\`) or by hand.

AWS: the AWS SDK's default credential chain and region (AWS_REGION, AWS_PROFILE, …);
AWS_ENDPOINT_URL_RDS or AWS_ENDPOINT_URL points it at another AWS-compatible endpoint.
stdout: {"id":…,"kind":"rds-snapshot"|"aurora-snapshot","app":…,"version":…,"location":<ARN>,"time":…},
  as the \`backups\` stack output lists snapshots.
exit status: 0 available, 1 failed or not available in time (the snapshot is kept), 2 usage error.
`;

async function takeSnapshot(args: string[], io: OpsIO): Promise<number> {
    const flags = parseFlags(args, {
        instance: "value",
        cluster: "value",
        app: "value",
        version: "value",
        id: "value",
        timeout: "value",
        poll: "value",
    });
    const target = parseTarget(flags);
    const app = validateApp(requireValue(flags, "app", "the application the snapshot is of"));
    const version = validateVersion(requireValue(flags, "version", "the release version the snapshot is taken for, e.g. v1.5.0"));
    const given = flags.values.get("id");
    const id =
        given !== undefined ? validateIdentifier(given, "id", "an RDS snapshot identifier") : defaultSnapshotId(app, version, new Date());
    const wait = parseWaitOptions(flags);
    const log = progress("rds-snapshot", io.stderr, io.env);
    return withClient(rdsClient(io.env), async (rds) => {
        const run: RdsRun = { rds, env: io.env, log, ...wait };
        const record = await snapshotOf(run, target, { id, app, version });
        io.stdout.write(`${JSON.stringify(record)}\n`);
        return 0;
    });
}

/** Creates the snapshot, waits until it is available, then reads its ARN and time as RDS reports them. */
async function snapshotOf(run: RdsRun, target: RdsTarget, names: { id: string; app: string; version: string }): Promise<SnapshotRecord> {
    const { rds, env } = run;
    const { id, app, version } = names;
    const Tags = snapshotTags(app, version);
    if (target.kind === "instance") {
        run.log(`creating DB snapshot ${id} of instance ${target.id}`);
        await awsCall(`RDS CreateDBSnapshot \`${id}\` of \`${target.id}\``, env, () =>
            rds.send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: target.id, DBSnapshotIdentifier: id, Tags })),
        );
        await waitUntil(run, `DB snapshot ${id}`, "available", waitForDBSnapshotAvailable, { DBSnapshotIdentifier: id });
        const answer = await awsCall(`RDS DescribeDBSnapshots of \`${id}\``, env, () =>
            rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: id })),
        );
        const snapshot = answer.DBSnapshots?.[0];
        return record(SNAPSHOT_KIND.instance, names, snapshot?.DBSnapshotArn, snapshot?.SnapshotCreateTime);
    }
    run.log(`creating cluster snapshot ${id} of cluster ${target.id}`);
    await awsCall(`RDS CreateDBClusterSnapshot \`${id}\` of \`${target.id}\``, env, () =>
        rds.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: target.id, DBClusterSnapshotIdentifier: id, Tags })),
    );
    await waitUntil(run, `cluster snapshot ${id}`, "available", waitForDBClusterSnapshotAvailable, { DBClusterSnapshotIdentifier: id });
    const answer = await awsCall(`RDS DescribeDBClusterSnapshots of \`${id}\``, env, () =>
        rds.send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: id })),
    );
    const snapshot = answer.DBClusterSnapshots?.[0];
    return record(SNAPSHOT_KIND.cluster, names, snapshot?.DBClusterSnapshotArn, snapshot?.SnapshotCreateTime);
}

function record(
    kind: SnapshotRecord["kind"],
    names: { id: string; app: string; version: string },
    arn: string | undefined,
    time: Date | undefined,
): SnapshotRecord {
    if (arn === undefined || time === undefined) {
        throw new Error(`RDS described snapshot \`${names.id}\` without its ARN or creation time; the snapshot is kept`);
    }
    return { id: names.id, kind, app: names.app, version: names.version, location: arn, time: time.toISOString() };
}

export const command: OpsCommand = {
    name: "rds-snapshot",
    summary: "take a DB snapshot of an RDS instance or a cluster snapshot of an Aurora cluster and wait until it is available",
    usage: USAGE,
    run: (args, io) => reported("rds-snapshot", io, () => takeSnapshot(args, io)),
};
