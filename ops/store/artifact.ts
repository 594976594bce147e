import * as fs from "fs";
import * as path from "path";
import { fsyncPath } from "../checksum";
import { commitPartial, partialName } from "../partialFiles";

/**
 * Where a backup's bytes go while they are produced. A worker thread writes them to `fd`
 * with blocking writes (a file, or a pipe something else drains: an upload), so a slow
 * target slows the producer instead of filling memory. Nothing under `location` exists
 * until `commit` returns: a backup killed part-way leaves no artifact a record could name.
 */
export interface ArtifactSink {
    /** The write end the producer writes to; the sink closes it in `commit` or `abort`. */
    readonly fd: number;
    /** Where the whole artifact is once committed, as its record names it (a path, or an `s3://` URL). */
    readonly location: string;
    /**
     * After the last byte: makes the artifact durable under `location`, checked against
     * what the producer counted and hashed. Rejects (and leaves nothing) when it cannot.
     */
    commit(written: { readonly sha256: string; readonly bytes: number }): Promise<void>;
    /**
     * The producer has handed over `bytes` so far (every few MiB). A local file starts putting
     * them on disk while the dump goes on, so `commit` waits only for the last few.
     */
    written?(bytes: number): void;
    /** Removes whatever was written; safe to call after a failed `commit` or twice. */
    abort(): Promise<void>;
    /**
     * Why the sink stopped taking bytes (an upload S3 refused), when it did: the producer then
     * only sees a broken pipe, and this is the cause to report.
     */
    failure?(): Error | undefined;
}

/**
 * A local file: written as `<file>.<pid>.partial`, fsynced, then given its name with a
 * hard link, which fails rather than replace an existing file of that name.
 *
 * While it is written, `fdatasync` runs in the background (one at a time, on libuv's pool):
 * the disk is otherwise idle during a dump, and a single fsync of the whole file at the end
 * took 0.3 s for 164 MiB here, inside the write pause.
 */
export function localFileSink(file: string): ArtifactSink {
    if (fs.existsSync(file)) throw new Error(`\`${file}\` already exists; a backup never overwrites a file`);
    const partial = partialName(file);
    // Opened synchronously with `wx`: an existing partial of this very process fails here.
    const fd = fs.openSync(partial, "wx");
    let open = true;
    let syncing: Promise<void> | undefined;
    // Linux reports a write-back error to one fsync of a file description only: kept for `commit`.
    let syncError: Error | undefined;
    const settle = async () => {
        while (syncing !== undefined) await syncing;
    };
    const close = () => {
        if (!open) return;
        open = false;
        fs.closeSync(fd);
    };
    return {
        fd,
        location: file,
        written: () => {
            if (!open || syncing !== undefined) return;
            syncing = new Promise((resolve) =>
                fs.fdatasync(fd, (err) => {
                    if (err) syncError ??= err;
                    syncing = undefined;
                    resolve();
                }),
            );
        },
        commit: async ({ bytes }) => {
            try {
                // Never close the descriptor under a sync still running on it.
                await settle();
                if (syncError !== undefined) throw new Error(`\`${partial}\` could not be written to disk: ${syncError.message}`);
                fs.fsyncSync(fd);
                const onDisk = fs.fstatSync(fd).size;
                if (onDisk !== bytes) throw new Error(`\`${partial}\` holds ${onDisk} bytes; ${bytes} were written`);
                close();
                commitPartial(partial, file);
                fsyncPath(path.dirname(file));
            } catch (err) {
                close();
                fs.rmSync(partial, { force: true });
                throw err;
            }
        },
        abort: async () => {
            await settle();
            close();
            fs.rmSync(partial, { force: true });
        },
    };
}
