import * as path from "path";
import { KmsBackupRecord, logAndPrint, recordHead } from "../../core/backupLog";
import { OpsCommand, OpsIO } from "../command";
import { parseFlags, requireValue } from "../flags";
import { validateApp, validateVersion } from "../validate";
import { callAws, progress } from "../../core/awsCli";
import { reported } from "../report";
import { judgeKeyState, keyFacts, readKeyMetadata, readPolicy, validateKeyReference } from "../aws/kmsKey";
import { canonicalJson, DEFAULT_BACKUP_LOG, sha256Hex } from "../aws/records";

const USAGE = `usage: safe-release-ops kms-record --key <key id|key ARN|alias/name> --app <app> --version <vX.Y.Z> [--log <backup log>]

Records a KMS key's metadata before an upgrade: id, ARN, state, key manager, creation date
and its default key policy (\`aws kms describe-key\`, \`aws kms get-key-policy\`). Appends a
record (kind "kms") to the backup log (default ${DEFAULT_BACKUP_LOG}) and prints it; sha256 is
the SHA-256 of the canonical JSON (sorted keys, no spaces) of the recorded "key" object.

Refuses (exit 1, nothing recorded) a key that cannot serve the release: PendingDeletion or
PendingReplicaDeletion (cancel the deletion, then enable it), Disabled (enable it),
PendingImport, Unavailable or Creating.

AWS: the AWS CLI v2 (\`aws\` on PATH, or SAFE_RELEASE_AWS_CLI), with region and credentials
from the environment (AWS_REGION, AWS_PROFILE, …).
exit status: 0 recorded, 1 anything else, 2 usage error.
`;

async function runKmsRecord(args: string[], io: OpsIO): Promise<number> {
    const flags = parseFlags(args, { key: "value", app: "value", version: "value", log: "value" });
    const key = validateKeyReference(requireValue(flags, "key", "the KMS key to record"));
    const app = validateApp(requireValue(flags, "app", "the application that uses the key"));
    const version = validateVersion(requireValue(flags, "version", "the release version being recorded for, e.g. v1.5.0"));
    const log = path.resolve(flags.values.get("log") ?? DEFAULT_BACKUP_LOG);
    const say = progress("kms-record", io.stderr, io.env);
    const now = new Date();

    const metadata = readKeyMetadata(await callAws(["kms", "describe-key", "--key-id", key], io.env), key);
    const refusal = judgeKeyState(metadata);
    if (refusal !== undefined) {
        say(refusal);
        return 1;
    }
    const policy = readPolicy(
        await callAws(["kms", "get-key-policy", "--key-id", metadata.keyId, "--policy-name", "default"], io.env),
        metadata.arn,
    );
    const facts = keyFacts(metadata, policy);
    const canonical = canonicalJson(facts);
    const record: KmsBackupRecord = {
        ...recordHead("kms", app, version, now),
        size: Buffer.byteLength(canonical),
        sha256: sha256Hex(canonical),
        location: metadata.arn,
        verified: true,
        key: facts,
    };
    logAndPrint(log, record, io.stdout);
    say(`recorded ${metadata.arn} (${metadata.state}, ${metadata.keyManager}-managed) in ${log}`);
    return 0;
}

export const command: OpsCommand = {
    name: "kms-record",
    summary: "record a KMS key's metadata and policy in the backup log; refuse a key pending deletion or disabled",
    usage: USAGE,
    run: (args, io) => reported("kms-record", io, () => runKmsRecord(args, io)),
};
