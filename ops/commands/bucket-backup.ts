import { BucketBackupRecord, recordHead } from "../../core/backupLog";
import { OpsCommand, OpsIO } from "../command";
import { parseFlags, requireValue } from "../flags";
import { validateApp, validateVersion } from "../validate";
import { progress, withClient } from "../../core/awsClient";
import { reported } from "../report";
import { storeFromFlags } from "../store/backupStore";
import {
    checkSeparate,
    compareListings,
    listingChecksum,
    listObjects,
    parseS3Location,
    s3Client,
    s3Url,
    totals,
} from "../aws/bucketListing";
import { copyObjects, objectsToCopy } from "../aws/s3Copy";
import { DEFAULT_BACKUP_LOG } from "../aws/records";

const USAGE = `usage: safe-release-ops bucket-backup --source <bucket>[/<prefix>] --target <bucket>/<prefix>
                                      --app <app> --version <vX.Y.Z> [--store <dir | s3://bucket/prefix> [--sse-kms-key <key>] | --log <backup log>] [--sizes-only]

Copies every object under the source to the target server-side, as \`aws s3 sync\` would (an
object already there with the same size and ETag is kept), then verifies the copy by listing
both sides (\`ListObjectsV2\`, page by page): the same keys, object
count and total bytes, and per key the same size and, where both are plain MD5 ETags, the
same ETag. --sizes-only skips the ETags (SSE-KMS objects get a new ETag in every copy).
Appends a record (kind "bucket") to the backup store's log (--store: <dir>/backups.log, or
one object <prefix>/records/<id>.json of an S3 store, encrypted as backup encrypts; default: the
log ${DEFAULT_BACKUP_LOG}) and prints it:
size is the total bytes, sha256 is the SHA-256 of the sorted "key<TAB>size<TAB>etag" lines of
the source listing, location the target. A copy that does not match is recorded with
"verified": false, its first differing keys go to stderr and the run fails.

AWS: the AWS SDK's default credential chain and region (AWS_REGION, AWS_PROFILE, …);
AWS_ENDPOINT_URL points it at another AWS-compatible endpoint.
exit status: 0 copied and verified, 1 anything else, 2 usage error.
`;

async function runBucketBackup(args: string[], io: OpsIO): Promise<number> {
    const flags = parseFlags(args, {
        source: "value",
        target: "value",
        app: "value",
        version: "value",
        log: "value",
        dir: "value",
        store: "value",
        "sse-kms-key": "value",
        "sizes-only": "switch",
    });
    const source = parseS3Location(requireValue(flags, "source", "the bucket (and prefix) to back up"), "source", false);
    const target = parseS3Location(requireValue(flags, "target", "where the copy goes: <bucket>/<prefix>"), "target", true);
    checkSeparate(source, target);
    const app = validateApp(requireValue(flags, "app", "the application whose bucket this is"));
    const version = validateVersion(requireValue(flags, "version", "the release version being backed up for, e.g. v1.5.0"));
    // Opened before any AWS call: a `--store` beside `--log` is refused before anything is copied or read.
    const { store } = storeFromFlags(flags, io.env, DEFAULT_BACKUP_LOG)!;
    const log = store.log;
    const say = progress("bucket-backup", io.stderr, io.env);
    const now = new Date();

    const { sourceObjects, targetObjects } = await withClient(s3Client(io.env), async (s3) => {
        const listed = await listObjects(s3, source, io.env, say);
        const copies = objectsToCopy(listed, await listObjects(s3, target, io.env, say));
        const bytes = totals(copies).bytes;
        say(`copying ${copies.length} of ${listed.length} objects (${bytes} bytes) from ${s3Url(source)} to ${s3Url(target)}`);
        await copyObjects({ s3, source, target, env: io.env }, copies);
        return { sourceObjects: listed, targetObjects: await listObjects(s3, target, io.env, say) };
    });
    const comparison = compareListings(sourceObjects, targetObjects, { compareEtags: !flags.switches.has("sizes-only") });
    const verified = comparison.differenceCount === 0;
    const sourceTotals = totals(sourceObjects);
    const record: BucketBackupRecord = {
        ...recordHead("bucket", app, version, now),
        size: sourceTotals.bytes,
        sha256: listingChecksum(sourceObjects),
        location: s3Url(target),
        verified,
        source: s3Url(source),
        files: sourceTotals.objects,
    };
    try {
        await store.appendRecord(record);
    } finally {
        store.close();
    }
    io.stdout.write(`${JSON.stringify(record, null, 2)}\n`);
    if (verified) {
        say(`verified: ${sourceTotals.objects} objects, ${sourceTotals.bytes} bytes on both sides; recorded in ${log}`);
        return 0;
    }
    const { source: a, target: b } = comparison;
    say(
        `verification failed: ${s3Url(source)} has ${a.objects} objects (${a.bytes} bytes), ${s3Url(target)} has ${b.objects} ` +
            `(${b.bytes} bytes); ${comparison.differenceCount} differences, the first: ${comparison.differences.join("; ")}`,
    );
    return 1;
}

export const command: OpsCommand = {
    name: "bucket-backup",
    summary: "copy an S3 bucket (prefix) to a backup prefix, verify both listings, log its checksum",
    usage: USAGE,
    run: (args, io) => reported("bucket-backup", io, () => runBucketBackup(args, io)),
};
