import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { BackupStore } from "../../settings/data";
import { NO_RERUN, OPS, commandLine, dependsOnList } from "./opsCommand";
import { storeFlags } from "./preUpgradeBackup";
import { stepResource } from "../../core/runbook";
import { RemoteDataAccess } from "../platform";
import { StepRunner, stepCommand, stepDependsOn } from "./stepRunner";

export interface RestoreArgs {
    /** A backup id from the `backups` stack output / the backup log. */
    readonly backupId: string;
    /** Where the backup and its record are: the restore downloads an S3 artifact and checks its SHA-256 first. */
    readonly store: BackupStore;
    readonly databaseUrl?: pulumi.Output<string>;
    /** A remote host's directory backup goes back there over SSH (`host-restore`, which hands any other backup to `restore`). */
    readonly remoteData?: RemoteDataAccess;
    /**
     * An RDS or Aurora snapshot, restored by `rds-restore` beside the instance (cluster) it replaces, which
     * then takes that identifier and so its endpoint. The ledger is in the database and comes back with it.
     */
    readonly snapshot?: { readonly kind: "rds-snapshot" | "aurora-snapshot"; readonly target: string };
    /** Where the restore and its verification run (a snapshot restore calls AWS APIs, here). @default the machine running Pulumi */
    readonly runIn?: StepRunner;
}

/**
 * Undoes a bad migration: `safe-release-ops restore` restores the backup into a
 * scratch copy, verifies it against the facts recorded at backup time (ledger
 * rows, exact row counts of the critical tables) and only then swaps it in,
 * keeping the failed state beside it. Any difference fails the update and
 * leaves the live data untouched. Then the migration ledger agrees with the
 * restored data: runs that started after the backup are marked undone, so their
 * versions migrate again. Keyed by the backup id, so it runs once.
 */
export class Restore extends pulumi.ComponentResource {
    public readonly run: command.local.Command;

    constructor(name: string, args: RestoreArgs, opts: pulumi.ComponentResourceOptions = {}) {
        super(stepResource("restore").component, name, {}, opts);
        if (args.snapshot !== undefined) {
            this.run = snapshotRestore(`${name}${stepResource("restore").child}`, args.backupId, args.snapshot, this, opts);
            this.registerOutputs({ backupId: args.backupId });
            return;
        }
        const remote = args.remoteData;
        const restore = remote === undefined ? ["restore"] : ["host-restore", ...remote.hostFlags, "--agent", remote.agentDir];
        const where = storeFlags(args.store, "read");
        // The ledger's connection as the Migration component passes it: after a restore of a
        // directory (or of another database) the restore marks the runs it undid there.
        const environment = {
            ...(args.databaseUrl !== undefined ? { DATABASE_URL: args.databaseUrl, SAFE_RELEASE_LEDGER_URL: args.databaseUrl } : {}),
            ...remote?.environment,
        };
        const secret = Object.keys(environment).length > 0;
        this.run = new command.local.Command(
            `${name}${stepResource("restore").child}`,
            {
                create: stepCommand(args.runIn, [...OPS, ...restore, "--id", args.backupId, ...where], environment),
                update: NO_RERUN,
                ...(secret ? { environment } : {}),
            },
            {
                parent: this,
                dependsOn: stepDependsOn([...dependsOnList(opts.dependsOn), ...(remote?.needs ?? [])], args.runIn),
                ...(secret ? { additionalSecretOutputs: ["environment"] } : {}),
            },
        );
        this.registerOutputs({ backupId: args.backupId });
    }
}

/** AWS credentials are the runner's, as for every AWS step; nothing secret is passed. */
function snapshotRestore(
    name: string,
    backupId: string,
    snapshot: NonNullable<RestoreArgs["snapshot"]>,
    parent: pulumi.Resource,
    opts: pulumi.ComponentResourceOptions,
): command.local.Command {
    const target = snapshot.kind === "rds-snapshot" ? ["--instance", snapshot.target] : ["--cluster", snapshot.target];
    return new command.local.Command(
        name,
        { create: commandLine([...OPS, "rds-restore", "--snapshot", backupId, ...target]), update: NO_RERUN },
        { parent, dependsOn: opts.dependsOn },
    );
}
