import { BackupRecord, planPruning } from "../../core/backupLog";
import { OpsCommand, OpsIO, UsageError } from "../command";
import { parseFlags } from "../flags";
import { reported } from "../report";
import { storeFromFlags } from "../store/backupStore";

const usage = `usage: safe-release-ops prune --store <dir | s3://bucket/prefix> [--keep N] [--retention-days D] [--protect id,id] [--as-of T] [--dry-run]
       (--log <backup log> in place of --store: a directory store's log)

Prunes old backups. Kept: the newest N verified backups of each app and kind (default 5),
every backup younger than D days (default 7), and every --protect id (pass the schema head's
backup so a restore stays possible). What pruning does depends on the kind:
  postgres, directory: the artifacts (dump and facts, archive; files, or objects of an S3 store)
    are deleted with their records;
  kms: the record is metadata only, so its log line is dropped;
  bucket: the remote copy is not deleted and its line stays in the log; it is listed with the
    \`aws s3 rm --recursive\` command that deletes it (expire such copies with an S3 lifecycle rule).
Records go before artifacts, so no record ever names a deleted backup: a directory store's log
is rewritten at once (temporary file + rename; a backup appending at that very moment can lose
its line, so prune runs between backups), an S3 store's record objects are deleted one by one. --as-of measures the age from the ISO-8601 time T instead of
now (an update passes its backup's time: the stack output \`backups\` lists the same set,
because the program applies these rules to the same records at the same instant).
--dry-run only reports. Prints the plan as JSON on stdout.
`;

/**
 * What pruning one record means. A bucket copy is kept on purpose: prune runs
 * unattended with the release's credentials, a recursive S3 delete cannot be undone,
 * and a backup prefix is best guarded against deletion by exactly those credentials
 * (bucket policy, Object Lock) and expired by a lifecycle rule. So prune never needs
 * delete rights on a remote copy: it keeps the copy findable in the log and names the
 * command for an operator who decides it may go.
 */
export type PruneAction =
    /** The log line goes, and these local files with it (none for a key record: it is metadata only). */
    { readonly action: "remove"; readonly files: string[] } | { readonly action: "keep-remote"; readonly command: string };

export function pruneAction(record: BackupRecord): PruneAction {
    switch (record.kind) {
        case "postgres":
            return { action: "remove", files: [record.location, record.factsLocation] };
        case "directory":
            return { action: "remove", files: [record.location] };
        case "kms":
            return { action: "remove", files: [] };
        case "bucket":
            return { action: "keep-remote", command: `aws s3 rm --recursive ${record.location}` };
    }
}

/** The stderr line for one expired record. */
export function pruneLine(record: BackupRecord, action: PruneAction, dryRun: boolean): string {
    if (action.action === "keep-remote") {
        return `kept ${record.id}: remote copy, delete with \`${action.command}\` when no longer needed`;
    }
    if (action.files.length === 0)
        return `${dryRun ? "would drop" : "dropped"} ${record.id}: key record, metadata only (no file to delete)`;
    return `${dryRun ? "would delete" : "deleted"} ${record.id}`;
}

function timeOption(value: string | undefined): Date {
    if (value === undefined) return new Date();
    const time = Date.parse(value);
    if (!/^\d{4}-\d\d-\d\dT/.test(value) || !Number.isFinite(time)) {
        throw new UsageError(`\`--as-of\` must be an ISO-8601 time such as 2026-11-22T10:15:00.000Z; got \`${value}\``);
    }
    return new Date(time);
}

function numberOption(value: string | undefined, name: string, fallback: number): number {
    if (value === undefined) return fallback;
    const parsed = Number(value);
    if (value.trim() === "" || !Number.isFinite(parsed)) {
        throw new UsageError(`\`--${name}\` must be a number; got \`${value}\``);
    }
    return parsed;
}

export const command: OpsCommand = {
    name: "prune",
    summary: "delete backups beyond the retention policy (newest N, younger than D days, protected ids kept)",
    usage,
    run: (args: string[], io: OpsIO): Promise<number> =>
        reported("prune", io, async () => {
            const flags = parseFlags(args, {
                store: "value",
                log: "value",
                keep: "value",
                "retention-days": "value",
                protect: "value",
                "as-of": "value",
                "dry-run": "switch",
            });
            const opened = storeFromFlags(flags, io.env);
            if (opened === undefined) throw new UsageError("`--store` is required: the backup store to prune (or `--log`, a backup log)");
            const store = opened.store;
            const log = store.log;
            const protectedIds = (flags.values.get("protect") ?? "")
                .split(",")
                .map((id) => id.trim())
                .filter(Boolean);
            try {
                const records = await store.records();
                const known = new Set(records.map((r) => r.id));
                const unknown = protectedIds.filter((id) => !known.has(id));
                if (unknown.length > 0) {
                    // A typo here would silently let the schema head's backup be deleted.
                    throw new UsageError(`\`--protect\` must name backups recorded in \`${log}\`; unknown: ${unknown.join(", ")}`);
                }
                const expired = planPruning(records, {
                    keep: numberOption(flags.values.get("keep"), "keep", 5),
                    retentionDays: numberOption(flags.values.get("retention-days"), "retention-days", 7),
                    now: timeOption(flags.values.get("as-of")),
                    protectedIds,
                });
                const dryRun = flags.switches.has("dry-run");
                const removed: Array<{ record: BackupRecord; files: string[] }> = [];
                const remote: Array<{ record: BackupRecord; command: string }> = [];
                const lines: string[] = [];
                for (const record of expired) {
                    const action = pruneAction(record);
                    if (action.action === "keep-remote") remote.push({ record, command: action.command });
                    else removed.push({ record, files: action.files });
                    lines.push(pruneLine(record, action, dryRun));
                }
                const gone = new Set(removed.map((r) => r.record));
                if (!dryRun && removed.length > 0)
                    await store.prune(
                        removed,
                        records.filter((r) => !gone.has(r)),
                    );
                // After the deletions: a line says "deleted" only once it is true.
                for (const line of lines) io.stderr.write(`${line}\n`);
                const result = {
                    dryRun,
                    deleted: removed.map(({ record, files }) => ({
                        id: record.id,
                        kind: record.kind,
                        location: record.location,
                        time: record.time,
                        files,
                    })),
                    remoteKept: remote.map(({ record, command }) => ({
                        id: record.id,
                        location: record.location,
                        time: record.time,
                        command,
                    })),
                    kept: records.filter((r) => !gone.has(r)).map((r) => r.id),
                };
                io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
                return 0;
            } finally {
                store.close();
            }
        }),
};
