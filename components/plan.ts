import { ReleaseConfig } from "../settings/release";
import { compareTags, newestTag } from "../core/releaseTags";
import { ConfigError } from "../settings/checks";
import { BACKUP_KINDS, BackupRecord } from "../core/backupLog";

/**
 * The release planner: from the config and what the last update left behind, it
 * derives what this update means. Pure, so every transition of the release model
 * is tested without an engine.
 */

/** What the previous successful update exported (its stack outputs); all absent before the first deploy. */
export interface LastRelease {
    readonly version?: string;
    readonly previous?: string;
    readonly weights?: Record<string, number>;
    readonly schemaHead?: string;
    /** Backups recorded by earlier updates (id, and the schema head each one restores). */
    readonly backups?: RecordedBackup[];
    /** The backup the last update restored, if it restored one. */
    readonly restoredFrom?: string;
    /** Version → the slot (port) it runs in (`host`): read from here where the host is remote. */
    readonly slots?: Record<string, number>;
    /**
     * The backup log as the program read it, when it exists here (`path`: the log file of a
     * directory store, or the `s3://` store). It is the truth of what can be restored: `prune`
     * removes a record with its files, so a recorded backup the log no longer holds is gone.
     * Absent: the outputs are taken as they are.
     */
    readonly backupLog?: { readonly path: string; readonly records: readonly BackupRecord[] };
}

/** The recorded backups that still exist: the log holds every kind it keeps (snapshots live in RDS, not in it). */
export function presentBackups(last: LastRelease): RecordedBackup[] {
    const log = last.backupLog;
    if (log === undefined) return [...(last.backups ?? [])];
    const logged = new Set(log.records.map((r) => r.id));
    return (last.backups ?? []).filter((b) => !isLoggedKind(b) || logged.has(b.id));
}

/** Kinds the backup log records (a record without a kind is a pg_dump, as older outputs wrote them). */
export function isLoggedKind(backup: RecordedBackup): boolean {
    return (BACKUP_KINDS as readonly string[]).includes(String(backup.kind ?? "postgres"));
}

/** The newest backup `restoreFrom` could name, as a message shows it. */
function newestRestorable(backups: readonly RecordedBackup[]): string {
    const restorable = backups.filter((b) => RESTORABLE_KINDS.includes(String(b.kind ?? "postgres")));
    // Newest last, as the output lists them; a time, where recorded, decides.
    const newest = [...restorable].sort((a, b) => String(a.time ?? "").localeCompare(String(b.time ?? ""))).pop();
    if (newest === undefined) return "no backup this stack recorded can be restored (see the `backups` stack output)";
    const facts = [newest.kind ?? "postgres", newest.version, newest.time].filter((f) => typeof f === "string");
    return `the newest restorable backup is ${newest.id} (${facts.join(", ")})`;
}

export interface RecordedBackup {
    /** The rest of the backup log record (kind, time, checksum, location…), carried along for the `backups` output. */
    readonly [field: string]: unknown;
    readonly id: string;
    /** Schema head of the data in the backup; absent for a backup taken before the first migration. */
    readonly schemaHead?: string;
}

export type Transition = "first-deploy" | "release" | "traffic-shift" | "rollback" | "roll-forward" | "retire" | "restore" | "unchanged";

export interface LiveVersion {
    readonly version: string;
    /** Percent of traffic. */
    readonly weight: number;
    /** `current` takes `release:version`'s share; `previous` is the warm last known good. */
    readonly slot: "current" | "previous";
}

export interface ReleasePlan {
    /** The versions that run, current first. */
    readonly live: LiveVersion[];
    readonly weights: Record<string, number>;
    readonly transition: Transition;
    /** Newest version whose migration has run, before and after this update. */
    readonly schemaHead: { readonly before?: string; readonly after: string };
    /** True when a version newer than the schema head enters the live set: back up, then migrate once. */
    readonly migrates: boolean;
    /** One line for people: what this update does. */
    readonly summary: string;
    /** The kind of the backup a restore puts back (`postgres`, `directory`, `rds-snapshot`, `aurora-snapshot`). */
    readonly restoreKind?: string;
}

type PlanInput = Pick<ReleaseConfig, "version" | "previous" | "canaryWeight" | "acceptSchemaHead"> & { readonly restoreFrom?: string };

export function planRelease(config: PlanInput, last: LastRelease = {}): ReleasePlan {
    const live: LiveVersion[] = [
        { version: config.version, weight: config.previous === undefined ? 100 : config.canaryWeight, slot: "current" },
    ];
    if (config.previous !== undefined) live.push({ version: config.previous, weight: 100 - config.canaryWeight, slot: "previous" });
    const weights = Object.fromEntries(live.map((l) => [l.version, l.weight]));

    const newestLive = newestTag(live.map((l) => l.version))!;
    const before = last.schemaHead;
    if (config.restoreFrom !== undefined) return planRestore(config, last, live, weights, newestLive);
    const migrates = before === undefined || compareTags(newestLive, before) > 0;
    const after = migrates ? newestLive : before!;
    if (!migrates && compareTags(newestLive, after) < 0 && config.acceptSchemaHead !== after) {
        throw schemaHeadRefusal(config.version, after);
    }
    refuseTrafficJumps(config, last);
    const transition = classify(config, last, weights, migrates);
    return {
        live,
        weights,
        transition,
        schemaHead: { ...(before !== undefined ? { before } : {}), after },
        migrates,
        summary: summarize(transition, live, after, migrates),
    };
}

/**
 * Two config changes that would move traffic further than they say: a new
 * release entering with weight (it takes traffic only after it is healthy and its
 * smoke tests have passed, in a later update), and retiring `previous` while the
 * current version does not yet have all the traffic.
 */
/**
 * A restore puts the schema back to what the backup holds, so no live version
 * may be newer than that; the restore itself runs once, in the update that first
 * names the backup.
 */
function planRestore(
    config: PlanInput,
    last: LastRelease,
    live: LiveVersion[],
    weights: Record<string, number>,
    newestLive: string,
): ReleasePlan {
    const id = config.restoreFrom!;
    const present = presentBackups(last);
    const backup = present.find((b) => b.id === id);
    if (backup === undefined && last.backups?.some((b) => b.id === id) && last.backupLog !== undefined) {
        throw new ConfigError(
            `\`release:restoreFrom\` names ${id}, which ${holder(last.backupLog.path)} no longer holds: ` +
                `it was pruned (\`safe-release-ops prune\`) or removed by hand, and its files with it; ${newestRestorable(present)}`,
        );
    }
    if (backup === undefined) {
        const known = present.map((b) => b.id);
        throw new ConfigError(
            `\`release:restoreFrom\` names ${id}, which this stack has not recorded; ${newestRestorable(present)}` +
                (known.length > 0 ? `; recorded backups: ${known.join(", ")}` : ""),
        );
    }
    if (!RESTORABLE_KINDS.includes(String(backup.kind ?? "postgres"))) {
        throw new ConfigError(
            `\`release:restoreFrom\` names ${id}, a ${String(backup.kind)} backup, which this program does not restore: ` +
                "name the pg_dump, directory or snapshot backup taken with it (the `backups` stack output lists them)",
        );
    }
    const head = backup.schemaHead ?? newestLive;
    if (compareTags(newestLive, head) > 0) {
        throw new ConfigError(
            `backup ${id} holds the schema of ${head}, but ${newestLive} would run on it; ` +
                `set \`release:version\` to ${head} or older and remove any newer \`release:previous\``,
        );
    }
    const transition: Transition = last.restoredFrom === id ? "unchanged" : "restore";
    const schemaHead = { ...(last.schemaHead !== undefined ? { before: last.schemaHead } : {}), after: head };
    const summary = `${transition}: restore backup ${id} (schema head ${head}); traffic ${live.map((l) => `${l.version} ${l.weight}%`).join(", ")}`;
    return { live, weights, transition, schemaHead, migrates: false, summary, restoreKind: String(backup.kind ?? "postgres") };
}

/** The backup log file of a directory store, or an S3 store (its records are objects in it). */
function holder(path: string): string {
    return path.startsWith("s3://") ? `the backup store \`${path}\`` : `the backup log \`${path}\``;
}

/**
 * Kinds an update restores: `safe-release-ops restore` puts back dumps and archives, `rds-restore`
 * snapshots; a bucket copy and a key record are restored by hand (they hold no schema).
 */
const RESTORABLE_KINDS = ["postgres", "directory", "rds-snapshot", "aurora-snapshot"];

function refuseTrafficJumps(config: PlanInput, last: LastRelease): void {
    if (last.version === undefined) return;
    const lastLive = [last.version, ...(last.previous !== undefined ? [last.previous] : [])];
    const isNewRelease = !lastLive.includes(config.version) && compareTags(config.version, newestTag(lastLive)!) > 0;
    if (isNewRelease && config.previous !== undefined && config.canaryWeight > 0) {
        throw new ConfigError(
            `\`release:canaryWeight\` must be 0 while ${config.version} enters the live set (got ${config.canaryWeight}): ` +
                "a new version takes traffic only after its services are healthy and its smoke tests pass; raise the weight in the next update",
        );
    }
    const lastWeight = last.weights?.[config.version];
    if (
        config.version === last.version &&
        last.previous !== undefined &&
        config.previous === undefined &&
        lastWeight !== undefined &&
        lastWeight < 100
    ) {
        throw new ConfigError(
            `removing \`release:previous\` would move ${config.version} from ${lastWeight}% to 100% of traffic at once; ` +
                `shift traffic first with \`release:canaryWeight: 100\`, then remove \`release:previous\``,
        );
    }
}

function classify(config: PlanInput, last: LastRelease, weights: Record<string, number>, migrates: boolean): Transition {
    if (last.version === undefined) return "first-deploy";
    if (migrates) return "release";
    const sameVersions = config.version === last.version && config.previous === last.previous;
    if (sameVersions) return sameWeights(weights, last.weights) ? "unchanged" : "traffic-shift";
    if (config.version === last.version && config.previous === undefined) return "retire";
    const older = compareTags(config.version, last.version) < 0;
    if (config.version === last.previous && config.previous === last.version) return older ? "rollback" : "roll-forward";
    if (older) return "rollback";
    return "release";
}

function sameWeights(a: Record<string, number>, b: Record<string, number> | undefined): boolean {
    if (b === undefined) return false;
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

function summarize(transition: Transition, live: LiveVersion[], head: string, migrates: boolean): string {
    const traffic = live.map((l) => `${l.version} ${l.weight}%`).join(", ");
    const data = migrates ? `schema head moves to ${head} (the data steps run)` : `schema head stays ${head}`;
    return `${transition}: ${data}; traffic ${traffic}`;
}

function schemaHeadRefusal(version: string, head: string): ConfigError {
    return new ConfigError(
        `\`release:version\` ${version} is older than the database schema head ${head}, and no live version serves that schema. ` +
            `Keep ${head} warm as \`release:previous\` (a rollback then only shifts traffic), ` +
            `restore the pre-upgrade backup with \`release:restoreFrom\`, ` +
            `or, if ${head}'s migrations were additive and ${version} runs on them, set \`release:acceptSchemaHead: ${head}\``,
    );
}
