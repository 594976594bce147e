import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { appendRecord, BackupRecord, DirectoryBackupRecord, planPruning, readLog } from "../../core/backupLog";
import { pruneAction, pruneLine } from "../../ops/commands/prune";
import { backupDir, removeDir, runOps } from "./backupTestSupport";
import { bucketRecord, DAY, directoryRecord, KEY, kmsRecord, NOW, record } from "./recordFixtures";

const ids = (records: BackupRecord[]) => records.map((r) => r.id);

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
            const r = record(`shop-v1.0.${i}`, 0, {
                time: new Date(now - age * DAY).toISOString(),
                location: path.join(dir, `b${i}.dump`),
                factsLocation: path.join(dir, `b${i}.dump.facts.json`),
            });
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
        assert.deepEqual(
            result.deleted.map((d: { id: string }) => d.id),
            ["shop-v1.0.1", "shop-v1.0.2"],
        );
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
        assert.deepEqual(
            JSON.parse(run.stdout).deleted.map((d: { id: string }) => d.id),
            ["shop-v1.0.0", "shop-v1.0.1", "shop-v1.0.2"],
        );
        assert.equal(fs.readFileSync(log, "utf8"), before);
        assert.equal(fs.readdirSync(dir).length, 9);
        removeDir(dir);
    });

    it("refuses to protect an id the log does not know (a typo would expose the schema head's backup)", async () => {
        const { dir, log } = await fixture();
        const run = await runOps(["prune", "--log", log, "--protect", "shop-v1.0.9"], process.env);
        assert.deepEqual(
            [run.code, run.stderr],
            [2, `prune: \`--protect\` must name backups recorded in \`${log}\`; unknown: shop-v1.0.9\n`],
        );
        const bad = await runOps(["prune", "--log", log, "--keep", "many"], process.env);
        assert.deepEqual([bad.code, bad.stderr], [2, "prune: `--keep` must be a number; got `many`\n"]);
        removeDir(dir);
    });
});

describe("pruning each kind", () => {
    it("deletes local files, drops a key record's line, and keeps a bucket copy with the command that deletes it", () => {
        assert.deepEqual(pruneAction(record("p", 30)), { action: "remove", files: ["/backups/p.dump", "/backups/p.dump.facts.json"] });
        assert.deepEqual(pruneAction(directoryRecord("d", 30)), { action: "remove", files: ["/backups/d.tar"] });
        assert.deepEqual(pruneAction(kmsRecord("k", 30)), { action: "remove", files: [] });
        assert.deepEqual(pruneAction(bucketRecord("b", 30)), {
            action: "keep-remote",
            command: "aws s3 rm --recursive s3://shop-backups/uploads/b/",
        });
    });

    it("says what happened to each, or would happen on a dry run", () => {
        const lines = (dryRun: boolean) =>
            [record("p", 30), kmsRecord("k", 30), bucketRecord("b", 30)].map((r) => pruneLine(r, pruneAction(r), dryRun));
        assert.deepEqual(lines(false), [
            "deleted p",
            "dropped k: key record, metadata only (no file to delete)",
            "kept b: remote copy, delete with `aws s3 rm --recursive s3://shop-backups/uploads/b/` when no longer needed",
        ]);
        assert.deepEqual(lines(true), [
            "would delete p",
            "would drop k: key record, metadata only (no file to delete)",
            "kept b: remote copy, delete with `aws s3 rm --recursive s3://shop-backups/uploads/b/` when no longer needed",
        ]);
    });

    async function mixedLog(): Promise<{ dir: string; log: string; records: BackupRecord[] }> {
        const dir = await backupDir();
        const log = path.join(dir, "backups.log");
        const now = Date.now();
        const at = (days: number) => new Date(now - days * DAY).toISOString();
        const dump = record("shop-pg-old", 0, {
            time: at(30),
            location: path.join(dir, "old.dump"),
            factsLocation: path.join(dir, "old.dump.facts.json"),
        });
        const archive: DirectoryBackupRecord = { ...directoryRecord("shop-dir-old", 0), time: at(30), location: path.join(dir, "old.tar") };
        const records: BackupRecord[] = [
            dump,
            archive,
            { ...bucketRecord("shop-bucket-old", 0), time: at(30) },
            { ...kmsRecord("shop-kms-old", 0), time: at(30) },
            record("shop-pg-new", 0, {
                time: at(1),
                location: path.join(dir, "new.dump"),
                factsLocation: path.join(dir, "new.dump.facts.json"),
            }),
            { ...directoryRecord("shop-dir-new", 0), time: at(1), location: path.join(dir, "new.tar") },
            { ...bucketRecord("shop-bucket-new", 0), time: at(1) },
            { ...kmsRecord("shop-kms-new", 0), time: at(1) },
        ];
        for (const file of ["old.dump", "old.dump.facts.json", "old.tar", "new.dump", "new.dump.facts.json", "new.tar"])
            fs.writeFileSync(path.join(dir, file), file);
        for (const r of records) appendRecord(log, r);
        return { dir, log, records };
    }

    it("prune removes local backups and key records, keeps the bucket copy in the log and names it", async () => {
        const { dir, log, records } = await mixedLog();
        const run = await runOps(["prune", "--log", log, "--keep", "1"], process.env);
        assert.equal(run.code, 0, run.stderr);
        assert.deepEqual(JSON.parse(run.stdout), {
            dryRun: false,
            deleted: [
                {
                    id: "shop-pg-old",
                    kind: "postgres",
                    location: path.join(dir, "old.dump"),
                    time: records[0].time,
                    files: [path.join(dir, "old.dump"), path.join(dir, "old.dump.facts.json")],
                },
                {
                    id: "shop-dir-old",
                    kind: "directory",
                    location: path.join(dir, "old.tar"),
                    time: records[1].time,
                    files: [path.join(dir, "old.tar")],
                },
                { id: "shop-kms-old", kind: "kms", location: KEY.arn, time: records[3].time, files: [] },
            ],
            remoteKept: [
                {
                    id: "shop-bucket-old",
                    location: "s3://shop-backups/uploads/shop-bucket-old/",
                    time: records[2].time,
                    command: "aws s3 rm --recursive s3://shop-backups/uploads/shop-bucket-old/",
                },
            ],
            kept: ["shop-bucket-old", "shop-pg-new", "shop-dir-new", "shop-bucket-new", "shop-kms-new"],
        });
        assert.equal(
            run.stderr,
            [
                "deleted shop-pg-old",
                "deleted shop-dir-old",
                "kept shop-bucket-old: remote copy, delete with `aws s3 rm --recursive s3://shop-backups/uploads/shop-bucket-old/` when no longer needed",
                "dropped shop-kms-old: key record, metadata only (no file to delete)",
                "",
            ].join("\n"),
        );
        assert.deepEqual(readLog(log), [records[2], ...records.slice(4)]);
        assert.deepEqual(fs.readdirSync(dir).sort(), ["backups.log", "new.dump", "new.dump.facts.json", "new.tar"]);
        removeDir(dir);
    });

    it("prune --dry-run lists the same for every kind and changes nothing", async () => {
        const { dir, log } = await mixedLog();
        const before = fs.readFileSync(log, "utf8");
        const run = await runOps(["prune", "--log", log, "--keep", "1", "--dry-run"], process.env);
        assert.equal(run.code, 0, run.stderr);
        const result = JSON.parse(run.stdout);
        assert.deepEqual(
            [result.deleted.map((d: { id: string }) => d.id), result.remoteKept.map((d: { id: string }) => d.id), result.kept],
            [
                ["shop-pg-old", "shop-dir-old", "shop-kms-old"],
                ["shop-bucket-old"],
                ["shop-bucket-old", "shop-pg-new", "shop-dir-new", "shop-bucket-new", "shop-kms-new"],
            ],
        );
        assert.equal(run.stderr.split("\n")[0], "would delete shop-pg-old");
        assert.equal(fs.readFileSync(log, "utf8"), before);
        assert.equal(fs.readdirSync(dir).length, 7);
        removeDir(dir);
    });
});
