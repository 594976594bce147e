import { BackupRecord, planPruning } from "../core/backupLog";
import type { ListedBackup } from "./data/preUpgradeBackup";
import { LastRelease, isLoggedKind, presentBackups } from "./plan";

/** The retention `prune` applies after this update (`release:backup.keep`, `.retentionDays`). */
export interface ListingRetention {
    readonly keep: number;
    readonly retentionDays: number;
}

/**
 * Snapshots the log does not hold (RDS keeps them, prune never touches them):
 * only the newest this many are carried forward.
 */
export const SNAPSHOTS_LISTED = 20;

/**
 * The `backups` output: the set `prune` leaves. The earlier records the backup log
 * no longer holds are dropped (pruned, by this program or by hand); when this
 * update took a backup, its prune step runs with the same rules (`planPruning`),
 * the same records (the log plus this update's) and this update's records
 * protected, so what it deletes is cut here too. Its clock is the time of this
 * update's newest backup, not the program's: the same state lists the same set.
 * Earlier records first, then this update's, each id once.
 */
export function listedBackups(last: LastRelease, fresh: ListedBackup[], retention: ListingRetention): ListedBackup[] {
    const freshIds = new Set(fresh.map((b) => b.id));
    const earlier = presentBackups(last)
        .map((b) => ({ ...b, kind: String(b.kind ?? "postgres") }))
        .filter((b) => !freshIds.has(b.id));
    const merged: ListedBackup[] = [...earlier, ...fresh.filter((b) => typeof b.id === "string")];
    const pruned = expiredByThisUpdate(last, fresh, retention);
    const kept = merged.filter((b) => !pruned.has(b.id));
    const snapshots = kept.filter((b) => !isLoggedKind(b));
    const droppedSnapshots = new Set(snapshots.slice(0, Math.max(0, snapshots.length - SNAPSHOTS_LISTED)));
    return kept.filter((b) => !droppedSnapshots.has(b));
}

/** The ids this update's prune step deletes; none when the update took no backup the log records. */
function expiredByThisUpdate(last: LastRelease, fresh: ListedBackup[], retention: ListingRetention): Set<string> {
    const freshLogged = fresh.filter(isLoggedKind) as unknown as BackupRecord[];
    const times = freshLogged.map((r) => Date.parse(r.time)).filter(Number.isFinite);
    if (times.length === 0) return new Set();
    const known = new Set(freshLogged.map((r) => r.id));
    const log = [...(last.backupLog?.records ?? []).filter((r) => !known.has(r.id)), ...freshLogged];
    const expired = planPruning(log, {
        keep: retention.keep,
        retentionDays: retention.retentionDays,
        now: new Date(Math.max(...times)),
        protectedIds: [...known],
    });
    // Prune keeps a bucket copy's line (it deletes no remote copy), so the listing keeps it too.
    return new Set(expired.filter((r) => r.kind !== "bucket").map((r) => r.id));
}
