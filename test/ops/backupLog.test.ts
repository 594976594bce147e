import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { appendRecord, BackupRecord, backupId, backupStamp, parseLog, readLog, writeLogAtomically } from "../../core/backupLog";
import { validateVersion } from "../../ops/validate";
import { backupDir, removeDir, runOps, versionRule } from "./backupTestSupport";
import { bucketRecord, directoryRecord, KEY, kmsRecord, record } from "./recordFixtures";

describe("backup log", () => {
    it("names backups by app, version and a sortable UTC stamp", () => {
        const at = new Date("2026-11-22T04:10:59.123Z");
        assert.equal(backupStamp(at), "20261122T041059.123Z");
        assert.equal(backupId("shop", "v1.4.2", at), "shop-v1.4.2-20261122T041059.123Z");
        assert.equal(validateVersion("v1.5.0-rc.1"), "v1.5.0-rc.1");
        assert.throws(() => validateVersion("latest"), { message: versionRule("latest") });
        // The stack's own tag rule: no build metadata, no leading zeros.
        assert.throws(() => validateVersion("v1.5.0+build.7"), { message: versionRule("v1.5.0+build.7") });
        assert.throws(() => validateVersion("v01.5.0", "fix-forward-from"), { message: versionRule("v01.5.0", "fix-forward-from") });
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
        assert.deepEqual(
            parsed.map((r) => r.kind),
            ["postgres", "directory", "bucket", "kms"],
        );
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
        assert.deepEqual(
            [byBucket.code, byBucket.stdout, byBucket.stderr],
            [
                2,
                "",
                "restore: `--id` must name a postgres or directory backup; `shop-v1.0.0-bucket` is a bucket copy: " +
                    "restore it with `aws s3 sync s3://shop-backups/uploads/shop-v1.0.0-bucket/ s3://shop-uploads/media/`\n",
            ],
        );
        const byKey = await runOps(["restore", "--id", kms.id, "--log", log], { PATH: process.env.PATH });
        assert.deepEqual(
            [byKey.code, byKey.stdout, byKey.stderr],
            [
                2,
                "",
                "restore: `--id` must name a postgres or directory backup; `shop-v1.0.0-kms` is a KMS key record (metadata only): " +
                    `compare it with \`aws kms describe-key --key-id ${KEY.arn}\`\n`,
            ],
        );
        assert.equal(fs.readFileSync(log, "utf8"), before);
        removeDir(dir);
    });
});
