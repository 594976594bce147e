import { UsageError } from "../command";
import { DescribeKeyResponse, GetKeyPolicyResponse, KMSClient } from "@aws-sdk/client-kms";
import { awsClientConfig } from "../../core/awsClient";
import { KmsKeyFacts } from "../../core/backupLog";

/** A key id, key ARN, `alias/<name>` or alias ARN: whatever `DescribeKey`'s `KeyId` takes. */
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
    /** `SYMMETRIC_DEFAULT`, `RSA_2048`, `HMAC_256`, …: what the key can do, fixed when it was made. */
    readonly keySpec: string;
    readonly deletionDate?: string;
}

/** The KMS client of one run: region, endpoint and credentials as `env` names them (core/awsClient.ts). */
export function kmsClient(env: NodeJS.ProcessEnv): KMSClient {
    return new KMSClient(awsClientConfig(env, "KMS"));
}

/** `KeyMetadata` of a `DescribeKey` answer. */
export function readKeyMetadata(describeKeyOutput: DescribeKeyResponse, key: string): KeyMetadata {
    const metadata = describeKeyOutput.KeyMetadata;
    const keyId = metadata?.KeyId;
    const arn = metadata?.Arn;
    const state = metadata?.KeyState;
    if (metadata === undefined || keyId === undefined || arn === undefined || state === undefined) {
        throw new Error(`KMS DescribeKey for \`${key}\` returned no \`KeyMetadata\` with \`KeyId\`, \`Arn\` and \`KeyState\``);
    }
    const deletionDate = metadata.DeletionDate?.toISOString();
    return {
        keyId,
        arn,
        state,
        keyManager: metadata.KeyManager ?? "UNKNOWN",
        creationDate: metadata.CreationDate?.toISOString() ?? "unknown",
        keySpec: metadata.KeySpec ?? "UNKNOWN",
        ...(deletionDate !== undefined ? { deletionDate } : {}),
    };
}

/** The `Policy` text of a `GetKeyPolicy` answer. */
export function readPolicy(getKeyPolicyOutput: GetKeyPolicyResponse, arn: string): string {
    const policy = getKeyPolicyOutput.Policy;
    if (policy === undefined) throw new Error(`KMS GetKeyPolicy for \`${arn}\` returned no \`Policy\``);
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

/**
 * Automatic rotation as `GetKeyRotationStatus` reports it; `unsupported` for a key KMS
 * cannot rotate (asymmetric, HMAC, imported key material, a custom key store).
 */
export type RotationStatus = "enabled" | "disabled" | "unsupported";

/**
 * What the record keeps about the key: everything needed to recognise or recreate its
 * policy, and the facts `verify` compares with the live key (spec and rotation beside
 * the core fields of core/backupLog.ts's `KmsKeyFacts`).
 */
export interface RecordedKeyFacts extends KmsKeyFacts {
    readonly keySpec: string;
    readonly rotation: RotationStatus;
}

export function keyFacts(metadata: KeyMetadata, policy: string, rotation: RotationStatus): RecordedKeyFacts {
    const { keyId, arn, state, keyManager, creationDate, keySpec } = metadata;
    return { keyId, arn, state, keyManager, creationDate, keySpec, rotation, policy };
}
