import * as path from "path";
import { Readable, Writable } from "stream";
import { BackupRecord } from "../../core/backupLog";
import { parseStore, StoreLocation } from "../../core/storeRecords";
import { UsageError } from "../command";
import { ParsedFlags } from "../flags";
import { ArtifactSink } from "./artifact";
import { directoryStore } from "./directoryStore";
import { s3Store } from "./s3Store";

/** An artifact brought to this machine: a local file and the SHA-256 of its bytes, taken as they were read. */
export interface FetchedArtifact {
    readonly file: string;
    readonly sha256: string;
    readonly bytes: number;
    /** Removes a downloaded copy (a directory store's own file is left alone). */
    cleanup(): void;
}

/**
 * Where backups go and their records are kept: a directory on this machine, or an S3
 * prefix that outlives it (a CI runner's disk vanishes with the job). Every command that
 * writes or reads backups goes through one, so none cares which it is.
 */
export interface BackupStore {
    readonly location: StoreLocation;
    /** How messages name the store: its directory, or `s3://bucket/prefix/`. */
    readonly url: string;
    /** How messages name its log: the log file, or the records prefix. */
    readonly log: string;
    /** Where an artifact named `name` is once stored, as records name it. */
    artifactLocation(name: string): string;
    /**
     * Before a backup writes anything (it runs inside the write pause): fails, naming the
     * store and the cause, when the store would refuse the backup, then removes what killed
     * backups left (partial files, unfinished multipart uploads of processes that are gone).
     */
    prepare(program: string, stderr: Writable): Promise<void>;
    /** A sink for the artifact `name`; nothing exists under its location until `commit`. */
    artifactSink(name: string, stderr: Writable): Promise<ArtifactSink>;
    /** A small artifact written whole (a dump's facts); never replaces one of that name. Returns its location. */
    putSmall(name: string, text: string): Promise<string>;
    /** The store's records, oldest first. */
    records(): Promise<BackupRecord[]>;
    /** Adds one record; a concurrent writer's record is never lost. */
    appendRecord(record: BackupRecord): Promise<void>;
    /** Brings the artifact at `location` here, hashed in the same pass (a directory store hashes its own file). */
    fetch(location: string, stderr: Writable): Promise<FetchedArtifact>;
    /** The bytes of a stored artifact as a stream (a read-back check). */
    read(location: string): Promise<Readable>;
    /** Deletes one artifact (nothing when it is gone already). */
    removeArtifact(location: string): Promise<void>;
    /** The text of a small artifact (facts). */
    readText(location: string): Promise<string>;
    /** Drops the records of `removed` first (so none names a deleted artifact), then deletes their artifacts. */
    prune(removed: ReadonlyArray<{ record: BackupRecord; files: string[] }>, remaining: BackupRecord[]): Promise<void>;
    /** Writes, reads back and deletes a probe: what `store-check` runs. Rejects naming the cause. */
    probe(): Promise<{ probe: string; bytes: number }>;
    close(): void;
}

export interface StoreOptions {
    readonly env: NodeJS.ProcessEnv;
    /** `--sse-kms-key`: S3 objects are encrypted `aws:kms` with it, else `AES256`. */
    readonly sseKmsKey?: string;
}

export function openStore(location: StoreLocation, options: StoreOptions): BackupStore {
    return location.kind === "directory" ? directoryStore(location) : s3Store(location, options);
}

/** The exact refusal of `--store` beside the flags it replaces. */
export function storeConflict(other: string): string {
    return (
        `\`--store\` takes the place of \`--dir\` and \`--log\` (a store keeps its artifacts and its log together): ` +
        `give either \`--store\` or \`--dir\`/\`--log\`, not both; got \`--store\` and \`--${other}\``
    );
}

/**
 * The store a command's flags name: `--store <dir | s3://bucket/prefix>`, or, as before
 * `--store` existed, `--dir` (artifacts) with `--log` (default `<dir>/backups.log`), or a
 * bare `--log` (the records only; artifacts are wherever records say). Undefined when none
 * is given and `fallbackLog` is not either. `--sse-kms-key` is only for an S3 store.
 */
export function storeFromFlags(
    flags: ParsedFlags,
    env: NodeJS.ProcessEnv,
    fallbackLog?: string,
): { store: BackupStore; given: "store" | "dir" | "log" } | undefined {
    const text = flags.values.get("store");
    const dir = flags.values.get("dir");
    const log = flags.values.get("log");
    const sseKmsKey = flags.values.get("sse-kms-key");
    if (text !== undefined) {
        if (dir !== undefined) throw new UsageError(storeConflict("dir"));
        if (log !== undefined) throw new UsageError(storeConflict("log"));
    }
    let location: StoreLocation | undefined;
    let given: "store" | "dir" | "log" = "store";
    if (text !== undefined) location = parseStore(text);
    else if (dir !== undefined) {
        const resolved = path.resolve(dir);
        location = { kind: "directory", dir: resolved, log: path.resolve(log ?? path.join(resolved, "backups.log")) };
        given = "dir";
    } else if (log !== undefined || fallbackLog !== undefined) {
        const file = path.resolve(log ?? fallbackLog!);
        location = { kind: "directory", dir: path.dirname(file), log: file };
        given = "log";
    }
    if (location === undefined) return undefined;
    if (sseKmsKey !== undefined && location.kind !== "s3") {
        throw new UsageError(
            `\`--sse-kms-key\` encrypts the objects of an S3 store; \`${location.dir}\` is a directory (give \`--store s3://<bucket>/<prefix>\`)`,
        );
    }
    if (sseKmsKey !== undefined && sseKmsKey.trim() === "") throw new UsageError("`--sse-kms-key` must name a KMS key; got nothing");
    return { store: openStore(location, { env, ...(sseKmsKey !== undefined ? { sseKmsKey } : {}) }), given };
}
