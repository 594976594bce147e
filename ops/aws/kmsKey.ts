import { UsageError } from "../command";
import { asString, field } from "../../core/awsCli";
import { KmsKeyFacts } from "../../core/backupLog";

/** A key id, key ARN, `alias/<name>` or alias ARN: whatever `aws kms describe-key --key-id` takes. */
const KEY_REFERENCE = /^[A-Za-z0-9][A-Za-z0-9:/_.-]{0,2047}$/;

export function validateKeyReference(key: string): string {
    if (!KEY_REFERENCE.test(key)) {
        throw new UsageError(`\`--key\` must be a KMS key id, key ARN, alias/<name> or alias ARN; got \`${key}\``);
    }
    return key;
}

export interface KeyMetadata {
    readonly keyId: string;
    readonly arn: string;
    readonly state: string;
    readonly keyManager: string;
    readonly creationDate: string;
    readonly deletionDate?: string;
}

/** The CLI prints timestamps as ISO-8601 text; with `cli_timestamp_format = none` they are epoch seconds. */
function timestamp(value: unknown): string | undefined {
    if (typeof value === "number") return new Date(value * 1000).toISOString();
    return asString(value);
}

/** `KeyMetadata` of `aws kms describe-key` output. */
export function readKeyMetadata(describeKeyOutput: unknown, key: string): KeyMetadata {
    const metadata = field(describeKeyOutput, "KeyMetadata");
    const keyId = asString(field(metadata, "KeyId"));
    const arn = asString(field(metadata, "Arn"));
    const state = asString(field(metadata, "KeyState"));
    if (keyId === undefined || arn === undefined || state === undefined) {
        throw new Error(`aws kms describe-key for \`${key}\` returned no \`KeyMetadata\` with \`KeyId\`, \`Arn\` and \`KeyState\``);
    }
    const deletionDate = timestamp(field(metadata, "DeletionDate"));
    return {
        keyId,
        arn,
        state,
        keyManager: asString(field(metadata, "KeyManager")) ?? "UNKNOWN",
        creationDate: timestamp(field(metadata, "CreationDate")) ?? "unknown",
        ...(deletionDate !== undefined ? { deletionDate } : {}),
    };
}

/** The `Policy` text of `aws kms get-key-policy` output. */
export function readPolicy(getKeyPolicyOutput: unknown, arn: string): string {
    const policy = asString(field(getKeyPolicyOutput, "Policy"));
    if (policy === undefined) throw new Error(`aws kms get-key-policy for \`${arn}\` returned no \`Policy\``);
    return policy;
}

/** States in which the key encrypts and decrypts. `Updating` is a multi-Region key whose replicas are being synchronised. */
const USABLE = new Set(["Enabled", "Updating"]);

/**
 * Why an upgrade must not go on with this key, or undefined when it may. A release that
 * rewraps or reads encrypted data needs a usable key; one scheduled for deletion takes
 * that data with it when the waiting period ends.
 */
export function judgeKeyState(metadata: KeyMetadata): string | undefined {
    if (USABLE.has(metadata.state)) return undefined;
    const { arn, keyId, state } = metadata;
    const enable = `\`aws kms enable-key --key-id ${keyId}\``;
    const cancel = `\`aws kms cancel-key-deletion --key-id ${keyId}\``;
    const is = `KMS key \`${arn}\` is ${state}`;
    const nothing = "before upgrading; nothing was recorded";
    switch (state) {
        case "PendingDeletion":
            return (
                `${is} (deletion scheduled for ${metadata.deletionDate ?? "an unknown date"}): data encrypted with it becomes unreadable once it is deleted. ` +
                `Cancel the deletion (${cancel}) and enable the key (${enable}) ${nothing}`
            );
        case "PendingReplicaDeletion":
            return (
                `${is}: this replica is scheduled for deletion. ` +
                `Cancel the deletion (${cancel} in the replica's Region) and enable the key (${enable}) ${nothing}`
            );
        case "Disabled":
            return `${is}: nothing can be encrypted or decrypted with it. Enable the key (${enable}) ${nothing}`;
        case "PendingImport":
            return `${is}: it has no key material. Import its key material (\`aws kms import-key-material\`) ${nothing}`;
        case "Unavailable":
            return `${is}: its custom key store is disconnected. Reconnect the key store (\`aws kms connect-custom-key-store\`) ${nothing}`;
        case "Creating":
            return `${is}: wait until it is Enabled, then run again; nothing was recorded`;
        default:
            return `${is}; its \`KeyState\` must be Enabled or Updating ${nothing}`;
    }
}

/** What the record keeps about the key: everything needed to recognise or recreate its policy. */
export function keyFacts(metadata: KeyMetadata, policy: string): KmsKeyFacts {
    const { keyId, arn, state, keyManager, creationDate } = metadata;
    return { keyId, arn, state, keyManager, creationDate, policy };
}
