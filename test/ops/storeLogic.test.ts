import { strict as assert } from "assert";
import * as os from "os";
import { parseStore, recordKey, storeUrl } from "../../core/storeRecords";
import { UsageError } from "../../core/args";
import { staleBecause, STALE_AFTER_MS } from "../../ops/store/staleUploads";
import { storeFromFlags } from "../../ops/store/backupStore";
import { parseFlags } from "../../core/args";

const NOW = new Date("2026-12-02T12:00:00.000Z");
const ago = (ms: number) => new Date(NOW.getTime() - ms).toISOString();
/** A pid that no process has: above the kernel's pid_max. */
const GONE = 2 ** 22 + 1;

describe("backup store locations", () => {
    it("parses s3://bucket/prefix and a directory", () => {
        assert.deepEqual(parseStore("s3://shop-backups/prod/shop/"), { kind: "s3", bucket: "shop-backups", prefix: "prod/shop" });
        assert.deepEqual(parseStore("/var/backups/shop"), {
            kind: "directory",
            dir: "/var/backups/shop",
            log: "/var/backups/shop/backups.log",
        });
        const s3 = parseStore("s3://shop-backups/prod") as ReturnType<typeof parseStore> & { kind: "s3" };
        assert.equal(storeUrl(s3), "s3://shop-backups/prod/");
        assert.equal(recordKey(s3, "shop-v1.0.0-20261202T120000.000Z"), "prod/records/shop-v1.0.0-20261202T120000.000Z.json");
    });

    it("refuses an S3 store without a prefix or with a bad bucket name, naming the option", () => {
        for (const text of ["s3://shop-backups", "s3://shop-backups/", "s3://Shop_Backups/prod"]) {
            assert.throws(
                () => parseStore(text),
                (err: Error) =>
                    err instanceof UsageError &&
                    err.message ===
                        `\`--store\` must be s3://<bucket>/<prefix> with a valid bucket name and a prefix of the store's own; got \`${text}\``,
            );
        }
    });

    it("--sse-kms-key only for an S3 store; --store with --dir or --log refused", () => {
        const spec = { store: "value", dir: "value", log: "value", "sse-kms-key": "value" } as const;
        assert.throws(
            () => storeFromFlags(parseFlags(["--store", "/tmp/b", "--sse-kms-key", "k"], spec), {}),
            (err: Error) =>
                err instanceof UsageError &&
                err.message ===
                    "`--sse-kms-key` encrypts the objects of an S3 store; `/tmp/b` is a directory (give `--store s3://<bucket>/<prefix>`)",
        );
        assert.throws(() => storeFromFlags(parseFlags(["--store", "/tmp/b", "--dir", "/tmp/c"], spec), {}), /got `--store` and `--dir`$/);
        const legacy = storeFromFlags(parseFlags(["--dir", "/tmp/b", "--log", "/tmp/l/backups.log"], spec), {})!;
        assert.deepEqual([legacy.given, legacy.store.location], ["dir", { kind: "directory", dir: "/tmp/b", log: "/tmp/l/backups.log" }]);
    });
});

describe("stale multipart uploads", () => {
    const host = os.hostname();
    it("this host's upload is stale once its process is gone, at once; a running one is left", () => {
        const started = ago(1000);
        assert.equal(staleBecause({ host, pid: GONE, key: "k", started }, undefined, NOW), `process ${GONE} on ${host} is gone`);
        assert.equal(staleBecause({ host, pid: process.ppid, key: "k", started }, undefined, NOW), undefined);
    });

    it("another host's upload, or one without a marker, is stale only after 24 h", () => {
        const marker = (started: string) => ({ host: "ci-runner-7", pid: 4242, key: "k", started });
        assert.equal(staleBecause(marker(ago(STALE_AFTER_MS - 1)), undefined, NOW), undefined);
        assert.equal(staleBecause(marker(ago(STALE_AFTER_MS)), undefined, NOW), "begun by process 4242 on ci-runner-7 more than 24 h ago");
        assert.equal(staleBecause(undefined, new Date(ago(60_000)), NOW), undefined);
        assert.equal(
            staleBecause(undefined, new Date(ago(STALE_AFTER_MS + 1)), NOW),
            "begun by a writer that left no marker more than 24 h ago",
        );
        assert.equal(staleBecause(undefined, undefined, NOW), undefined);
    });
});
