import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import { BackupRecord, readLog } from "../core/backupLog";
import { compareTags, isReleaseTag } from "../core/releaseTags";
import { ConfigError } from "../settings/checks";
import { BackupStore } from "../settings/data";
import { LastRelease } from "./plan";

/**
 * Reads what the last successful update of this very stack exported, and what the
 * backup store holds. The schema head in particular must survive the retirement of
 * the version that migrated, and the stack's own outputs are where it is kept; the
 * store is the truth of which recorded backups still exist.
 */
export async function readLastRelease(app: string, store: BackupStore, env: NodeJS.ProcessEnv = storeEnv()): Promise<LastRelease> {
    const self = new pulumi.StackReference(`${app}-last-release`, {
        name: `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`,
    });
    const names = ["version", "previous", "weights", "schemaHead", "backups", "restoredFrom", "slots"];
    const [values, held] = await Promise.all([
        Promise.all(names.map(async (name) => (await self.getOutputDetails(name)).value)),
        storeRecords(store, env),
    ]);
    const last = lastReleaseFromOutputs(Object.fromEntries(names.map((name, i) => [name, values[i]])));
    if (held === undefined) return last;
    return { ...withLoggedBackups(last, app, held.records), backupLog: held };
}

/** Reads an S3 store's records: the core reader, or a stand-in that may answer `undefined` (not read here). */
export type StoreRecordsReader = (store: string, env: NodeJS.ProcessEnv) => Promise<readonly BackupRecord[] | undefined>;

let standIn: StoreRecordsReader | undefined;
let offline = false;

/** Puts a stand-in in place of the S3 read (a test's store); `undefined` removes it. */
export function useStoreRecordsReader(reader: StoreRecordsReader | undefined): void {
    standIn = reader;
}

/**
 * The mocked engine (the offline plan, the unit tests) is not the stack's machine and
 * has no access to its bucket: there an S3 store is not read and the recorded `backups`
 * outputs are taken as they are, as for a directory store whose log is not here.
 */
export function readStoresOffline(): void {
    offline = true;
}

/** The bound on reading an S3 store at preview: a store that does not answer fails the update instead of hanging it. */
export const STORE_READ_TIMEOUT_MS = 60_000;

/**
 * The store's records, or `undefined` where the store says nothing here. A directory
 * store's log that does not exist here (another machine's checkout) says nothing about
 * what was pruned. An S3 store that cannot be read stops the update: taken for empty,
 * it would say every recorded backup is gone, so `restoreFrom` would name the right
 * backup "pruned" and the `backups` output would drop every record for good.
 */
export async function storeRecords(
    store: BackupStore,
    env: NodeJS.ProcessEnv,
): Promise<{ readonly path: string; readonly records: readonly BackupRecord[] } | undefined> {
    if (store.kind === "directory") {
        if (!fs.existsSync(store.log)) return undefined;
        return { path: store.log, records: readLog(store.log) };
    }
    const reader = standIn ?? (offline ? undefined : coreStoreReader);
    if (reader === undefined) return undefined;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${STORE_READ_TIMEOUT_MS / 1000} s`)), STORE_READ_TIMEOUT_MS);
        timer.unref();
    });
    try {
        const records = await Promise.race([reader(store.location, env), timeout]);
        return records === undefined ? undefined : { path: store.location, records };
    } catch (err) {
        throw new ConfigError(
            `the backup store ${store.location} (\`release:backup.store\`) could not be read: ${(err as Error).message}. ` +
                "Without its records the update cannot tell which recorded backups still exist (`release:restoreFrom`, the `backups` output), " +
                "so it stops rather than take the store for empty: give this machine read access to the bucket " +
                "(AWS credentials in the environment, e.g. AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) and run again",
        );
    } finally {
        clearTimeout(timer);
    }
}

/** Loaded on first use: only an S3 store needs the S3 client, and loading it costs every other run time. */
const coreStoreReader: StoreRecordsReader = (store, env) =>
    (require("../core/storeRecords") as typeof import("../core/storeRecords")).readStoreRecords(store, env);

/** The environment the store is read with: the stack's `aws:region` where the environment names none. */
function storeEnv(): NodeJS.ProcessEnv {
    const region = new pulumi.Config("aws").get("region");
    const named = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
    return named === undefined && region !== undefined ? { ...process.env, AWS_REGION: region } : process.env;
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
