import * as path from "path";
import { inspectArchive } from "../archive";
import { listAllObjects, listingChecksum, parseS3Location, totals } from "../aws/bucketListing";
import { canonicalJson, sha256Hex } from "../aws/records";
import { BucketBackupRecord, findRecord, KmsBackupRecord, readLog } from "../../core/backupLog";
import { checksumMismatch, sha256OfFile } from "../checksum";
import { OpsCommand, OpsIO, UsageError } from "../command";
import { checkDumpFile } from "../pg/dump";
import { ParsedFlags, parseFlags } from "../flags";
import { reported } from "../report";

const usage = `usage: safe-release-ops verify --file <backup file> [--sha256 <hex>]
       safe-release-ops verify --id <backup id> --log <backup log>

Checks a backup without a database server, by kind:
  postgres, directory: recomputes the file's SHA-256 and reads its structure — pg_restore --list
    for a .dump (the table of contents), every tar header for a .tar[.gz] (and, with --id, the
    file count and bytes of the record). Exits 1 naming the expected and actual checksum when
    they differ.
  bucket (--id only): lists the copy again (\`aws s3api list-objects-v2\`) and compares its object
    count and bytes with the record. The SHA-256 of the copy's listing is reported beside the
    recorded one (the source's): they are equal when every object kept its ETag, which a
    multipart or SSE-KMS copy does not, so only count and bytes decide.
  kms (--id only): recomputes the SHA-256 of the recorded key metadata's canonical JSON.
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
            const expectation = expectationFrom(parseFlags(args, { file: "value", sha256: "value", id: "value", log: "value" }));
            const started = Date.now();
            let verdict: BackupCheck;
            try {
                verdict = await check(expectation, io);
            } catch (err) {
                io.stderr.write(`verify: ${(err as Error).message}\n`);
                return 1;
            }
            for (const problem of verdict.problems) io.stderr.write(`verify: ${problem}\n`);
            const ok = verdict.problems.length === 0;
            io.stdout.write(`${JSON.stringify({ ok, ...verdict, durationMs: Date.now() - started }, null, 2)}\n`);
            return ok ? 0 : 1;
        }),
};

/** A local file to check, or a logged record of a kind that is checked another way. */
type Expectation =
    | { readonly kind: "file"; readonly file: string; readonly sha256?: string; readonly files?: number; readonly contentBytes?: number }
    | { readonly kind: "bucket"; readonly record: BucketBackupRecord }
    | { readonly kind: "kms"; readonly record: KmsBackupRecord };

function expectationFrom(flags: ParsedFlags): Expectation {
    const [id, log, file, sha256] = ["id", "log", "file", "sha256"].map((name) => flags.values.get(name));
    if (id !== undefined) {
        if (log === undefined) throw new UsageError("`--log` must name the backup log that records `--id`; got nothing");
        if (file !== undefined || sha256 !== undefined) {
            throw new UsageError("`--id` takes its file and checksum from the log: give either `--id` and `--log`, or `--file` [--sha256]");
        }
        const record = findRecord(readLog(log), id, log);
        switch (record.kind) {
            case "bucket":
                return { kind: "bucket", record };
            case "kms":
                return { kind: "kms", record };
            case "directory":
                return {
                    kind: "file",
                    file: record.location,
                    sha256: record.sha256,
                    files: record.files,
                    contentBytes: record.contentBytes,
                };
            case "postgres":
                return { kind: "file", file: record.location, sha256: record.sha256 };
        }
    }
    if (file === undefined) throw new UsageError("`--file` (or `--id` with `--log`) must name the backup to verify; got nothing");
    if (sha256 !== undefined && !HEX64.test(sha256)) {
        throw new UsageError(`\`--sha256\` must be 64 lowercase hexadecimal digits; got \`${sha256}\``);
    }
    return { kind: "file", file: path.resolve(file), sha256 };
}

function check(expectation: Expectation, io: OpsIO): Promise<BackupCheck> {
    switch (expectation.kind) {
        case "file":
            return verifyFile(expectation, io.env);
        case "bucket":
            return verifyBucketCopy(expectation.record, io);
        case "kms":
            return Promise.resolve(verifyKeyRecord(expectation.record));
    }
}

async function verifyFile(expectation: Expectation & { kind: "file" }, env: NodeJS.ProcessEnv): Promise<BackupCheck> {
    const { file } = expectation;
    const found = await checkFile(file, env);
    const problems: string[] = found.readError !== undefined ? [found.readError] : [];
    if (expectation.sha256 !== undefined && found.sha256 !== expectation.sha256) {
        problems.push(checksumMismatch(file, expectation.sha256, found.sha256));
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

/** A key record is its own content: the checksum is recomputed from the recorded metadata. */
export function verifyKeyRecord(record: KmsBackupRecord): BackupCheck {
    const base = { id: record.id, kind: "kms", location: record.location, expectedSha256: record.sha256 };
    if (typeof record.key !== "object" || record.key === null) {
        return { ...base, sha256: null, problems: [`\`key\` of record \`${record.id}\` must hold the recorded key metadata; got nothing`] };
    }
    const canonical = canonicalJson(record.key);
    const sha256 = sha256Hex(canonical);
    const problems = sha256 === record.sha256 ? [] : [checksumMismatch(record.location, record.sha256, sha256)];
    return { ...base, sha256, size: Buffer.byteLength(canonical), problems };
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
