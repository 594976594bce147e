import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { Readable, Writable } from "stream";
import { pipeline } from "stream/promises";
import { compressionOf, countTree, inspectArchive, TarCounter } from "../../ops/archive";
import { DirectoryBackupRecord, readLog } from "../../core/backupLog";
import { directoryRestoreNames } from "../../ops/commands/restore";
import { run } from "../support/processes";
import { backupDir, removeDir, runOps } from "./backupTestSupport";

/** Every file under `dir` (relative path → exact bytes), directories as empty markers. */
function treeBytes(dir: string): Map<string, Buffer | "dir"> {
    const tree = new Map<string, Buffer | "dir">();
    const walk = (current: string) => {
        for (const entry of fs.readdirSync(current, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
            const full = path.join(current, entry.name);
            const rel = path.relative(dir, full);
            if (entry.isDirectory()) {
                tree.set(rel, "dir");
                walk(full);
            } else tree.set(rel, fs.readFileSync(full));
        }
    };
    walk(dir);
    return tree;
}

/** A store-like directory: files straddling tar's 512-byte blocks, nesting, an empty dir, a name past 100 bytes. */
function makeStore(root: string): string {
    const store = path.join(root, "pebble");
    fs.mkdirSync(path.join(store, "archive", "empty"), { recursive: true });
    const sizes = [0, 1, 511, 512, 513, 100_000];
    sizes.forEach((size, i) => fs.writeFileSync(path.join(store, `00000${i}.sst`), Buffer.alloc(size, i + 1)));
    fs.writeFileSync(path.join(store, "archive", `${"long-name-".repeat(12)}.log`), "wal entry\n");
    fs.writeFileSync(path.join(store, "MANIFEST-000001"), Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 251)));
    fs.symlinkSync("MANIFEST-000001", path.join(store, "CURRENT-link"));
    return store;
}

async function countStream(data: Buffer): Promise<TarCounter> {
    const counter = new TarCounter();
    // Odd chunk sizes: headers must be found across chunk boundaries.
    const chunks: Buffer[] = [];
    for (let i = 0; i < data.length; i += 777) chunks.push(data.subarray(i, i + 777));
    await pipeline(Readable.from(chunks), counter, new Writable({ write: (_c, _e, cb) => cb() }));
    return counter;
}

describe("directory archives", function () {
    this.timeout(30000);
    let root: string;
    let store: string;
    let tarBytes: Buffer;

    before(async () => {
        root = await backupDir();
        store = makeStore(root);
        const tarFile = path.join(root, "plain.tar");
        await run("tar", ["--sort=name", "-C", store, "-cf", tarFile, "."]);
        tarBytes = fs.readFileSync(tarFile);
    });

    /** A copy of the test store in a fresh work directory, backed up by the real `backup --kind directory` command. */
    async function backUpStore(extra: string[] = []) {
        const work = await backupDir();
        const data = path.join(work, "db");
        fs.cpSync(store, data, { recursive: true, verbatimSymlinks: true });
        const log = path.join(work, "backups.log");
        const args = ["--path", data, "--app", "pebble", "--version", "v0.9.0", "--dir", path.join(work, "bk"), "--log", log, ...extra];
        const backup = await runOps(["backup", "--kind", "directory", ...args], process.env);
        return { work, data, log, backup };
    }

    after(() => removeDir(root));

    it("TarCounter counts the regular files and bytes that a walk of the directory finds", async () => {
        const counter = await countStream(tarBytes);
        assert.deepEqual({ files: counter.files, contentBytes: counter.contentBytes }, countTree(store));
        assert.deepEqual(countTree(store), { files: 8, contentBytes: 0 + 1 + 511 + 512 + 513 + 100_000 + 10 + 3000 });
    });

    it("TarCounter rejects a damaged header and a truncated archive", async () => {
        const damaged = Buffer.from(tarBytes);
        damaged[0] ^= 0x01;
        await assert.rejects(countStream(damaged), { message: "tar archive is damaged: header checksum mismatch after 0 files" });
        await assert.rejects(countStream(tarBytes.subarray(0, 2048)), {
            message: "tar archive is truncated: it ends before its end-of-archive marker",
        });
    });

    it("knows compression from the file name", () => {
        assert.deepEqual(["a.tar", "a.tar.gz", "a.dump"].map(compressionOf), ["none", "gzip", "none"]);
        assert.deepEqual(directoryRestoreNames("/data/pebble", "20261122T041059.123Z"), {
            scratch: "/data/pebble.restore-20261122T041059.123Z",
            preRestore: "/data/pebble.pre-restore-20261122T041059.123Z",
        });
    });

    for (const compression of ["none", "gzip"] as const) {
        it(`backs up and restores a directory byte for byte (compression ${compression}), keeping the replaced one`, async () => {
            const { work, data, log, backup } = await backUpStore(["--compression", compression, "--quiesced"]);
            const original = treeBytes(data);
            assert.equal(backup.code, 0, backup.stderr);
            const record: DirectoryBackupRecord = JSON.parse(backup.stdout);
            assert.equal(record.location, path.join(work, "bk", `${record.id}${compression === "gzip" ? ".tar.gz" : ".tar"}`));
            assert.deepEqual(
                [record.kind, record.source, record.files, record.contentBytes, record.consistency, record.verified],
                ["directory", data, 8, 104_547, "quiesced", true],
            );
            const inspected = await inspectArchive(record.location);
            assert.deepEqual([inspected.sha256, inspected.size], [record.sha256, fs.statSync(record.location).size]);
            assert.deepEqual(readLog(log), [record]);

            // The upgrade damages the store: a file rewritten, one removed, one added.
            fs.writeFileSync(path.join(data, "000005.sst"), "rewritten by v1.0.0");
            fs.rmSync(path.join(data, "000001.sst"));
            fs.writeFileSync(path.join(data, "000099.sst"), "new format");
            const damaged = treeBytes(data);

            const restore = await runOps(["restore", "--id", record.id, "--log", log], process.env);
            assert.equal(restore.code, 0, restore.stderr);
            const result = JSON.parse(restore.stdout);
            assert.deepEqual([result.ok, result.verified], [true, { files: 8, contentBytes: 104_547 }]);
            assert.deepEqual(treeBytes(data), original);
            assert.equal(fs.readlinkSync(path.join(data, "CURRENT-link")), "MANIFEST-000001");
            assert.deepEqual(treeBytes(result.preRestore), damaged);
            assert.deepEqual(fs.readdirSync(work).sort(), ["backups.log", "bk", "db", path.basename(result.preRestore)].sort());
            removeDir(work);
        });
    }

    it("--drill extracts and checks a copy, removes it and leaves the directory alone", async () => {
        const { work, data, log, backup } = await backUpStore();
        const record: DirectoryBackupRecord = JSON.parse(backup.stdout);
        assert.equal(record.consistency, "crash-consistent-at-best");
        assert.match(backup.stderr, /\(live: crash-consistent at best\)\n/);
        fs.writeFileSync(path.join(data, "000099.sst"), "written after the backup");
        const before = treeBytes(data);
        const drill = await runOps(["restore", "--id", record.id, "--log", log, "--drill"], process.env);
        assert.equal(drill.code, 0, drill.stderr);
        assert.deepEqual(JSON.parse(drill.stdout).verified, { files: 8, contentBytes: 104_547 });
        assert.deepEqual(treeBytes(data), before);
        assert.deepEqual(fs.readdirSync(work).sort(), ["backups.log", "bk", "db"]);
        removeDir(work);
    });

    it("restores a directory holding hard links: each name counted as a walk counts it, the link kept", async () => {
        const work = await backupDir();
        const data = path.join(work, "db");
        fs.mkdirSync(path.join(data, "checkpoints"), { recursive: true });
        fs.writeFileSync(path.join(data, "000007.sst"), Buffer.alloc(4000, 7));
        // Pebble checkpoints hard-link the SSTs they share with the live store.
        fs.linkSync(path.join(data, "000007.sst"), path.join(data, "checkpoints", "000007.sst"));
        const log = path.join(work, "backups.log");
        const args = ["--path", data, "--app", "pebble", "--version", "v0.9.0", "--dir", path.join(work, "bk"), "--log", log];
        const backup = await runOps(["backup", "--kind", "directory", ...args, "--quiesced"], process.env);
        assert.equal(backup.code, 0, backup.stderr);
        const record: DirectoryBackupRecord = JSON.parse(backup.stdout);
        assert.deepEqual([record.files, record.contentBytes], [2, 8000]);
        assert.deepEqual(countTree(data), { files: 2, contentBytes: 8000 });

        fs.rmSync(path.join(data, "checkpoints"), { recursive: true });
        const restore = await runOps(["restore", "--id", record.id, "--log", log], process.env);
        assert.equal(restore.code, 0, restore.stderr);
        assert.deepEqual(JSON.parse(restore.stdout).verified, { files: 2, contentBytes: 8000 });
        const live = fs.statSync(path.join(data, "000007.sst"));
        const linked = fs.statSync(path.join(data, "checkpoints", "000007.sst"));
        assert.deepEqual([linked.ino, live.nlink], [live.ino, 2]);
        removeDir(work);
    });

    it("a corrupted archive fails verify with both checksums and fails restore without touching the directory", async () => {
        const { work, data, log, backup } = await backUpStore();
        const record: DirectoryBackupRecord = JSON.parse(backup.stdout);
        const bytes = fs.readFileSync(record.location);
        // Inside the 100 000-byte file's data: the tar structure stays valid, only the checksum can tell.
        const offset = bytes.indexOf(Buffer.alloc(1000, 6));
        bytes[offset + 10] ^= 0xff;
        fs.writeFileSync(record.location, bytes);
        const { sha256: actual } = await inspectArchive(record.location);

        const verify = await runOps(["verify", "--id", record.id, "--log", log], process.env);
        assert.deepEqual(
            [verify.code, verify.stderr],
            [1, `verify: checksum mismatch for \`${record.location}\`: expected sha256 ${record.sha256}, got ${actual}\n`],
        );
        const before = treeBytes(data);
        const restore = await runOps(["restore", "--id", record.id, "--log", log], process.env);
        assert.equal(restore.code, 1);
        assert.ok(
            restore.stderr.endsWith(
                `restore: checksum mismatch for \`${record.location}\`: expected sha256 ${record.sha256}, got ${actual}\n` +
                    "restore: failed; the live data was not touched\n",
            ),
            restore.stderr,
        );
        assert.deepEqual(treeBytes(data), before);
        // The checksum is compared before anything is extracted: no scratch copy was made, so none is kept.
        assert.equal(JSON.parse(restore.stdout).scratchKept, false);
        assert.deepEqual(
            fs.readdirSync(path.dirname(data)).filter((name) => name.includes(".restore-")),
            [],
        );
        removeDir(work);
    });

    it("refuses a backup directory inside the archived directory, creating nothing", async () => {
        const work = await backupDir();
        const data = path.join(work, "db");
        fs.mkdirSync(data);
        const result = await runOps(
            ["backup", "--kind", "directory", "--path", data, "--app", "pebble", "--version", "v0.9.0", "--dir", path.join(data, "bk")],
            process.env,
        );
        assert.deepEqual(
            [result.code, result.stderr.split("\n").slice(-2)],
            [2, [`backup: \`--dir\` must be outside \`--path\` (${data}); got \`${path.join(data, "bk")}\``, ""]],
        );
        assert.deepEqual(fs.readdirSync(data), []);
        removeDir(work);
    });

    it("refuses a --path that is not a directory, leaving no archive", async () => {
        const work = await backupDir();
        const result = await runOps(
            [
                "backup",
                "--kind",
                "directory",
                "--path",
                path.join(work, "missing"),
                "--app",
                "pebble",
                "--version",
                "v0.9.0",
                "--dir",
                path.join(work, "bk"),
            ],
            process.env,
        );
        assert.equal(result.code, 1);
        assert.ok(
            result.stderr.endsWith(`backup: \`--path\` must be an existing directory; got \`${path.join(work, "missing")}\`\n`),
            result.stderr,
        );
        assert.deepEqual(fs.readdirSync(path.join(work, "bk")), []);
        removeDir(work);
    });
});
