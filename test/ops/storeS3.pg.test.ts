import { strict as assert } from "assert";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { CreateKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import * as fs from "fs";
import * as path from "path";
import { awsClientConfig } from "../../core/awsClient";
import { DirectoryBackupRecord, PostgresBackupRecord } from "../../core/backupLog";
import { parseStore, readStoreRecords } from "../../core/storeRecords";
import { openStore } from "../../ops/store/backupStore";
import { startMoto, TestMoto } from "../support/moto";
import { testPostgres, TestPostgres } from "../support/postgres";
import { tempDir } from "../support/processes";
import { opsEnv, runOps, seedAppDatabase } from "./backupTestSupport";
import { createBucket, head, keysUnder, objectBytes, sha256, splitUrl, testS3 } from "./storeTestSupport";

/** What restore must leave alone: the live database's rows, in order. */
async function contents(pg: TestPostgres, db: string): Promise<string> {
    return pg.psql(db, "SELECT id, email, balance FROM users ORDER BY id; SELECT count(*) FROM projects;");
}

async function databasesLike(pg: TestPostgres, pattern: string): Promise<string[]> {
    const out = await pg.psql("postgres", `SELECT datname FROM pg_database WHERE datname LIKE '${pattern}' ORDER BY 1;`);
    return out === "" ? [] : out.split("\n");
}

describe("backup store on S3 (moto) with real PostgreSQL", function () {
    this.timeout(120_000);
    let moto: TestMoto;
    let s3: S3Client;
    let pg: TestPostgres;
    let db: string;
    let env: NodeJS.ProcessEnv;
    let keyId: string;
    const bucket = "shop-backups";
    const store = `s3://${bucket}/prod/shop`;
    let dump: PostgresBackupRecord;
    let archive: DirectoryBackupRecord;
    let data: string;
    let kmsRecordId: string;

    before(async () => {
        [moto, pg] = await Promise.all([startMoto(), testPostgres()]);
        s3 = testS3(moto);
        await createBucket(s3, bucket);
        const kms = new KMSClient(awsClientConfig(moto.env, "KMS"));
        keyId = (await kms.send(new CreateKeyCommand({ Description: "backup store" }))).KeyMetadata!.KeyId!;
        kms.destroy();
        db = await seedAppDatabase(pg, "store_s3");
        env = { ...opsEnv(pg, db), ...moto.env, PATH: process.env.PATH };
        data = await tempDir("safe-release-store-data-");
        fs.mkdirSync(path.join(data, "sst"));
        fs.writeFileSync(path.join(data, "sst", "000001.sst"), Buffer.alloc(300_000, 7));
        fs.writeFileSync(path.join(data, "MANIFEST"), "manifest\n");
    });
    after(async () => {
        s3?.destroy();
        fs.rmSync(data, { recursive: true, force: true });
        await moto?.stop();
    });

    it("backs a database up into the store: the object's bytes hash to the record's sha256, AES256 by default", async () => {
        const run = await runOps(
            [
                "backup",
                "--kind",
                "postgres",
                "--app",
                "shop",
                "--version",
                "v1.4.2",
                "--store",
                store,
                "--critical-tables",
                "users,projects",
            ],
            env,
        );
        assert.equal(run.code, 0, run.stderr);
        dump = JSON.parse(run.stdout);
        assert.match(dump.location, new RegExp(`^s3://${bucket}/prod/shop/${dump.id}\\.dump`));
        assert.equal(dump.factsLocation, `${dump.location}.facts.json`);
        assert.equal(dump.verified, true);
        const bytes = await objectBytes(s3, dump.location);
        assert.deepEqual([bytes.length, sha256(bytes)], [dump.size, dump.sha256]);
        const facts = JSON.parse((await objectBytes(s3, dump.factsLocation)).toString());
        assert.deepEqual(facts.rowCounts, { users: 500, projects: 120 });
        for (const url of [dump.location, dump.factsLocation, `s3://${bucket}/prod/shop/records/${dump.id}.json`]) {
            assert.equal((await head(s3, url))?.ServerSideEncryption, "AES256", url);
        }
        assert.deepEqual(JSON.parse((await objectBytes(s3, `s3://${bucket}/prod/shop/records/${dump.id}.json`)).toString()), dump);
        // Nothing else is left in the store: no probe, no upload marker.
        assert.deepEqual(
            await keysUnder(s3, bucket, "prod/shop/"),
            [splitUrl(dump.location).Key, splitUrl(dump.factsLocation).Key, `prod/shop/records/${dump.id}.json`].sort(),
        );
    });

    it("archives a directory into the store with --sse-kms-key: aws:kms with that key", async () => {
        const run = await runOps(
            [
                "backup",
                "--kind",
                "directory",
                "--path",
                data,
                "--app",
                "shop",
                "--version",
                "v1.4.2",
                "--store",
                store,
                "--sse-kms-key",
                keyId,
            ],
            env,
        );
        assert.equal(run.code, 0, run.stderr);
        archive = JSON.parse(run.stdout);
        assert.equal(archive.location, `s3://${bucket}/prod/shop/${archive.id}.tar`);
        assert.deepEqual([archive.files, archive.contentBytes, archive.verified], [2, 300_009, true]);
        const bytes = await objectBytes(s3, archive.location);
        assert.deepEqual([bytes.length, sha256(bytes)], [archive.size, archive.sha256]);
        const stored = await head(s3, archive.location);
        assert.equal(stored?.ServerSideEncryption, "aws:kms");
        assert.match(stored?.SSEKMSKeyId ?? "", new RegExp(keyId));
        assert.match(run.stderr, /\nverified \(checksum read back, archive readable\) in \d+\.\d s\n$/);
    });

    it("kms-record --store adds its record as one object, encrypted with --sse-kms-key", async () => {
        const run = await runOps(
            ["kms-record", "--key", keyId, "--app", "shop", "--version", "v1.4.2", "--store", store, "--sse-kms-key", keyId],
            env,
        );
        assert.equal(run.code, 0, run.stderr);
        const record = JSON.parse(run.stdout);
        const url = `s3://${bucket}/prod/shop/records/${record.id}.json`;
        assert.deepEqual(JSON.parse((await objectBytes(s3, url)).toString()), record);
        assert.equal((await head(s3, url))?.ServerSideEncryption, "aws:kms");
        assert.deepEqual(
            (await readStoreRecords(store, env)).map((r) => r.id),
            [dump.id, archive.id, record.id],
        );
        kmsRecordId = record.id;
    });

    it("lists the store's records, oldest first, for the ops commands and the program alike", async () => {
        const records = await readStoreRecords(store, env);
        assert.deepEqual(records.slice(0, 2), [dump, archive]);
        assert.deepEqual(
            records.slice(2).map((r) => r.id),
            [kmsRecordId],
        );
        // If-None-Match: * — a record once written is never replaced (moto honours it, as S3 does).
        const opened = openStore(parseStore(store), { env });
        await assert.rejects(opened.appendRecord({ ...dump, verified: false }), /PreconditionFailed/);
        opened.close();
        assert.deepEqual(await readStoreRecords(store, env), records);
    });

    it("verify --id and restore --drill download, check the checksum, and pass", async () => {
        for (const record of [dump, archive]) {
            const verified = await runOps(["verify", "--id", record.id, "--store", store], env);
            assert.equal(verified.code, 0, verified.stderr);
            const result = JSON.parse(verified.stdout);
            assert.deepEqual([result.ok, result.file, result.sha256, result.contentVerified], [true, record.location, record.sha256, true]);
        }
        const before = await contents(pg, db);
        const drill = await runOps(["restore", "--id", dump.id, "--store", store, "--drill"], env);
        assert.equal(drill.code, 0, drill.stderr);
        assert.deepEqual(JSON.parse(drill.stdout).facts, { ledgers: { _prisma_migrations: 2 }, rowCounts: { users: 500, projects: 120 } });
        assert.equal(await contents(pg, db), before);
    });

    it("a stored dump with one byte changed fails verify and restore before the database is touched", async () => {
        const bytes = await objectBytes(s3, dump.location);
        bytes[Math.floor(bytes.length / 2)] ^= 0x01;
        await s3.send(new PutObjectCommand({ ...splitUrl(dump.location), Body: bytes }));
        const mismatch = `checksum mismatch for \`${dump.location}\`: expected sha256 ${dump.sha256}, got ${sha256(bytes)}`;
        await pg.psql(db, "DELETE FROM projects WHERE id > 100;");
        const live = await contents(pg, db);

        const verified = await runOps(["verify", "--id", dump.id, "--store", store], env);
        assert.equal(verified.code, 1);
        assert.ok(verified.stderr.endsWith(`verify: ${mismatch}\n`), verified.stderr);
        assert.equal(JSON.parse(verified.stdout).ok, false);

        const restored = await runOps(["restore", "--id", dump.id, "--store", store], env);
        assert.equal(restored.code, 1);
        assert.ok(restored.stderr.endsWith(`restore: ${mismatch}\nrestore: failed; the live data was not touched\n`), restored.stderr);
        assert.doesNotMatch(restored.stderr, /restoring /);
        assert.equal(await contents(pg, db), live);
        assert.deepEqual(await databasesLike(pg, `${db}_%restore_%`), []);
    });

    it("prune --store deletes an expired backup's record object first, then its dump and facts", async () => {
        const newer = await runOps(["backup", "--kind", "postgres", "--app", "shop", "--version", "v1.4.3", "--store", store], env);
        assert.equal(newer.code, 0, newer.stderr);
        const kept: PostgresBackupRecord = JSON.parse(newer.stdout);
        const pruned = await runOps(
            ["prune", "--store", store, "--keep", "1", "--retention-days", "0", "--as-of", "2099-01-01T00:00:00.000Z"],
            env,
        );
        assert.equal(pruned.code, 0, pruned.stderr);
        const result = JSON.parse(pruned.stdout);
        assert.deepEqual(result.deleted, [
            { id: dump.id, kind: "postgres", location: dump.location, time: dump.time, files: [dump.location, dump.factsLocation] },
        ]);
        assert.deepEqual(result.kept, [archive.id, kmsRecordId, kept.id]);
        assert.deepEqual(
            (await readStoreRecords(store, env)).map((r) => r.id),
            [archive.id, kmsRecordId, kept.id],
        );
        for (const url of [dump.location, dump.factsLocation, `s3://${bucket}/prod/shop/records/${dump.id}.json`]) {
            assert.equal(await head(s3, url), undefined, url);
        }
    });

    it("refuses --store beside --dir or --log, exit 2", async () => {
        const message = (flag: string) =>
            "`--store` takes the place of `--dir` and `--log` (a store keeps its artifacts and its log together): " +
            `give either \`--store\` or \`--dir\`/\`--log\`, not both; got \`--store\` and \`--${flag}\`\n`;
        const cases: Array<[string[], string]> = [
            [
                ["backup", "--kind", "postgres", "--app", "shop", "--version", "v1.0.0", "--store", store, "--dir", data],
                `backup: ${message("dir")}`,
            ],
            [["restore", "--id", "x", "--store", store, "--log", "/tmp/x.log"], `restore: ${message("log")}`],
            [["prune", "--store", store, "--log", "/tmp/x.log"], `prune: ${message("log")}`],
            [["verify", "--id", "x", "--store", store, "--log", "/tmp/x.log"], `verify: ${message("log")}`],
        ];
        for (const [argv, expected] of cases) {
            const run = await runOps(argv, env);
            assert.deepEqual([run.code, run.stderr, run.stdout], [2, expected, ""], argv.join(" "));
        }
    });
});
