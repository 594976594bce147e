import * as fs from "fs";
import { appendRecord, DirectoryBackupRecord, PostgresBackupRecord, RecordHead } from "../core/backupLog";
import { TreeCount } from "./archive";
import { OpsIO } from "./command";

/** How a backup that writes a local artifact (a dump, an archive) gets into the backup log, or leaves nothing behind. */

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

/**
 * Appends the record. When that fails (a full disk, a log turned into a directory), the
 * artifact is removed rather than left: no record names it, so restore, verify and prune
 * can never reach it, and the backup failing stops the release before anything changes,
 * so the live data still is what the dump holds. Removing it frees the space a full disk lacks.
 */
export function recorded(program: string, log: string, record: PostgresBackupRecord | DirectoryBackupRecord, io: OpsIO): boolean {
    try {
        appendRecord(log, record);
        return true;
    } catch (err) {
        const artifacts = [record.location, ...(record.kind === "postgres" ? [record.factsLocation] : [])];
        const named = artifacts.map((file) => `\`${file}\``).join(" and ");
        const failed = `${program}: could not append the record of \`${record.id}\` to the backup log \`${log}\`: ${(err as Error).message}`;
        try {
            for (const file of artifacts) fs.rmSync(file, { force: true });
            io.stderr.write(
                `${failed}; removed ${named}, which no record names (a backup the log does not record cannot be restored, verified ` +
                    "or pruned). Nothing was backed up: make the log writable and run the backup again\n",
            );
        } catch (removal) {
            io.stderr.write(
                `${failed}; ${named} could not be removed (${(removal as Error).message}): they are not a restorable backup ` +
                    "(no record names them); delete them, make the log writable and run the backup again\n",
            );
        }
        return false;
    }
}

/** The record of a directory archive, local (`backup --kind directory`) or streamed from a remote host (`host-archive`). */
export function directoryRecord(
    head: RecordHead<"directory">,
    archive: TreeCount & { readonly sha256: string; readonly size: number },
    at: { readonly file: string; readonly source: string; readonly verified: boolean; readonly quiesced: boolean },
): DirectoryBackupRecord {
    return {
        ...head,
        size: archive.size,
        sha256: archive.sha256,
        location: at.file,
        verified: at.verified,
        source: at.source,
        files: archive.files,
        contentBytes: archive.contentBytes,
        consistency: at.quiesced ? "quiesced" : "crash-consistent-at-best",
    };
}
