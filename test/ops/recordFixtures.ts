import { canonicalJson, sha256Hex } from "../../ops/aws/records";
import { BucketBackupRecord, DirectoryBackupRecord, KmsBackupRecord, KmsKeyFacts, PostgresBackupRecord } from "../../core/backupLog";

/** Records of every kind for log, prune and verify tests, aged relative to `NOW`. */
export const NOW = new Date("2026-11-22T12:00:00.000Z");
export const DAY = 24 * 60 * 60 * 1000;

export function record(id: string, ageDays: number, extra: Partial<PostgresBackupRecord> = {}): PostgresBackupRecord {
    return {
        id,
        kind: "postgres",
        app: "shop",
        version: "v1.0.0",
        time: new Date(NOW.getTime() - ageDays * DAY).toISOString(),
        size: 10,
        sha256: "0".repeat(64),
        location: `/backups/${id}.dump`,
        factsLocation: `/backups/${id}.dump.facts.json`,
        verified: true,
        database: "shop",
        ...extra,
    };
}

export function directoryRecord(id: string, ageDays: number): DirectoryBackupRecord {
    const { factsLocation: _facts, database: _database, ...common } = record(id, ageDays, { location: `/backups/${id}.tar` });
    return { ...common, kind: "directory", source: "/var/lib/pebble", files: 3, contentBytes: 30, consistency: "quiesced" };
}

export function bucketRecord(id: string, ageDays: number): BucketBackupRecord {
    const { factsLocation: _facts, database: _database, ...common } = record(id, ageDays, { location: `s3://shop-backups/uploads/${id}/` });
    return { ...common, kind: "bucket", source: "s3://shop-uploads/media/", files: 2 };
}

export const KEY: KmsKeyFacts = {
    keyId: "1234abcd-12ab-34cd-56ef-1234567890ab",
    arn: "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    state: "Enabled",
    keyManager: "CUSTOMER",
    creationDate: "2024-03-01T10:20:30.123000+00:00",
    policy: '{"Version":"2012-10-17","Statement":[]}',
};

export function kmsRecord(id: string, ageDays: number, key: KmsKeyFacts = KEY): KmsBackupRecord {
    const { factsLocation: _facts, database: _database, ...common } = record(id, ageDays, { location: KEY.arn });
    const canonical = canonicalJson(key);
    return { ...common, kind: "kms", size: Buffer.byteLength(canonical), sha256: sha256Hex(canonical), key };
}
