import { OpsCommand, OpsIO } from "../command";
import { parseFlags, requireValue } from "../flags";
import { progress, withClient } from "../../core/awsClient";
import { reported } from "../report";
import {
    DEFAULT_RDS_POLL,
    DEFAULT_RDS_TIMEOUT,
    parseTarget,
    parseWaitOptions,
    rdsClient,
    rdsStamp,
    restoreNames,
    validateSnapshotId,
} from "../aws/rdsSnapshots";
import { RdsRun } from "../aws/rdsWait";
import { RestoreFailure, RestoreRefusal, RestoreRequest, restoreSnapshot } from "../aws/rdsRestore";
import { instanceRestorer } from "../aws/rdsInstances";
import { clusterRestorer } from "../aws/rdsClusters";

const USAGE = `usage: safe-release-ops rds-restore --snapshot <snapshot id> (--instance <id> | --cluster <id>)
                                    [--into <id>] [--drill] [--timeout ${DEFAULT_RDS_TIMEOUT}] [--poll ${DEFAULT_RDS_POLL}]

Restores an RDS DB snapshot (--instance) or an Aurora cluster snapshot (--cluster) the way
AWS documents for keeping the endpoint, never touching the live database first:

1. restore the snapshot into a new <id>-restore-<stamp> with the live one's instance class,
   DB subnet group and VPC security groups (Aurora: the cluster, then one instance of the
   live writer's class in it, <id>-restore-<stamp>-1), tagged safe-release:restored-from;
2. wait until it is available;
3. rename the live <id> to <id>-pre-restore-<stamp> (kept, never deleted) and wait;
4. rename the restored one to <id> and wait: the endpoint is made of the identifier, so the
   app's connection string stays the same.

Each wait uses the SDK's waiter, at most --timeout (--poll is its first delay).
The snapshot must be \`available\` and of <id>: one of another instance (cluster) is refused
unless --into <id> says it is meant to replace <id> (a drill replaces nothing and needs no
--into). A failure before step 3 leaves the live one untouched and keeps the restored copy
for inspection; a failed rename renames the live one back. Every failure says what exists
and how to remove or rename it.

--drill: steps 1 and 2, report, then delete the restored copy (no final snapshot); the live
  one is untouched (the runbook's "restore backups to staging").

AWS: the AWS SDK's default credential chain and region (AWS_REGION, AWS_PROFILE, …);
AWS_ENDPOINT_URL_RDS or AWS_ENDPOINT_URL points it at another AWS-compatible endpoint.
stdout: {"ok":true,"snapshot":…,"kind":"rds-snapshot"|"aurora-snapshot","drill":…,"live":…,"restored":…,
  "created":[…],"endpointBefore":…,"preRestore":…,"endpoint":…,"deleted":[…],"totalMs":…};
  after a failure {"ok":false,"snapshot":…,"live":…,"error":…,"exists":[…],"totalMs":…}.
exit status: 0 restored (or drilled), 1 refused (nothing changed; no stdout) or failed, 2 usage error.
`;

function parseRestoreArgs(args: string[]) {
    const flags = parseFlags(args, {
        snapshot: "value",
        instance: "value",
        cluster: "value",
        into: "value",
        drill: "switch",
        timeout: "value",
        poll: "value",
    });
    const snapshot = validateSnapshotId(
        requireValue(flags, "snapshot", "the id of the snapshot to restore (the `backups` stack output lists them)"),
        "snapshot",
    );
    const target = parseTarget(flags);
    // Before any AWS call: a live identifier too long to keep beside its copy is refused up front.
    restoreNames(target.id, rdsStamp(new Date()));
    const into = flags.values.get("into");
    const request: RestoreRequest = {
        snapshot,
        live: target.id,
        drill: flags.switches.has("drill"),
        ...(into !== undefined ? { into } : {}),
    };
    return { target, request, wait: parseWaitOptions(flags) };
}

async function runRestore(args: string[], io: OpsIO): Promise<number> {
    const { target, request, wait } = parseRestoreArgs(args);
    const log = progress("rds-restore", io.stderr, io.env);
    const started = Date.now();
    return withClient(rdsClient(io.env), async (rds) => {
        const run: RdsRun = { rds, env: io.env, log, ...wait };
        const restorer = target.kind === "instance" ? instanceRestorer(run) : clusterRestorer(run);
        try {
            // The restorers differ in their live facts only; the procedure never looks inside them.
            const outcome = await restoreSnapshot(restorer as Parameters<typeof restoreSnapshot>[0], request, run, new Date());
            io.stdout.write(`${JSON.stringify({ ok: true, ...outcome, totalMs: Date.now() - started })}\n`);
            log(
                request.drill
                    ? `drill: ${outcome.snapshot} restored into ${outcome.restored} and deleted; ${outcome.live} untouched`
                    : `${outcome.live} is now the restore of ${outcome.snapshot}; the previous one is kept as ${outcome.preRestore}`,
            );
            return 0;
        } catch (err) {
            if (err instanceof RestoreRefusal) {
                log(err.message);
                return 1;
            }
            if (!(err instanceof RestoreFailure)) throw err;
            const failure = { ok: false, snapshot: request.snapshot, live: request.live, error: err.message, exists: err.exists };
            io.stdout.write(`${JSON.stringify({ ...failure, totalMs: Date.now() - started })}\n`);
            log(err.message);
            return 1;
        }
    });
}

export const command: OpsCommand = {
    name: "rds-restore",
    summary: "restore an RDS or Aurora snapshot beside the live database, then swap it in under the live identifier (or --drill)",
    usage: USAGE,
    run: (args, io) => reported("rds-restore", io, () => runRestore(args, io)),
};
