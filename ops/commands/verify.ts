import * as path from "path";
import { inspectArchive } from "../archive";
import { listAllObjects, listingChecksum, parseS3Location, totals } from "../aws/bucketListing";
import { verifyKeyRecordLive } from "../aws/kmsLive";
import { BucketBackupRecord, DirectoryBackupRecord, findRecord, KmsBackupRecord, PostgresBackupRecord } from "../../core/backupLog";
import { checksumMismatch, sha256OfFile } from "../checksum";
import { OpsCommand, OpsIO, UsageError } from "../command";
import { checkDumpFile } from "../pg/dump";
import { ParsedFlags, parseFlags } from "../flags";
import { reported } from "../report";
import { BackupStore, storeFromFlags } from "../store/backupStore";

const usage = `usage: safe-release-ops verify --file <backup file> [--sha256 <hex> | --log <backup log> | --store <store>] [--structure-only]
       safe-release-ops verify --id <backup id> --store <dir | s3://bucket/prefix>   (or --log <backup log>)

An artifact in an S3 store is downloaded to a temporary file, hashed as it arrives; the
checksum is compared with the record's before its structure is read.

Checks a backup without a database server, by kind:
  postgres, directory: recomputes the file's SHA-256 and reads its structure — pg_restore --list
    for a .dump (the table of contents), every tar header for a .tar[.gz] (and, with --id, the
    file count and bytes of the record). Exits 1 naming the expected and actual checksum when
    they differ. With --file, the expected checksum is --sha256, else that of the record of the
    file in --store or --log (default: backups.log beside the file). With neither, the content cannot be
    verified (a truncated or altered dump can still have a readable table of contents): exit 1
    saying so, unless --structure-only accepts a check of the structure alone.
  bucket (--id only): lists the copy again (\`ListObjectsV2\`) and compares its object
    count and bytes with the record. The SHA-256 of the copy's listing is reported beside the
    recorded one (the source's): they are equal when every object kept its ETag, which a
    multipart or SSE-KMS copy does not, so only count and bytes decide.
  kms (--id only): recomputes the SHA-256 of the recorded key metadata's canonical JSON and compares
    the recorded key id, ARN, state, key spec and rotation with the live key (DescribeKey,
    GetKeyRotationStatus); a difference fails naming the field.
Prints the result as JSON on stdout.
SAFE_RELEASE_PG_BIN: directory of pg_restore (else PATH). AWS: as for bucket-backup.
`;

const HEX64 = /^[0-9a-f]{64}$/;

/** What a check found; `problems` empty means verified. */
interface BackupCheck {
    readonly problems: string[];
    readonly [detail: string]: unknown;
}

export const command: OpsCommand = {
    name: "verify",
    summary: "recompute a backup's checksum and check that it reads back (files, bucket copies, key records)",
    usage,
    run: (args: string[], io: OpsIO): Promise<number> =>
        reported("verify", io, async () => {
            const flags = parseFlags(args, {
                file: "value",
                sha256: "value",
                id: "value",
                log: "value",
                store: "value",
                "structure-only": "switch",
            });
            if (flags.values.has("sha256") && flags.values.has("store")) {
                throw new UsageError("`--sha256` is the expected checksum: give either it or `--store`, not both");
            }
            const file = flags.values.get("file");
            const besideFile =
                file !== undefined && !file.startsWith("s3://") ? path.join(path.dirname(path.resolve(file)), "backups.log") : undefined;
            const opened = flags.values.has("sha256") && !flags.values.has("id") ? undefined : storeFromFlags(flags, io.env, besideFile);
            const started = Date.now();
            let verdict: BackupCheck;
            try {
                const expectation = await expectationFrom(flags, opened?.store);
                verdict = await check(expectation, flags.switches.has("structure-only"), opened?.store, io);
            } catch (err) {
                if (err instanceof UsageError) throw err;
                io.stderr.write(`verify: ${(err as Error).message}\n`);
                return 1;
            } finally {
                opened?.store.close();
            }
            for (const problem of verdict.problems) io.stderr.write(`verify: ${problem}\n`);
            const ok = verdict.problems.length === 0;
            io.stdout.write(`${JSON.stringify({ ok, ...verdict, durationMs: Date.now() - started }, null, 2)}\n`);
            return ok ? 0 : 1;
        }),
};

/** A local file to check, or a logged record of a kind that is checked another way. */
type Expectation =
    | {
          readonly kind: "file";
          readonly file: string;
          readonly sha256?: string;
          /** Where `sha256` came from (`--sha256`, or a record), or why none is known. */
          readonly checksumFrom: string;
          readonly files?: number;
          readonly contentBytes?: number;
      }
    | { readonly kind: "bucket"; readonly record: BucketBackupRecord }
    | { readonly kind: "kms"; readonly record: KmsBackupRecord };

async function expectationFrom(flags: ParsedFlags, store: BackupStore | undefined): Promise<Expectation> {
    const [id, log, file, sha256] = ["id", "log", "file", "sha256"].map((name) => flags.values.get(name));
    if (id !== undefined) {
        if (store === undefined) throw new UsageError("`--store` (or `--log`) must name the backup store that records `--id`; got nothing");
        if (file !== undefined || sha256 !== undefined) {
            throw new UsageError(
                "`--id` takes its file and checksum from the store: give either `--id` and `--store` (or `--log`), or `--file` [--sha256]",
            );
        }
        const record = findRecord(await store.records(), id, store.log);
        switch (record.kind) {
            case "bucket":
                return { kind: "bucket", record };
            case "kms":
                return { kind: "kms", record };
            case "directory":
            case "postgres":
                return fileExpectation(record, `record \`${record.id}\` in \`${store.log}\``);
        }
    }
    if (file === undefined) throw new UsageError("`--file` (or `--id` with `--store`) must name the backup to verify; got nothing");
    if (sha256 !== undefined && !HEX64.test(sha256)) {
        throw new UsageError(`\`--sha256\` must be 64 lowercase hexadecimal digits; got \`${sha256}\``);
    }
    const resolved = file.startsWith("s3://") ? file : path.resolve(file);
    if (sha256 !== undefined) {
        if (log !== undefined) throw new UsageError("`--sha256` is the expected checksum: give either it or `--log`, not both");
        return { kind: "file", file: resolved, sha256, checksumFrom: "`--sha256`" };
    }
    // The file's own record, where the backup that wrote it logged it: its checksum is the one to expect.
    const records = store !== undefined ? await store.records() : [];
    const record = records.find(
        (r): r is PostgresBackupRecord | DirectoryBackupRecord =>
            (r.kind === "postgres" || r.kind === "directory") && (r.location === resolved || path.resolve(r.location) === resolved),
    );
    const searched = store?.log ?? "no backup log";
    if (record !== undefined) return fileExpectation(record, `record \`${record.id}\` in \`${searched}\``);
    return { kind: "file", file: resolved, checksumFrom: `no \`--sha256\`, and \`${searched}\` records no backup at that location` };
}

function fileExpectation(record: PostgresBackupRecord | DirectoryBackupRecord, checksumFrom: string): Expectation {
    const base = { kind: "file", file: record.location, sha256: record.sha256, checksumFrom } as const;
    return record.kind === "directory" ? { ...base, files: record.files, contentBytes: record.contentBytes } : base;
}

function check(expectation: Expectation, structureOnly: boolean, store: BackupStore | undefined, io: OpsIO): Promise<BackupCheck> {
    switch (expectation.kind) {
        case "file":
            return expectation.file.startsWith("s3://")
                ? verifyStoredObject(expectation, structureOnly, store, io)
                : verifyFile(expectation, structureOnly, io);
        case "bucket":
            return verifyBucketCopy(expectation.record, io);
        case "kms":
            return verifyKeyRecordLive(expectation.record, io.env);
    }
}

/**
 * An S3 artifact: downloaded and hashed in one pass; a checksum that is not the record's fails
 * at once, before its structure is read; else the downloaded copy is checked as a local file
 * would be, every message naming the object, not the temporary copy.
 */
async function verifyStoredObject(
    expectation: Expectation & { kind: "file" },
    structureOnly: boolean,
    store: BackupStore | undefined,
    io: OpsIO,
): Promise<BackupCheck> {
    const location = expectation.file;
    if (store === undefined) throw new UsageError(`\`--store\` must name the S3 store that holds \`${location}\`; got nothing`);
    const fetched = await store.fetch(location, io.stderr);
    try {
        if (expectation.sha256 !== undefined && fetched.sha256 !== expectation.sha256) {
            return {
                file: location,
                sha256: fetched.sha256,
                expectedSha256: expectation.sha256,
                checksumFrom: expectation.checksumFrom,
                contentVerified: false,
                size: fetched.bytes,
                problems: [checksumMismatch(location, expectation.sha256, fetched.sha256)],
            };
        }
        const verdict = await verifyFile({ ...expectation, file: fetched.file }, structureOnly, io, location);
        return { ...verdict, file: location };
    } finally {
        fetched.cleanup();
    }
}

async function verifyFile(
    expectation: Expectation & { kind: "file" },
    structureOnly: boolean,
    io: OpsIO,
    shownAs?: string,
): Promise<BackupCheck> {
    const local = expectation.file;
    const file = shownAs ?? local;
    const found = await checkFile(local, io.env);
    if (found.readError !== undefined && shownAs !== undefined) {
        (found as { readError: string }).readError = found.readError.split(local).join(shownAs);
    }
    const problems: string[] = found.readError !== undefined ? [found.readError] : [];
    if (expectation.sha256 !== undefined && found.sha256 !== expectation.sha256) {
        problems.push(checksumMismatch(file, expectation.sha256, found.sha256));
    }
    // The structure check reads headers only: a truncated or altered body passes it.
    const unverified = `the content of \`${file}\` could not be verified: no checksum is known for it (${expectation.checksumFrom})`;
    if (expectation.sha256 === undefined && structureOnly) {
        io.stderr.write(`verify: ${unverified}; only its structure was checked (\`--structure-only\`)\n`);
    } else if (expectation.sha256 === undefined) {
        problems.push(
            `${unverified}, and its structure alone proves nothing about it. Give \`--sha256 <hex>\`, or \`--id\` with \`--log\`, ` +
                "or pass `--structure-only` to accept a check of the structure alone",
        );
    }
    if (
        found.files !== undefined &&
        expectation.files !== undefined &&
        (found.files !== expectation.files || found.contentBytes !== expectation.contentBytes)
    ) {
        problems.push(
            `contents of \`${file}\`: expected ${expectation.files} files (${expectation.contentBytes} bytes), got ${found.files} files (${found.contentBytes} bytes)`,
        );
    }
    return {
        file,
        sha256: found.sha256,
        expectedSha256: expectation.sha256 ?? null,
        checksumFrom: expectation.checksumFrom,
        contentVerified: expectation.sha256 === found.sha256,
        size: found.size,
        ...(found.entries !== undefined ? { entries: found.entries } : { files: found.files, contentBytes: found.contentBytes }),
        problems,
    };
}

/** The copy as it is now against the record; the live source may have changed since, so it is not listed. */
async function verifyBucketCopy(record: BucketBackupRecord, io: OpsIO): Promise<BackupCheck> {
    const copy = parseS3Location(record.location, "id", true);
    const objects = await listAllObjects(copy, io.env, (line) => io.stderr.write(`verify: ${line}\n`));
    const found = totals(objects);
    const problems: string[] = [];
    if (found.objects !== record.files || found.bytes !== record.size) {
        problems.push(
            `contents of \`${record.location}\`: expected ${record.files} objects (${record.size} bytes), got ${found.objects} objects (${found.bytes} bytes)`,
        );
    }
    return {
        id: record.id,
        kind: "bucket",
        location: record.location,
        objects: found.objects,
        bytes: found.bytes,
        sha256: listingChecksum(objects),
        expectedSha256: record.sha256,
        problems,
    };
}

interface FileCheck {
    readonly sha256: string;
    readonly size: number;
    readonly entries?: number;
    readonly files?: number;
    readonly contentBytes?: number;
    readonly readError?: string;
}

async function checkFile(file: string, env: NodeJS.ProcessEnv): Promise<FileCheck> {
    if (!/\.tar(\.gz)?$/.test(file)) return checkDumpFile(file, env);
    try {
        return await inspectArchive(file);
    } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") throw err;
        // A damaged archive stops the single pass early; hash it alone so the report still names its checksum.
        const { sha256, bytes } = await sha256OfFile(file);
        return { sha256, size: bytes, readError: `\`${file}\` must be a readable tar archive: ${(err as Error).message}` };
    }
}
