import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { compareTags } from "../../core/releaseTags";
import { stepResource } from "../../core/runbook";
import { ReleaseConfig } from "../../settings/release";
import { LastRelease } from "../plan";
import { OneOffTask, VersionImages } from "../platform";
import { NO_RERUN, OPS, commandLine } from "./opsCommand";

/**
 * The version a rollback of this update returns to: the one it moves forward from, when a newer
 * version enters the live set. None for a first deploy, a restore, a traffic shift, a rollback,
 * or a roll forward to a version that already runs (both stay warm: the way back is a weight).
 */
export function rollbackTarget(config: ReleaseConfig, last: LastRelease): string | undefined {
    const from = last.version;
    if (from === undefined || config.data.restoreFrom !== undefined) return undefined;
    const wasLive = config.version === last.version || config.version === last.previous;
    return !wasLive && compareTags(config.version, from) > 0 ? from : undefined;
}

/** `artifacts-check` of the images pinned for `version`: the registry (or ECR) must still serve each digest. */
export function imagesCheck(version: string, images: VersionImages): OneOffTask | undefined {
    const refs = Object.values(images);
    if (refs.length === 0) return undefined;
    return {
        argv: pulumi
            .all(refs)
            .apply((resolved) => [...OPS, "artifacts-check", "--version", version, "--images", [...new Set(resolved)].sort().join(",")]),
        needs: [],
    };
}

/**
 * The runbooks' "ensure previous binaries/images are available for rollback", as a step:
 * before this update stops, migrates or starts anything, the version it moves forward
 * from must still be startable. A missing image or a changed release directory stops the
 * update with the version and the digest or path. Keyed by the new version: it runs once
 * per release, not on every later traffic shift.
 */
export class RollbackCheck extends pulumi.ComponentResource {
    public readonly run: command.local.Command;

    constructor(name: string, args: { readonly version: string; readonly check: OneOffTask }, opts: pulumi.ComponentResourceOptions = {}) {
        super(stepResource("check rollback").component, name, { version: args.version }, opts);
        const { argv, environment, needs } = args.check;
        this.run = new command.local.Command(
            `${name}${stepResource("check rollback").child}`,
            { create: commandLine(argv), update: NO_RERUN, ...(environment !== undefined ? { environment } : {}) },
            { parent: this, dependsOn: needs, ...(environment !== undefined ? { additionalSecretOutputs: ["environment"] } : {}) },
        );
        this.registerOutputs({ version: args.version });
    }
}
