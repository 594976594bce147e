import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import { readLog } from "../core/backupLog";
import { compareTags, isReleaseTag } from "../core/releaseTags";
import { LastRelease } from "./plan";

/**
 * Reads what the last successful update of this very stack exported. The
 * schema head in particular must survive the retirement of the version that
 * migrated, and the stack's own outputs are where it is kept.
 */
export async function readLastRelease(app: string, backupLog?: string): Promise<LastRelease> {
    const self = new pulumi.StackReference(`${app}-last-release`, {
        name: `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`,
    });
    const names = ["version", "previous", "weights", "schemaHead", "backups", "restoredFrom", "slots"];
    const values = await Promise.all(names.map(async (name) => (await self.getOutputDetails(name)).value));
    const last = lastReleaseFromOutputs(Object.fromEntries(names.map((name, i) => [name, values[i]])));
    // A log that does not exist here (another machine's checkout, a fresh runner) says nothing about what was pruned.
    if (backupLog === undefined || !fs.existsSync(backupLog)) return last;
    const records = readLog(backupLog);
    return { ...withLoggedBackups(last, app, records), backupLog: { path: backupLog, records } };
}

/**
 * Adds the backups the log holds but the stack outputs never recorded. A failed
 * update — its migration failed — records no outputs, yet its pre-upgrade
 * backup is exactly the one to restore: it was taken before migrating to a
 * version newer than the recorded schema head, so it holds that head's schema.
 */
export function withLoggedBackups(
    last: LastRelease,
    app: string,
    logged: ReadonlyArray<{ id: string; app: string; version: string }>,
): LastRelease {
    const head = last.schemaHead;
    if (head === undefined) return last;
    const known = new Set((last.backups ?? []).map((b) => b.id));
    const unrecorded = logged
        .filter((r) => r.app === app && !known.has(r.id) && isReleaseTag(r.version) && compareTags(r.version, head) > 0)
        .map((r) => ({ ...r, schemaHead: head }));
    return unrecorded.length === 0 ? last : { ...last, backups: [...(last.backups ?? []), ...unrecorded] };
}

/** Checks the recorded outputs: a hand-edited or foreign state must stop the update, not steer it. */
export function lastReleaseFromOutputs(outputs: Record<string, unknown>): LastRelease {
    const tag = (name: string): string | undefined => {
        const value = outputs[name];
        if (value === undefined || value === null) return undefined;
        if (typeof value !== "string" || !isReleaseTag(value)) {
            throw new Error(
                `the last update's stack output \`${name}\` is ${JSON.stringify(value)}, not a release tag; check \`pulumi stack output\``,
            );
        }
        return value;
    };
    const weights = outputs.weights;
    const validWeights = typeof weights === "object" && weights !== null && Object.values(weights).every((w) => typeof w === "number");
    const backups = Array.isArray(outputs.backups)
        ? outputs.backups
              .filter((b): b is Record<string, unknown> => typeof b === "object" && b !== null && typeof b.id === "string")
              .map(({ schemaHead, ...record }) => ({
                  ...record,
                  id: record.id as string,
                  ...(typeof schemaHead === "string" && isReleaseTag(schemaHead) ? { schemaHead } : {}),
              }))
        : [];
    const slots = recordedSlots(outputs.slots);
    return {
        ...(slots !== undefined ? { slots } : {}),
        ...(backups.length > 0 ? { backups } : {}),
        ...(typeof outputs.restoredFrom === "string" ? { restoredFrom: outputs.restoredFrom } : {}),
        ...(tag("version") !== undefined ? { version: tag("version") } : {}),
        ...(tag("previous") !== undefined ? { previous: tag("previous") } : {}),
        ...(validWeights ? { weights: weights as Record<string, number> } : {}),
        ...(tag("schemaHead") !== undefined ? { schemaHead: tag("schemaHead") } : {}),
    };
}

/**
 * The `slots` output (`host`): version → 0 or 1. Like a tag, a hand-edited
 * value stops the update: two versions in one slot would share a port.
 */
function recordedSlots(value: unknown): Record<string, number> | undefined {
    if (value === undefined || value === null) return undefined;
    const entries = typeof value === "object" && !Array.isArray(value) ? Object.entries(value) : [];
    const valid =
        entries.length > 0 &&
        entries.every(([version, slot]) => isReleaseTag(version) && (slot === 0 || slot === 1)) &&
        new Set(entries.map(([, slot]) => slot)).size === entries.length;
    if (!valid) {
        throw new Error(
            `the last update's stack output \`slots\` is ${JSON.stringify(value)}, not release tags each in its own slot 0 or 1; check \`pulumi stack output slots\``,
        );
    }
    return Object.fromEntries(entries) as Record<string, number>;
}
