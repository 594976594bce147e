import { KmsBackupRecord, recordHead } from "../../core/backupLog";
import { OpsCommand, OpsIO } from "../command";
import { parseFlags, requireValue } from "../flags";
import { validateApp, validateVersion } from "../validate";
import { progress, withClient } from "../../core/awsClient";
import { reported } from "../report";
import { storeFromFlags } from "../store/backupStore";
import { judgeKeyState, keyFacts, kmsClient, validateKeyReference } from "../aws/kmsKey";
import { describeKey, keyPolicy, rotationStatus } from "../aws/kmsLive";
import { canonicalJson, DEFAULT_BACKUP_LOG, sha256Hex } from "../aws/records";

const USAGE = `usage: safe-release-ops kms-record --key <key id|key ARN|alias/name> --app <app> --version <vX.Y.Z> [--store <dir | s3://bucket/prefix> [--sse-kms-key <key>] | --log <backup log>]

Records a KMS key's metadata before an upgrade: id, ARN, state, key manager, creation date,
key spec, automatic rotation (enabled, disabled or unsupported) and its default key policy
(\`DescribeKey\`, \`GetKeyRotationStatus\`, \`GetKeyPolicy\`). Appends a
record (kind "kms") to the backup store's log (--store: <dir>/backups.log, or
one object <prefix>/records/<id>.json of an S3 store, encrypted as backup encrypts; default: the
log ${DEFAULT_BACKUP_LOG}) and prints it; sha256 is
the SHA-256 of the canonical JSON (sorted keys, no spaces) of the recorded "key" object.
\`verify --id\` compares the id, ARN, state, key spec and rotation with the live key.

Refuses (exit 1, nothing recorded) a key that cannot serve the release: PendingDeletion or
PendingReplicaDeletion (cancel the deletion, then enable it), Disabled (enable it),
PendingImport, Unavailable or Creating.

AWS: the AWS SDK's default credential chain and region (AWS_REGION, AWS_PROFILE, …);
AWS_ENDPOINT_URL points it at another AWS-compatible endpoint.
exit status: 0 recorded, 1 anything else, 2 usage error.
`;

async function runKmsRecord(args: string[], io: OpsIO): Promise<number> {
    const flags = parseFlags(args, {
        key: "value",
        app: "value",
        version: "value",
        log: "value",
        dir: "value",
        store: "value",
        "sse-kms-key": "value",
    });
    const key = validateKeyReference(requireValue(flags, "key", "the KMS key to record"));
    const app = validateApp(requireValue(flags, "app", "the application that uses the key"));
    const version = validateVersion(requireValue(flags, "version", "the release version being recorded for, e.g. v1.5.0"));
    // Opened before any AWS call: a `--store` beside `--log` is refused before anything is copied or read.
    const { store } = storeFromFlags(flags, io.env, DEFAULT_BACKUP_LOG)!;
    const log = store.log;
    const say = progress("kms-record", io.stderr, io.env);
    const now = new Date();

    const facts = await withClient(kmsClient(io.env), async (kms) => {
        const metadata = await describeKey(kms, key, io.env);
        const refusal = judgeKeyState(metadata);
        if (refusal !== undefined) return { refusal };
        return keyFacts(metadata, await keyPolicy(kms, metadata, io.env), await rotationStatus(kms, metadata, io.env));
    });
    if ("refusal" in facts) {
        say(facts.refusal);
        return 1;
    }
    const canonical = canonicalJson(facts);
    const record: KmsBackupRecord = {
        ...recordHead("kms", app, version, now),
        size: Buffer.byteLength(canonical),
        sha256: sha256Hex(canonical),
        location: facts.arn,
        verified: true,
        key: facts,
    };
    try {
        await store.appendRecord(record);
    } finally {
        store.close();
    }
    io.stdout.write(`${JSON.stringify(record, null, 2)}\n`);
    say(`recorded ${facts.arn} (${facts.state}, ${facts.keyManager}-managed, ${facts.keySpec}, rotation ${facts.rotation}) in ${log}`);
    return 0;
}

export const command: OpsCommand = {
    name: "kms-record",
    summary: "record a KMS key's metadata and policy in the backup log; refuse a key pending deletion or disabled",
    usage: USAGE,
    run: (args, io) => reported("kms-record", io, () => runKmsRecord(args, io)),
};
