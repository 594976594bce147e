import { strict as assert } from "assert";
import { PostgresBackupRecord } from "../core/backupLog";
import { StoreRecordsReader, useStoreRecordsReader } from "../components/lastRelease";
import { storeFlags } from "../components/data/preUpgradeBackup";
import { ecsConfig } from "./support/fixtures";
import { resource } from "./support/inspect";
import { ProgramRun, runProgram } from "./support/mockEngine";
import { StackConfig } from "./support/mockProviders";

/** The data steps with an S3 backup store (`release:backup.store`), its records served by a stand-in of the store read. */

const STORE = "s3://shop-backups/prod";
const DATABASE_URL = "postgres://shop:s3cr3t-pw@db.internal:5432/shop";

function withStore(overrides: StackConfig = {}): StackConfig {
    return ecsConfig({
        "release:databaseUrl": DATABASE_URL,
        "release:database": { ledger: "prisma", criticalTables: ["users"] },
        "release:migrate": { command: "npx prisma migrate deploy", component: "api", quiesce: ["worker"] },
        "release:backup": { store: `${STORE}/`, keep: 3 },
        ...overrides,
    });
}

/** A pg_dump's record as `backup` writes it into the store; the mocked backup step prints the same id and time. */
function stored(version: string): PostgresBackupRecord {
    const id = `shop-${version}-20261122T101500.000Z`;
    return {
        id,
        kind: "postgres",
        app: "shop",
        version,
        time: "2026-11-22T10:15:00.000Z",
        size: 4096,
        sha256: "ab".repeat(32),
        location: `${STORE}/${id}.dump`,
        factsLocation: `${STORE}/${id}.facts.json`,
        database: "shop",
        verified: true,
    };
}

/** What the stand-in store holds; each read also records which store was asked. */
let held: PostgresBackupRecord[] = [];
const asked: string[] = [];
const standIn: StoreRecordsReader = async (store) => {
    asked.push(store);
    return held;
};

const secretKeys = ["release:databaseUrl"];
const command = (run: ProgramRun, name: string) => resource(run, "command:local:Command", name);

/** v1.4.2 deployed (its backup in the store), then v1.5.0 started: what the store and the outputs hold after. */
async function deployThenStart(): Promise<ProgramRun> {
    held = [];
    const first = await runProgram({ config: withStore({ "release:version": "v1.4.2" }), secretKeys });
    held = [stored("v1.4.2")];
    const config = withStore({ "release:version": "v1.5.0", "release:previous": "v1.4.2", "release:canaryWeight": 0 });
    const started = await runProgram({ config, secretKeys, lastOutputs: first.outputs });
    held = [stored("v1.4.2"), stored("v1.5.0")];
    return started;
}

describe("data steps with an S3 backup store (release:backup.store)", () => {
    beforeEach(() => {
        useStoreRecordsReader(standIn);
        asked.length = 0;
    });
    afterEach(() => useStoreRecordsReader(undefined));

    it("names the store in the backup, the store check and the prune, and reads the store's records", async () => {
        const run = await deployThenStart();
        const ops = "node ops/bin/safe-release-ops.js";
        assert.equal(
            command(run, "shop-backup-v1.5.0-pg-dump").inputs.create,
            `${ops} backup --kind postgres --store ${STORE} --app shop --version v1.5.0 --critical-tables users`,
        );
        assert.equal(command(run, "shop-preflight-v1.5.0-store-check").inputs.create, `${ops} store-check --store ${STORE}`);
        assert.equal(
            command(run, "shop-prune-v1.5.0").inputs.create,
            `${ops} prune --store ${STORE} --keep 3 --retention-days 7 --as-of 2026-11-22T10:15:00.000Z --protect shop-v1.5.0-20261122T101500.000Z`,
        );
        assert.deepEqual(asked, [STORE, STORE], "each run read the store, named without its trailing `/`");
    });

    it("stops no writer before the store took a write", async () => {
        const run = await deployThenStart();
        const stop = command(run, "shop-quiesce-v1.5.0-stop");
        const check = command(run, "shop-preflight-v1.5.0-store-check");
        assert.ok(stop.dependencies.includes(check.urn), `the writers' stop waits for ${check.name}`);
        assert.ok(!check.dependencies.includes(stop.urn));
        assert.ok(command(run, "shop-backup-v1.5.0-pg-dump").dependencies.includes(stop.urn));
    });

    it("restores from the store: the restore names it, no log file", async () => {
        const started = await deployThenStart();
        const id = "shop-v1.5.0-20261122T101500.000Z";
        const run = await runProgram({
            config: withStore({ "release:version": "v1.4.2", "release:restoreFrom": id }),
            secretKeys,
            lastOutputs: started.outputs,
        });
        assert.equal(
            command(run, `shop-restore-${id}-run`).inputs.create,
            `node ops/bin/safe-release-ops.js restore --id ${id} --store ${STORE}`,
        );
    });

    it("lets a failed update's backup, found only in the store, be restored on a fresh machine", async () => {
        const started = await deployThenStart();
        // v1.6.0's migration failed: the update recorded no outputs, but its backup reached the store.
        held = [...held, { ...stored("v1.6.0"), time: "2026-11-23T08:00:00.000Z", id: "shop-v1.6.0-20261123T080000.000Z" }];
        const run = await runProgram({
            config: withStore({ "release:version": "v1.5.0", "release:restoreFrom": "shop-v1.6.0-20261123T080000.000Z" }),
            secretKeys,
            lastOutputs: started.outputs,
        });
        assert.deepEqual([run.outputs.transition, run.outputs.schemaHead], ["restore", "v1.5.0"]);
    });

    it("refuses at preview to restore a backup pruned from the store, naming the newest restorable one", async () => {
        const started = await deployThenStart();
        held = [stored("v1.5.0")];
        await assert.rejects(
            runProgram({
                config: withStore({ "release:version": "v1.4.2", "release:restoreFrom": "shop-v1.4.2-20261122T101500.000Z" }),
                secretKeys,
                lastOutputs: started.outputs,
            }),
            {
                name: "ConfigError",
                message:
                    "`release:restoreFrom` names shop-v1.4.2-20261122T101500.000Z, which the backup store `s3://shop-backups/prod` no longer holds: " +
                    "it was pruned (`safe-release-ops prune`) or removed by hand, and its files with it; " +
                    "the newest restorable backup is shop-v1.5.0-20261122T101500.000Z (postgres, v1.5.0, 2026-11-22T10:15:00.000Z)",
                registered: [],
            },
        );
    });

    it("lists in the `backups` output only what the store still holds", async () => {
        const started = await deployThenStart();
        held = [stored("v1.5.0")];
        const run = await runProgram({
            config: withStore({ "release:version": "v1.5.0", "release:previous": "v1.4.2" }),
            secretKeys,
            lastOutputs: started.outputs,
        });
        assert.deepEqual(
            run.outputs.backups.map((b: { id: string }) => b.id),
            ["shop-v1.5.0-20261122T101500.000Z"],
        );
    });

    it("stops the update, naming the store and the cause, when the store cannot be read", async () => {
        useStoreRecordsReader(async () => {
            throw new Error(
                "S3 ListObjectsV2 of s3://shop-backups/prod/records/ failed: CredentialsProviderError: Could not load credentials from any providers",
            );
        });
        await assert.rejects(runProgram({ config: withStore({ "release:version": "v1.4.2" }), secretKeys }), {
            name: "ConfigError",
            message:
                "the backup store s3://shop-backups/prod (`release:backup.store`) could not be read: " +
                "S3 ListObjectsV2 of s3://shop-backups/prod/records/ failed: CredentialsProviderError: Could not load credentials from any providers. " +
                "Without its records the update cannot tell which recorded backups still exist (`release:restoreFrom`, the `backups` output), " +
                "so it stops rather than take the store for empty: give this machine read access to the bucket " +
                "(AWS credentials in the environment, e.g. AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) and run again",
            registered: [],
        });
    });
});

describe("storeFlags: how an ops step names the store", () => {
    const s3 = { kind: "s3", location: STORE, bucket: "shop-backups", prefix: "prod" } as const;
    const key = "arn:aws:kms:eu-west-1:123456789012:key/2f6c1a4e-7d3b-4c59-9e8a-0b1c2d3e4f50";

    it("an S3 store: `--store`, and the SSE key for the steps that write", () => {
        assert.deepEqual(storeFlags(s3, "read"), ["--store", STORE]);
        assert.deepEqual(storeFlags(s3, "write"), ["--store", STORE]);
        assert.deepEqual(storeFlags({ ...s3, sseKmsKeyId: key }, "write"), ["--store", STORE, "--sse-kms-key", key]);
        assert.deepEqual(storeFlags({ ...s3, sseKmsKeyId: key }, "read"), ["--store", STORE]);
    });

    it("a directory store: `--store`, or `--dir`/`--log` where its log sits elsewhere", () => {
        assert.deepEqual(storeFlags({ kind: "directory", location: "backups", log: "backups/backups.log" }, "write"), [
            "--store",
            "backups",
        ]);
        const elsewhere = { kind: "directory", location: "backups", log: "logs/backups.log" } as const;
        assert.deepEqual(storeFlags(elsewhere, "write"), ["--dir", "backups", "--log", "logs/backups.log"]);
        assert.deepEqual(storeFlags(elsewhere, "read"), ["--log", "logs/backups.log"]);
    });
});
