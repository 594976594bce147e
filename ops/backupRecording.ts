import { DirectoryBackupRecord, PostgresBackupRecord, RecordHead } from "../core/backupLog";
import { TreeCount } from "./archive";
import { OpsIO } from "./command";
import { BackupStore } from "./store/backupStore";

/** How a backup that writes an artifact (a dump, an archive) gets into the store's log, or leaves nothing behind. */

export { assertAppendable } from "./store/directoryStore";

/**
 * Appends the record. When that fails (a full disk, a log turned into a directory, a refused
 * put), the artifact is removed rather than left: no record names it, so restore, verify and
 * prune can never reach it, and the backup failing stops the release before anything changes,
 * so the live data still is what the dump holds. Removing it frees the space a full disk lacks.
 */
export async function recorded(
    program: string,
    store: BackupStore,
    record: PostgresBackupRecord | DirectoryBackupRecord,
    io: OpsIO,
): Promise<boolean> {
    try {
        await store.appendRecord(record);
        return true;
    } catch (err) {
        const artifacts = [record.location, ...(record.kind === "postgres" ? [record.factsLocation] : [])];
        const named = artifacts.map((file) => `\`${file}\``).join(" and ");
        const failed = `${program}: could not append the record of \`${record.id}\` to the backup log \`${store.log}\`: ${(err as Error).message}`;
        try {
            for (const file of artifacts) await store.removeArtifact(file);
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
