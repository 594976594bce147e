import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import {
    appendRecord,
    BackupRecord,
    backupId,
    BucketBackupRecord,
    KmsBackupRecord,
    KmsKeyFacts,
    DirectoryBackupRecord,
    backupStamp,
    parseLog,
    planPruning,
    PostgresBackupRecord,
    readLog,
    validateVersion,
    writeLogAtomically,
} from "../../ops/backupLog";
import { canonicalJson, sha256Hex } from "../../ops/aws/records";
import { backupDir, removeDir, runOps } from "./backupTestSupport";

const NOW = new Date("2026-11-22T12:00:00.000Z");
const DAY = 24 * 60 * 60 * 1000;

function record(id: string, ageDays: number, extra: Partial<PostgresBackupRecord> = {}): PostgresBackupRecord {
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

function directoryRecord(id: string, ageDays: number): DirectoryBackupRecord {
    const { factsLocation: _facts, database: _database, ...common } = record(id, ageDays, { location: `/backups/${id}.tar` });
    return { ...common, kind: "directory", source: "/var/lib/pebble", files: 3, contentBytes: 30, consistency: "quiesced" };
}

function bucketRecord(id: string, ageDays: number): BucketBackupRecord {
    const { factsLocation: _facts, database: _database, ...common } = record(id, ageDays, { location: `s3://shop-backups/uploads/${id}/` });
    return { ...common, kind: "bucket", source: "s3://shop-uploads/media/", files: 2 };
}

const KEY: KmsKeyFacts = {
    keyId: "1234abcd-12ab-34cd-56ef-1234567890ab",
    arn: "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    state: "Enabled",
    keyManager: "CUSTOMER",
    creationDate: "2024-03-01T10:20:30.123000+00:00",
    policy: '{"Version":"2012-10-17","Statement":[]}',
};

function kmsRecord(id: string, ageDays: number, key: KmsKeyFacts = KEY): KmsBackupRecord {
    const { factsLocation: _facts, database: _database, ...common } = record(id, ageDays, { location: KEY.arn });
    const canonical = canonicalJson(key);
    return { ...common, kind: "kms", size: Buffer.byteLength(canonical), sha256: sha256Hex(canonical), key };
}

const ids = (records: BackupRecord[]) => records.map((r) => r.id);

describe("backup log", () => {
    it("names backups by app, version and a sortable UTC stamp", () => {
        const at = new Date("2026-11-22T04:10:59.123Z");
        assert.equal(backupStamp(at), "20261122T041059.123Z");
        assert.equal(backupId("shop", "v1.4.2", at), "shop-v1.4.2-20261122T041059.123Z");
        assert.equal(validateVersion("v1.5.0-rc.1"), "v1.5.0-rc.1");
        assert.throws(() => validateVersion("latest"), { message: "`--version` must be a SemVer tag vX.Y.Z; got `latest`" });
    });

    it("ignores a trailing line cut short by a crash, but not damage in the middle", () => {
        const a = record("a", 1);
        const b = record("b", 2);
        const text = `${JSON.stringify(a)}\n${JSON.stringify(b)}\n{"id":"c","kind":"post`;
        assert.deepEqual(parseLog(text, "ops/backups.log"), [a, b]);
        assert.deepEqual(parseLog(`${JSON.stringify(a)}`, "ops/backups.log"), [a]);
        assert.throws(() => parseLog(`{"id":\n${JSON.stringify(a)}\n`, "ops/backups.log"), {
            message: "`ops/backups.log` line 1 must be one JSON backup record; it is not valid JSON",
        });
        assert.throws(() => parseLog(`${JSON.stringify(a)}\n{"id":"x"}\n`, "ops/backups.log"), {
            message: "`ops/backups.log` line 2 must be a backup record with `id`, `location` and `sha256`",
        });
    });

    it("refuses a line whose `kind` is not one the log holds", () => {
        const tape = JSON.stringify({ ...record("t", 1), kind: "tape" });
        assert.throws(() => parseLog(`${JSON.stringify(record("a", 1))}\n${tape}\n`, "ops/backups.log"), {
            message: '`ops/backups.log` line 2 `kind` must be one of postgres, directory, bucket, kms; got "tape"',
        });
        const { kind: _kind, ...kindless } = record("k", 1);
        assert.throws(() => parseLog(`${JSON.stringify(kindless)}\n`, "ops/backups.log"), {
            message: "`ops/backups.log` line 1 `kind` must be one of postgres, directory, bucket, kms; got nothing",
        });
    });

    it("reads every kind back with its own fields", () => {
        const all: BackupRecord[] = [record("p", 1), directoryRecord("d", 1), bucketRecord("b", 1), kmsRecord("k", 1)];
        const parsed = parseLog(all.map((r) => `${JSON.stringify(r)}\n`).join(""), "ops/backups.log");
        assert.deepEqual(parsed, all);
        assert.deepEqual(parsed.map((r) => r.kind), ["postgres", "directory", "bucket", "kms"]);
    });

    it("appends on a new line after a partial one and rewrites atomically", async () => {
        const dir = await backupDir();
        const log = path.join(dir, "ops", "backups.log");
        assert.deepEqual(readLog(log), []);
        appendRecord(log, record("a", 1));
        fs.appendFileSync(log, '{"id":"torn"');
        appendRecord(log, record("b", 0));
        assert.equal(fs.readFileSync(log, "utf8"), `${JSON.stringify(record("a", 1))}\n{"id":"torn"\n${JSON.stringify(record("b", 0))}\n`);
        assert.throws(() => readLog(log), { message: `\`${log}\` line 2 must be one JSON backup record; it is not valid JSON` });
        writeLogAtomically(log, [record("b", 0)]);
        assert.deepEqual(readLog(log), [record("b", 0)]);
        assert.deepEqual(fs.readdirSync(path.dirname(log)), ["backups.log"]);
        removeDir(dir);
    });
});

describe("planPruning", () => {
    it("keeps the newest `keep` and everything younger than `retentionDays`", () => {
        const records = [10, 20, 30, 1, 2, 40, 50, 60].map((age, i) => record(`r${i}-${age}d`, age));
        const doomed = planPruning(records, { keep: 3, retentionDays: 7, now: NOW });
        // Newest three: 1d, 2d, 10d; 1d and 2d are also within retention; the rest are old.
        assert.deepEqual(ids(doomed), ["r1-20d", "r2-30d", "r5-40d", "r6-50d", "r7-60d"]);
    });

    it("defaults to keep 5 and 7 days, and treats exactly 7 days old as expired", () => {
        const records = [0, 1, 6.99, 7, 8, 9, 10, 11].map((age, i) => record(`r${i}`, age));
        assert.deepEqual(ids(planPruning(records, { now: NOW })), ["r5", "r6", "r7"]);
        assert.deepEqual(ids(planPruning(records, { keep: 1, now: NOW })), ["r3", "r4", "r5", "r6", "r7"]);
    });

    it("never deletes a protected backup (the schema head's)", () => {
        const records = [1, 100, 200].map((age, i) => record(`r${i}`, age));
        assert.deepEqual(ids(planPruning(records, { keep: 1, now: NOW, protectedIds: ["r2"] })), ["r1"]);
    });

    it("counts only verified backups toward `keep`, per app and kind", () => {
        const records = [
            record("shop-bad", 20, { verified: false }),
            record("shop-good", 30),
            record("shop-older", 40),
            directoryRecord("pebble-dir", 50),
            record("billing", 60, { app: "billing" }),
        ];
        assert.deepEqual(ids(planPruning(records, { keep: 1, retentionDays: 7, now: NOW })), ["shop-bad", "shop-older"]);
    });

    it("keeps a record whose time does not parse rather than deleting it blind", () => {
        assert.deepEqual(planPruning([record("odd", 100, { time: "yesterday" })], { keep: 1, retentionDays: 0, now: NOW }), []);
    });

    it("rejects a policy that would keep nothing", () => {
        assert.throws(() => planPruning([], { keep: 0, now: NOW }), { message: "`--keep` must be an integer of at least 1; got 0" });
        assert.throws(() => planPruning([], { retentionDays: -1, now: NOW }), {
            message: "`--retention-days` must be a number of at least 0; got -1",
        });
    });
});

describe("prune command", () => {
    async function fixture(): Promise<{ dir: string; log: string; records: BackupRecord[] }> {
        const dir = await backupDir();
        const log = path.join(dir, "backups.log");
        const now = Date.now();
        const records = [30, 20, 10, 0.5].map((age, i) => {
            const r = record(`shop-v1.0.${i}`, 0, { time: new Date(now - age * DAY).toISOString(), location: path.join(dir, `b${i}.dump`), factsLocation: path.join(dir, `b${i}.dump.facts.json`) });
            fs.writeFileSync(r.location, `dump ${i}`);
            fs.writeFileSync(r.factsLocation, "{}");
            appendRecord(log, r);
            return r;
        });
        return { dir, log, records };
    }

    it("deletes files and facts of pruned backups and rewrites the log", async () => {
        const { dir, log, records } = await fixture();
        const run = await runOps(["prune", "--log", log, "--keep", "1", "--retention-days", "7", "--protect", "shop-v1.0.0"], process.env);
        assert.equal(run.code, 0, run.stderr);
        const result = JSON.parse(run.stdout);
        assert.deepEqual(result.deleted.map((d: { id: string }) => d.id), ["shop-v1.0.1", "shop-v1.0.2"]);
        assert.deepEqual(result.kept, ["shop-v1.0.0", "shop-v1.0.3"]);
        assert.deepEqual(readLog(log), [records[0], records[3]]);
        assert.deepEqual(fs.readdirSync(dir).sort(), ["b0.dump", "b0.dump.facts.json", "b3.dump", "b3.dump.facts.json", "backups.log"]);
        assert.equal(run.stderr, "deleted shop-v1.0.1\ndeleted shop-v1.0.2\n");
        removeDir(dir);
    });

    it("--dry-run reports the same plan and changes nothing", async () => {
        const { dir, log } = await fixture();
        const before = fs.readFileSync(log, "utf8");
        const run = await runOps(["prune", "--log", log, "--keep", "1", "--dry-run"], process.env);
        assert.equal(run.code, 0);
        assert.deepEqual(JSON.parse(run.stdout).deleted.map((d: { id: string }) => d.id), ["shop-v1.0.0", "shop-v1.0.1", "shop-v1.0.2"]);
        assert.equal(fs.readFileSync(log, "utf8"), before);
        assert.equal(fs.readdirSync(dir).length, 9);
        removeDir(dir);
    });

    it("refuses to protect an id the log does not know (a typo would expose the schema head's backup)", async () => {
        const { dir, log } = await fixture();
        const run = await runOps(["prune", "--log", log, "--protect", "shop-v1.0.9"], process.env);
        assert.deepEqual([run.code, run.stderr], [2, `prune: \`--protect\` must name backups recorded in \`${log}\`; unknown: shop-v1.0.9\n`]);
        const bad = await runOps(["prune", "--log", log, "--keep", "many"], process.env);
        assert.deepEqual([bad.code, bad.stderr], [2, "prune: `--keep` must be a number; got `many`\n"]);
        removeDir(dir);
    });
});

describe("restore of records it does not restore", () => {
    it("refuses a bucket copy and a key record with how to put them back, touching nothing", async () => {
        const dir = await backupDir();
        const log = path.join(dir, "backups.log");
        const bucket = bucketRecord("shop-v1.0.0-bucket", 1);
        const kms = kmsRecord("shop-v1.0.0-kms", 1);
        appendRecord(log, bucket);
        appendRecord(log, kms);
        const before = fs.readFileSync(log, "utf8");
        const byBucket = await runOps(["restore", "--id", bucket.id, "--log", log], { PATH: process.env.PATH });
        assert.deepEqual([byBucket.code, byBucket.stdout, byBucket.stderr], [
            2,
            "",
            "restore: `--id` must name a postgres or directory backup; `shop-v1.0.0-bucket` is a bucket copy: " +
                "restore it with `aws s3 sync s3://shop-backups/uploads/shop-v1.0.0-bucket/ s3://shop-uploads/media/`\n",
        ]);
        const byKey = await runOps(["restore", "--id", kms.id, "--log", log], { PATH: process.env.PATH });
        assert.deepEqual([byKey.code, byKey.stdout, byKey.stderr], [
            2,
            "",
            "restore: `--id` must name a postgres or directory backup; `shop-v1.0.0-kms` is a KMS key record (metadata only): " +
                `compare it with \`aws kms describe-key --key-id ${KEY.arn}\`\n`,
        ]);
        assert.equal(fs.readFileSync(log, "utf8"), before);
        removeDir(dir);
    });
});
