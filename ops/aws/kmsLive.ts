import {
    DescribeKeyCommand,
    GetKeyPolicyCommand,
    GetKeyRotationStatusCommand,
    KMSClient,
    UnsupportedOperationException,
} from "@aws-sdk/client-kms";
import { awsCall, withClient } from "../../core/awsClient";
import { KmsBackupRecord } from "../../core/backupLog";
import { KeyMetadata, kmsClient, readKeyMetadata, readPolicy, RotationStatus } from "./kmsKey";
import { canonicalJson, sha256Hex } from "./records";

export function describeKey(kms: KMSClient, key: string, env: NodeJS.ProcessEnv): Promise<KeyMetadata> {
    return awsCall(`KMS DescribeKey of \`${key}\``, env, () => kms.send(new DescribeKeyCommand({ KeyId: key }))).then((output) =>
        readKeyMetadata(output, key),
    );
}

export function keyPolicy(kms: KMSClient, metadata: KeyMetadata, env: NodeJS.ProcessEnv): Promise<string> {
    return awsCall(`KMS GetKeyPolicy of \`${metadata.arn}\``, env, () =>
        kms.send(new GetKeyPolicyCommand({ KeyId: metadata.keyId, PolicyName: "default" })),
    ).then((output) => readPolicy(output, metadata.arn));
}

export async function rotationStatus(kms: KMSClient, metadata: KeyMetadata, env: NodeJS.ProcessEnv): Promise<RotationStatus> {
    try {
        const output = await kms.send(new GetKeyRotationStatusCommand({ KeyId: metadata.keyId }));
        return output.KeyRotationEnabled === true ? "enabled" : "disabled";
    } catch (err) {
        if (err instanceof UnsupportedOperationException) return "unsupported";
        return awsCall(`KMS GetKeyRotationStatus of \`${metadata.arn}\``, env, () => Promise.reject(err));
    }
}

const USABLE_STATES = new Set(["Enabled", "Updating"]);

/** The live facts `verify` holds a key record against, in the record's field names. */
const COMPARED = ["keyId", "arn", "state", "keySpec", "rotation"] as const;
type ComparedField = (typeof COMPARED)[number];

/**
 * What `verify --id <kms record>` reports: the record's own checksum and the live key
 * against it. A type alias, not an interface, so it fits verify's open `BackupCheck`.
 */
export type KeyRecordCheck = {
    readonly id: string;
    readonly kind: "kms";
    readonly location: string;
    readonly sha256: string | null;
    readonly expectedSha256: string;
    /** The live values of the compared fields, as KMS reports them now. */
    readonly live?: Partial<Record<ComparedField, string>>;
    /** Fields an older record does not hold, so they could not be compared. */
    readonly notRecorded?: ComparedField[];
    readonly problems: string[];
};

/**
 * Checks a KMS key record twice: its checksum against the recorded metadata (the line
 * is intact), and the recorded key id, ARN, state, key spec and rotation status against
 * what KMS reports for the key now (the key is still the one recorded, and still
 * usable the same way). A key deleted, disabled or with rotation switched since fails,
 * naming the field. The policy is not compared: it is recorded so that it can be
 * recreated, and operators change it without changing the key.
 */
export async function verifyKeyRecordLive(record: KmsBackupRecord, env: NodeJS.ProcessEnv): Promise<KeyRecordCheck> {
    const base = { id: record.id, kind: "kms" as const, location: record.location, expectedSha256: record.sha256 };
    if (typeof record.key !== "object" || record.key === null) {
        return { ...base, sha256: null, problems: [`\`key\` of record \`${record.id}\` must hold the recorded key metadata; got nothing`] };
    }
    const sha256 = sha256Hex(canonicalJson(record.key));
    const problems: string[] = [];
    if (sha256 !== record.sha256) {
        problems.push(`record \`${record.id}\`: the recorded key metadata has SHA-256 ${sha256}, the record says ${record.sha256}`);
    }
    const recorded = record.key as unknown as Partial<Record<ComparedField, unknown>>;
    const key = typeof recorded.arn === "string" ? recorded.arn : record.location;
    let live: Record<ComparedField, string>;
    try {
        live = await withClient(kmsClient(env), async (kms) => {
            const metadata = await describeKey(kms, key, env);
            return { ...pick(metadata), rotation: await rotationStatus(kms, metadata, env) };
        });
    } catch (err) {
        problems.push(`KMS key \`${key}\` of record \`${record.id}\` could not be read: ${(err as Error).message}`);
        return { ...base, sha256, problems };
    }
    const notRecorded = COMPARED.filter((name) => typeof recorded[name] !== "string");
    for (const name of COMPARED) {
        if (notRecorded.includes(name) || recorded[name] === live[name]) continue;
        // A multi-Region key passes through Updating while its replicas sync; both states encrypt and decrypt.
        if (name === "state" && USABLE_STATES.has(live.state) && USABLE_STATES.has(String(recorded.state))) continue;
        problems.push(
            `KMS key \`${key}\`: \`${name}\` is \`${live[name]}\` now; record \`${record.id}\` says \`${String(recorded[name])}\`` +
                (name === "state" ? ` (${stateHint(live.state, live.keyId)})` : ""),
        );
    }
    return { ...base, sha256, live, ...(notRecorded.length > 0 ? { notRecorded } : {}), problems };
}

function pick(metadata: KeyMetadata): Omit<Record<ComparedField, string>, "rotation"> {
    return { keyId: metadata.keyId, arn: metadata.arn, state: metadata.state, keySpec: metadata.keySpec };
}

function stateHint(state: string, keyId: string): string {
    if (state === "Disabled") return `enable it with \`aws kms enable-key --key-id ${keyId}\``;
    if (state === "PendingDeletion") return `cancel its deletion with \`aws kms cancel-key-deletion --key-id ${keyId}\``;
    return "a key must be Enabled to encrypt and decrypt";
}
