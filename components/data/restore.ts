import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { NO_RERUN, OPS, commandLine } from "./opsCommand";
import { stepResource } from "../../core/runbook";

export interface RestoreArgs {
    /** A backup id from the `backups` stack output / the backup log. */
    readonly backupId: string;
    readonly log: string;
    readonly databaseUrl?: pulumi.Output<string>;
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
        this.run = new command.local.Command(
            `${name}${stepResource("restore").child}`,
            {
                create: commandLine([...OPS, "restore", "--id", args.backupId, "--log", args.log]),
                update: NO_RERUN,
                // The ledger's connection as the Migration component passes it: after a restore of a
                // directory (or of another database) the restore marks the runs it undid there.
                ...(args.databaseUrl !== undefined
                    ? { environment: { DATABASE_URL: args.databaseUrl, SAFE_RELEASE_LEDGER_URL: args.databaseUrl } }
                    : {}),
            },
            {
                parent: this,
                dependsOn: opts.dependsOn,
                ...(args.databaseUrl !== undefined ? { additionalSecretOutputs: ["environment"] } : {}),
            },
        );
        this.registerOutputs({ backupId: args.backupId });
    }
}
