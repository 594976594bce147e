import * as fs from "fs";
import * as path from "path";
import { Writable } from "stream";
import { UsageError } from "./args";

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

/** Fields every line of the backup log has, whatever was backed up. */
interface RecordCommon {
    readonly id: string;
    readonly app: string;
    readonly version: string;
    /** ISO-8601 UTC. */
    readonly time: string;
    /** Bytes of the backup (a bucket's: the source's total object bytes; a key's: its canonical JSON). */
    readonly size: number;
    readonly sha256: string;
    /** Where the backup is: a local file, an `s3://` prefix, or a KMS key ARN. */
    readonly location: string;
    readonly verified: boolean;
}

/** `pg_dump -Fc` archive plus the facts (ledgers, row counts) read in the dump's snapshot. */
export interface PostgresBackupRecord extends RecordCommon {
    readonly kind: "postgres";
    readonly factsLocation: string;
    /** The database that was dumped. */
    readonly database: string;
}

/** A tar archive of a data directory. */
export interface DirectoryBackupRecord extends RecordCommon {
    readonly kind: "directory";
    /** The directory that was archived, where restore puts it back. */
    readonly source: string;
    /** Regular files and their total bytes, checked again after extraction. */
    readonly files: number;
    readonly contentBytes: number;
    /** `quiesced` when writers were stopped, else `crash-consistent-at-best`. */
    readonly consistency: "quiesced" | "crash-consistent-at-best";
}

/** A copy of an S3 prefix under another prefix; `sha256` names the source listing. */
export interface BucketBackupRecord extends RecordCommon {
    readonly kind: "bucket";
    /** The `s3://` prefix that was copied. */
    readonly source: string;
    /** Objects copied. */
    readonly files: number;
}

/** A KMS key's metadata and policy: nothing is copied, `sha256` names the canonical JSON of `key`. */
export interface KmsBackupRecord extends RecordCommon {
    readonly kind: "kms";
    readonly key: KmsKeyFacts;
}

/**
 * One line of the operator's backup log (the runbook's `ops/backups.log`):
 * timestamp, version and checksum of every backup, and where it is.
 */
export type BackupRecord = PostgresBackupRecord | DirectoryBackupRecord | BucketBackupRecord | KmsBackupRecord;

export type BackupKind = BackupRecord["kind"];

export const BACKUP_KINDS: readonly BackupKind[] = ["postgres", "directory", "bucket", "kms"];

/**
 * `20261122T041059.123Z` (ISO 8601 basic format): sortable, free of characters that
 * need quoting in a file name, and fine enough that two backups never share an id.
 */
export function backupStamp(date: Date): string {
    return date.toISOString().replace(/[-:]/g, "");
}

/** `shop-v1.4.2-20261122T041059.123Z`: the record's id and its file's base name. */
export function backupId(app: string, version: string, date: Date): string {
    return `${app}-${version}-${backupStamp(date)}`;
}

/** The fields every kind's record starts with. */
export type RecordHead<K extends BackupKind> = Pick<Extract<BackupRecord, { kind: K }>, "id" | "kind" | "app" | "version" | "time">;

/** A new record's head, its fields in the order every log line shows them. */
export function recordHead<K extends BackupKind>(kind: K, app: string, version: string, date: Date): RecordHead<K> {
    return { id: backupId(app, version, date), kind, app, version, time: date.toISOString() } as RecordHead<K>;
}

/** Appends the record to the log, then prints it as the command's one JSON result. */
export function logAndPrint(log: string, record: BackupRecord, stdout: Writable): void {
    appendRecord(log, record);
    stdout.write(`${JSON.stringify(record, null, 2)}\n`);
}

/** Why `value` is not a backup record a log may hold, or undefined when it is one. */
function recordProblem(value: unknown): string | undefined {
    const record = value as Partial<BackupRecord> | null;
    if (typeof record !== "object" || record === null) return "must be one JSON backup record";
    if (typeof record.id !== "string" || typeof record.location !== "string" || typeof record.sha256 !== "string") {
        return "must be a backup record with `id`, `location` and `sha256`";
    }
    if (!BACKUP_KINDS.includes(record.kind as BackupKind)) {
        // An unknown kind would be pruned or restored as if it were a local file.
        const kind = (record as { kind?: unknown }).kind;
        return `\`kind\` must be one of ${BACKUP_KINDS.join(", ")}; got ${kind === undefined ? "nothing" : JSON.stringify(kind)}`;
    }
    return undefined;
}

/** Records in file order. A trailing line cut short by a crash is ignored; damage elsewhere is an error. */
export function parseLog(text: string, log: string): BackupRecord[] {
    const lines = text.split("\n");
    const records: BackupRecord[] = [];
    lines.forEach((line, index) => {
        if (line.trim() === "") return;
        const isLast = index === lines.length - 1;
        let record: BackupRecord;
        try {
            record = JSON.parse(line);
        } catch {
            if (isLast) return;
            throw new Error(`\`${log}\` line ${index + 1} must be one JSON backup record; it is not valid JSON`);
        }
        const problem = recordProblem(record);
        if (problem !== undefined) throw new Error(`\`${log}\` line ${index + 1} ${problem}`);
        records.push(record);
    });
    return records;
}

/** One record stored on its own (an S3 store's `records/<id>.json`): the whole text must be one valid record. */
export function parseRecordLine(text: string, where: string): BackupRecord {
    let record: BackupRecord;
    try {
        record = JSON.parse(text);
    } catch {
        throw new Error(`\`${where}\` must be one JSON backup record; it is not valid JSON`);
    }
    const problem = recordProblem(record);
    if (problem !== undefined) throw new Error(`\`${where}\` ${problem}`);
    return record;
}

export function readLog(log: string): BackupRecord[] {
    let text: string;
    try {
        text = fs.readFileSync(log, "utf8");
    } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
        throw err;
    }
    return parseLog(text, log);
}

export function findRecord(records: BackupRecord[], id: string, log: string): BackupRecord {
    const record = records.find((r) => r.id === id);
    if (!record) throw new UsageError(`\`--id\` must name a backup recorded in \`${log}\`; got \`${id}\``);
    return record;
}

/**
 * Appends one line, starting a new line first if a crash left the last one unterminated.
 * The log is opened O_APPEND and the line goes out in ONE write: the kernel places each such
 * write at the end of the file as it is then, so two backups appending at once each add their
 * whole line and neither overwrites the other's (a read-modify-write of the file would).
 */
export function appendRecord(log: string, record: BackupRecord): void {
    fs.mkdirSync(path.dirname(log), { recursive: true });
    const fd = fs.openSync(log, "a+");
    try {
        const size = fs.fstatSync(fd).size;
        let prefix = "";
        if (size > 0) {
            const last = Buffer.alloc(1);
            fs.readSync(fd, last, 0, 1, size - 1);
            if (last[0] !== 0x0a) prefix = "\n";
        }
        const line = Buffer.from(`${prefix}${JSON.stringify(record)}\n`);
        const written = fs.writeSync(fd, line);
        // A short write would leave half a line for the next writer to continue; say so rather than retry into it.
        if (written !== line.length) throw new Error(`wrote ${written} of the record's ${line.length} bytes`);
        fs.fsyncSync(fd);
    } finally {
        fs.closeSync(fd);
    }
}

/** Replaces the log's content all at once (temp file + rename): a reader sees the old log or the new, never half. */
export function writeLogAtomically(log: string, records: BackupRecord[]): void {
    const temp = `${log}.tmp-${process.pid}`;
    fs.writeFileSync(temp, records.map((r) => `${JSON.stringify(r)}\n`).join(""));
    const fd = fs.openSync(temp, "r");
    try {
        fs.fsyncSync(fd);
    } finally {
        fs.closeSync(fd);
    }
    fs.renameSync(temp, log);
}

export interface PruningPolicy {
    /** Newest verified backups kept per app and kind. @default 5 */
    readonly keep?: number;
    /** Anything younger than this many days is kept. @default 7 */
    readonly retentionDays?: number;
    readonly now: Date;
    /** Never deleted, whatever their age (the schema head's backup). */
    readonly protectedIds?: string[];
}

/**
 * The records to delete. Kept: the newest `keep` verified backups of each app and
 * kind (an unverified one cannot stand in for a good backup), anything younger than
 * `retentionDays`, and every protected id. Pure, so the rules are tested without files.
 */
export function planPruning(records: BackupRecord[], policy: PruningPolicy): BackupRecord[] {
    const keep = policy.keep ?? 5;
    const retentionDays = policy.retentionDays ?? 7;
    if (!Number.isInteger(keep) || keep < 1) throw new UsageError(`\`--keep\` must be an integer of at least 1; got ${keep}`);
    if (!Number.isFinite(retentionDays) || retentionDays < 0) {
        throw new UsageError(`\`--retention-days\` must be a number of at least 0; got ${retentionDays}`);
    }
    const protectedIds = new Set(policy.protectedIds ?? []);
    const cutoff = policy.now.getTime() - retentionDays * 24 * 60 * 60 * 1000;
    const newestFirst = [...records].sort((a, b) => Date.parse(b.time) - Date.parse(a.time) || b.id.localeCompare(a.id));
    const keptPerGroup = new Map<string, number>();
    const kept = new Set<BackupRecord>();
    for (const record of newestFirst) {
        const group = `${record.kind}\u0000${record.app}`;
        const count = keptPerGroup.get(group) ?? 0;
        if (record.verified && count < keep) {
            keptPerGroup.set(group, count + 1);
            kept.add(record);
        }
    }
    // `<=` keeps a record whose time does not parse (NaN): an unreadable date is no reason to delete.
    return records.filter((r) => !kept.has(r) && !protectedIds.has(r.id) && Date.parse(r.time) <= cutoff);
}
