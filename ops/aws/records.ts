import { createHash } from "crypto";
import * as path from "path";
import { appendRecord, BackupRecord } from "../backupLog";

/** The runbook's operator log file, relative to where the program runs. */
export const DEFAULT_BACKUP_LOG = path.join("ops", "backups.log");

/** What a KMS key looked like when it was recorded. */
export interface KmsKeyFacts {
    readonly keyId: string;
    readonly arn: string;
    readonly state: string;
    readonly keyManager: string;
    readonly creationDate: string;
    /** The `default` key policy, as the text KMS returned. */
    readonly policy: string;
}

/**
 * A backup-log line for the AWS-side backups. It has every field of `BackupRecord` (so
 * pruning and listing treat it like any other) with kinds that log's type does not name.
 */
export type AwsBackupRecord = Omit<BackupRecord, "kind"> & (
    | { readonly kind: "bucket"; readonly source: string; readonly files: number }
    | { readonly kind: "kms"; readonly key: KmsKeyFacts }
);

/** Appends through the backup log's own writer, so both kinds of line share one format and one crash rule. */
export function appendAwsRecord(log: string, record: AwsBackupRecord): void {
    appendRecord(log, record as unknown as BackupRecord);
}

/** JSON with object keys sorted at every level and no whitespace: equal content, equal text. */
export function canonicalJson(value: unknown): string {
    if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
    if (typeof value === "object" && value !== null) {
        const entries = Object.entries(value as Record<string, unknown>)
            .filter(([, item]) => item !== undefined)
            .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(",")}}`;
    }
    return JSON.stringify(value);
}

export function sha256Hex(text: string): string {
    return createHash("sha256").update(text).digest("hex");
}
