import * as fs from "fs";
import * as path from "path";
import { Writable } from "stream";
import { appendRecord, readLog, writeLogAtomically } from "../../core/backupLog";
import { StoreLocation } from "../../core/storeRecords";
import { fsyncPath, sha256OfFile } from "../checksum";
import { partialName, removeStalePartials } from "../partialFiles";
import { localFileSink } from "./artifact";
import type { BackupStore } from "./backupStore";
import { storeRefusal } from "./refusal";

/**
 * A log that is a directory, or a file this process may not write, fails here, before the dump
 * (which runs inside the write pause). Nothing is created: a backup refused later for a bad
 * argument leaves the directory as it was. A full disk only shows when the record is written.
 */
export function assertAppendable(log: string): void {
    const problem = (reason: string) =>
        new Error(
            `the backup log \`${log}\` (\`--log\`, default <dir>/backups.log) must be a file this backup can append its record to; ` +
                `${reason}; nothing was backed up`,
        );
    const found = fs.statSync(log, { throwIfNoEntry: false });
    if (found?.isDirectory()) throw problem("it is a directory");
    if (found === undefined) return;
    try {
        fs.accessSync(log, fs.constants.W_OK);
    } catch (err) {
        throw problem((err as Error).message);
    }
}

/** Writes, reads back and removes a probe file named as a partial file, so a killed probe is cleaned up like one. */
function probeDirectory(dir: string): { probe: string; bytes: number } {
    const probe = partialName(path.join(dir, ".store-check"));
    const text = `safe-release store-check ${new Date().toISOString()}\n`;
    try {
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(probe, text, { flag: "wx" });
        fsyncPath(probe);
        const back = fs.readFileSync(probe, "utf8");
        if (back !== text) throw new Error(`the probe file read back ${back.length} bytes that differ from the ${text.length} written`);
    } catch (err) {
        throw new Error(storeRefusal(dir, (err as Error).message));
    } finally {
        fs.rmSync(probe, { force: true });
    }
    return { probe, bytes: text.length };
}

/** Today's layout: artifacts in `dir`, the log a JSON-lines file (`<dir>/backups.log` unless `--log` moved it). */
export function directoryStore(location: StoreLocation & { kind: "directory" }): BackupStore {
    const { dir, log } = location;
    return {
        location,
        url: dir,
        log,
        artifactLocation: (name) => path.join(dir, name),
        prepare: async (_program: string, stderr: Writable) => {
            // Before the dump, which runs inside the write pause: a log that cannot take the record wastes it.
            assertAppendable(log);
            probeDirectory(dir);
            removeStalePartials(dir, stderr);
        },
        artifactSink: async (name) => localFileSink(path.join(dir, name)),
        putSmall: async (name, text) => {
            const file = path.join(dir, name);
            fs.writeFileSync(file, text, { flag: "wx" });
            fsyncPath(file);
            fsyncPath(dir);
            return file;
        },
        records: async () => readLog(log),
        appendRecord: async (record) => appendRecord(log, record),
        fetch: async (file) => {
            if (!fs.existsSync(file)) throw new Error(`the backup artifact \`${file}\` that its record names is missing`);
            const { sha256, bytes } = await sha256OfFile(file);
            return { file, sha256, bytes, cleanup: () => undefined };
        },
        read: async (file) => fs.createReadStream(file, { highWaterMark: 4 * 1024 * 1024 }),
        removeArtifact: async (file) => fs.rmSync(file, { force: true }),
        readText: async (file) => fs.readFileSync(file, "utf8"),
        prune: async (removed, remaining) => {
            if (removed.length === 0) return;
            // The log first, at once: it never names a deleted backup.
            writeLogAtomically(log, remaining);
            for (const { files } of removed) for (const file of files) fs.rmSync(file, { force: true });
        },
        probe: async () => {
            assertAppendable(log);
            return probeDirectory(dir);
        },
        close: () => undefined,
    };
}
