import { awsSdk } from "../awsSdk";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { BackupStore, DatabaseSettings } from "../../settings/data";
import { NO_RERUN, OPS } from "./opsCommand";
import { storeFlags } from "./preUpgradeBackup";
import { PREFLIGHT_COMPONENT } from "../../core/runbook";
import { StepRunner, stepCommand, stepDependsOn } from "./stepRunner";

export interface PreflightArgs {
    readonly app: string;
    /** The version about to migrate. */
    readonly version: string;
    readonly database?: DatabaseSettings;
    readonly databaseUrl?: pulumi.Output<string>;
    /** Destructive pending SQL is accepted for this version. */
    readonly allowDestructive: boolean;
    /** A KMS key that must be usable before anything changes. */
    readonly kmsKeyId?: string;
    /** The store the backup writes to: it must take a write before any writer stops. */
    readonly store?: BackupStore;
    /** Where the ledger checks and the store check run. @default the machine running Pulumi */
    readonly runIn?: StepRunner;
}

/** KMS states in which the data it protects could become unreadable: refuse to upgrade on top of them. */
const UNUSABLE_KEY_STATES = ["PendingDeletion", "PendingReplicaDeletion", "Disabled"];

export function checkKeyState(keyId: string, state: string): string {
    if (UNUSABLE_KEY_STATES.includes(state)) {
        throw new Error(
            `KMS key ${keyId} is ${state}: the data it encrypts would not survive it; ` +
                `${state === "Disabled" ? "enable the key" : "cancel the key deletion"} before upgrading (\`release:backup.kmsKeyId\`)`,
        );
    }
    return state;
}

/**
 * Checks that fail the update before anything changes: the migration ledgers
 * (no failed or in-flight migration, applied files unchanged), destructive
 * pending SQL without `release:migrate.allowDestructive`, a usable KMS key
 * (read at preview, so `pulumi preview` already refuses), and a backup store that
 * takes a write (`store-check` puts, reads back and deletes a probe object): a
 * store that refuses the backup must fail the update while the writers still run,
 * not leave them stopped behind a backup that cannot be written.
 */
export class Preflight extends pulumi.ComponentResource {
    /** What later steps wait for. */
    public readonly checks: pulumi.Resource[] = [];

    constructor(name: string, args: PreflightArgs, opts: pulumi.ComponentResourceOptions = {}) {
        super(PREFLIGHT_COMPONENT, name, {}, opts);
        const kmsKeyState =
            args.kmsKeyId === undefined
                ? undefined
                : awsSdk()
                      .kms.getKeyOutput({ keyId: args.kmsKeyId }, { parent: this })
                      .keyState.apply((state) => checkKeyState(args.kmsKeyId!, state));
        if (args.databaseUrl !== undefined) {
            const argv = [
                ...OPS,
                "preflight",
                "--app",
                args.app,
                "--version",
                args.version,
                "--ledger",
                args.database?.ledger ?? "auto",
                ...(args.database?.migrationsDir !== undefined ? ["--migrations-dir", args.database.migrationsDir] : []),
                ...(args.allowDestructive ? ["--allow-destructive"] : []),
                // The runbook's "confirm free disk space for temp artifacts": the dump lands in the
                // project's backup directory, so the project's volume must have room for it.
                "--data-dir",
                ".",
            ];
            const environment = { DATABASE_URL: args.databaseUrl };
            this.checks.push(
                new command.local.Command(
                    `${name}-checks`,
                    {
                        create: stepCommand(args.runIn, argv, environment),
                        update: NO_RERUN,
                        environment,
                        // The key state is an input so a refused key stops this step too.
                        ...(kmsKeyState !== undefined ? { triggers: [kmsKeyState] } : {}),
                    },
                    { parent: this, dependsOn: stepDependsOn(opts.dependsOn, args.runIn), additionalSecretOutputs: ["environment"] },
                ),
            );
        }
        if (args.store !== undefined) {
            this.checks.push(
                new command.local.Command(
                    `${name}-store-check`,
                    { create: stepCommand(args.runIn, [...OPS, "store-check", ...storeFlags(args.store, "write")]), update: NO_RERUN },
                    { parent: this, dependsOn: stepDependsOn(opts.dependsOn, args.runIn) },
                ),
            );
        }
        this.registerOutputs({ version: args.version, ...(kmsKeyState !== undefined ? { kmsKeyState } : {}) });
    }
}
