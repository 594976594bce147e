import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { Writable } from "stream";
import { appendRecord, BackupRecord, readLog } from "../../core/backupLog";
import { listedBackups } from "../../components/backupListing";
import type { ListedBackup } from "../../components/data/preUpgradeBackup";
import { LastRelease, planRelease } from "../../components/plan";
import { main } from "../../ops/cli";
import { atTestEnd, tempDir } from "../support/processes";
import { bucketRecord, DAY, kmsRecord, NOW, record } from "./recordFixtures";

async function ops(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const out = { stdout: "", stderr: "" };
    const sink = (key: "stdout" | "stderr") =>
        new Writable({
            write(chunk, _enc, done) {
                out[key] += chunk;
                done();
            },
        });
    const code = await main(argv, { env: {}, stdout: sink("stdout"), stderr: sink("stderr") });
    return { code, ...out };
}

const at = (days: number) => new Date(NOW.getTime() - days * DAY).toISOString();
const listed = (r: BackupRecord): ListedBackup => ({ ...r, schemaHead: "v1.0.0" });

/**
 * A stack that has run for weeks: the outputs list every backup the old 20-record
 * window carried, the log holds what exists, and this update has just backed up.
 */
async function history() {
    const dir = await tempDir("prune-listing-");
    atTestEnd(async () => fs.rmSync(dir, { recursive: true, force: true }));
    const log = path.join(dir, "backups.log");
    const inDir = (r: BackupRecord): BackupRecord =>
        r.kind === "postgres" ? { ...r, location: path.join(dir, `${r.id}.dump`), factsLocation: path.join(dir, `${r.id}.facts.json`) } : r;
    const known = [
        record("shop-v1.0.1", 40, { time: at(40) }),
        record("shop-v1.0.2", 30, { time: at(30) }),
        record("shop-v1.0.3", 20, { time: at(20), verified: false }),
        record("shop-v1.0.4", 12, { time: at(12) }),
        record("shop-v1.0.5", 9, { time: at(9) }),
        record("shop-v1.0.6", 3, { time: at(3) }),
        { ...bucketRecord("shop-bucket-v1.0.2", 30), time: at(30) },
        { ...kmsRecord("shop-kms-v1.0.2", 30), time: at(30) },
    ].map(inDir);
    // Taken by hand, never in the outputs: it still takes one of prune's `keep` places.
    const manual = inDir(record("shop-manual", 8, { time: at(8) }));
    const otherApp = inDir(record("billing-v3.0.0", 40, { time: at(40), app: "billing" }));
    for (const r of [...known, manual, otherApp]) appendRecord(log, r);
    // Pruned by hand long ago: still in the outputs, gone from the log.
    const gone = listed(record("shop-v1.0.0", 50, { time: at(50) }));
    const snapshot: ListedBackup = { id: "shop-v1-0-6-pre-upgrade", kind: "rds-snapshot", app: "shop", version: "v1.0.6" };
    const last: LastRelease = {
        version: "v1.0.6",
        schemaHead: "v1.0.6",
        backups: [gone, ...known.map(listed), snapshot],
        backupLog: { path: log, records: readLog(log) },
    };
    const fresh = listed(inDir(record("shop-v1.1.0", 0, { time: NOW.toISOString(), version: "v1.1.0" })));
    return { log, last, fresh, snapshot };
}

describe("the `backups` output and `prune` keep the same set", function () {
    // The first in-process ops run loads the command modules: seconds on a loaded machine.
    this.timeout(30_000);
    it("lists exactly what this update's prune step keeps of the backups the stack knows", async () => {
        const { log, last, fresh, snapshot } = await history();
        const listing = listedBackups(last, [fresh, snapshot], { keep: 3, retentionDays: 7 });
        // Kept per kind: the 3 newest verified dumps (v1.1.0, v1.0.6, the manual one) and anything under 7 days,
        // the only key record, and the bucket copy's line (prune never deletes a remote copy).
        assert.deepEqual(
            listing.map((b) => b.id),
            ["shop-v1.0.6", "shop-bucket-v1.0.2", "shop-kms-v1.0.2", "shop-v1.1.0", snapshot.id],
        );

        appendRecord(log, fresh as unknown as BackupRecord);
        const run = await ops([
            "prune",
            "--log",
            log,
            "--keep",
            "3",
            "--retention-days",
            "7",
            "--protect",
            fresh.id,
            "--as-of",
            NOW.toISOString(),
        ]);
        assert.equal(run.code, 0, run.stderr);
        const kept = new Set<string>(JSON.parse(run.stdout).kept);
        const stackKnows = [...(last.backups ?? []), fresh].filter((b) => b.kind !== "rds-snapshot").map((b) => b.id);
        assert.deepEqual(
            stackKnows.filter((id) => kept.has(id)),
            listing.filter((b) => b.kind !== "rds-snapshot").map((b) => b.id),
        );
        assert.ok(kept.has("shop-manual") && kept.has("billing-v3.0.0"), "what the stack does not know is prune's alone to judge");

        // The next update reads the pruned log: the listing is what it was, nothing more is dropped.
        const next: LastRelease = { ...last, backups: listing, backupLog: { path: log, records: readLog(log) } };
        assert.deepEqual(listedBackups(next, [], { keep: 3, retentionDays: 7 }), listing);
    });

    it("refuses at preview to restore a pruned backup, naming it and the newest restorable one", async () => {
        const { log, last } = await history();
        const plan = () => planRelease({ version: "v1.0.0", canaryWeight: 100, restoreFrom: "shop-v1.0.0" }, last);
        assert.throws(plan, {
            name: "ConfigError",
            message:
                `\`release:restoreFrom\` names shop-v1.0.0, which the backup log \`${log}\` no longer holds: it was pruned ` +
                "(`safe-release-ops prune`) or removed by hand, and its files with it; " +
                `the newest restorable backup is shop-v1.0.6 (postgres, v1.0.0, ${at(3)})`,
        });
        assert.equal(
            planRelease({ version: "v1.0.0", canaryWeight: 100, restoreFrom: "shop-v1.0.5" }, last).transition,
            "restore",
            "a backup the log still holds restores",
        );
    });

    it("refuses an id the stack never recorded, naming the newest restorable one", async () => {
        const { last } = await history();
        assert.throws(() => planRelease({ version: "v1.0.0", canaryWeight: 100, restoreFrom: "shop-v9.9.9" }, last), {
            message:
                "`release:restoreFrom` names shop-v9.9.9, which this stack has not recorded; " +
                `the newest restorable backup is shop-v1.0.6 (postgres, v1.0.0, ${at(3)}); recorded backups: ` +
                "shop-v1.0.1, shop-v1.0.2, shop-v1.0.3, shop-v1.0.4, shop-v1.0.5, shop-v1.0.6, shop-bucket-v1.0.2, shop-kms-v1.0.2, shop-v1-0-6-pre-upgrade",
        });
        assert.throws(() => planRelease({ version: "v1.0.0", canaryWeight: 100, restoreFrom: "shop-v9.9.9" }, {}), {
            message:
                "`release:restoreFrom` names shop-v9.9.9, which this stack has not recorded; " +
                "no backup this stack recorded can be restored (see the `backups` stack output)",
        });
    });

    it("takes the outputs as they are when the log does not exist here", async () => {
        const { last, fresh } = await history();
        const { backupLog: _log, ...withoutLog } = last;
        assert.deepEqual(
            listedBackups(withoutLog, [fresh], { keep: 1, retentionDays: 0 }).map((b) => b.id),
            [...(last.backups ?? []).map((b) => b.id), fresh.id],
        );
    });

    it("prune measures age from `--as-of` and refuses a time it cannot read", async () => {
        const { log } = await history();
        const asOf = async (time: string) =>
            ops(["prune", "--log", log, "--keep", "1", "--retention-days", "7", "--dry-run", "--as-of", time]);
        const deleted = async (time: string) => JSON.parse((await asOf(time)).stdout).deleted.map((d: { id: string }) => d.id);
        // Ten days earlier, v1.0.4 (12 days old now) was 2 days old: within retention.
        assert.ok((await deleted(NOW.toISOString())).includes("shop-v1.0.4"));
        assert.ok(!(await deleted(at(10))).includes("shop-v1.0.4"));
        const bad = await asOf("last tuesday");
        assert.deepEqual(
            [bad.code, bad.stderr],
            [2, "prune: `--as-of` must be an ISO-8601 time such as 2026-11-22T10:15:00.000Z; got `last tuesday`\n"],
        );
    });
});
