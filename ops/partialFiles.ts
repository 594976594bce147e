import * as fs from "fs";
import * as path from "path";
import { Writable } from "stream";

const PARTIAL = /^(.+)\.(\d+)\.partial$/;

/**
 * `<file>.<pid>.partial`: where a backup writes until its file is whole. A backup killed
 * part-way (SIGKILL runs no cleanup) leaves a name that says it is incomplete and which
 * process wrote it, never a file under the name a record would use.
 */
export function partialName(file: string, pid = process.pid): string {
    return `${file}.${pid}.partial`;
}

/**
 * Gives the whole file its final name. A hard link, then removing the partial name:
 * unlike a rename it fails (EEXIST) instead of replacing a file that already has that name.
 */
export function commitPartial(partial: string, file: string): void {
    fs.linkSync(partial, file);
    fs.rmSync(partial, { force: true });
}

/** Whether process `pid` exists on this machine (a partial file's or an upload's writer). */
export function isRunning(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (err) {
        // EPERM: it exists, under another user.
        return (err as NodeJS.ErrnoException).code === "EPERM";
    }
}

/**
 * Removes the partial files in `dir` whose writing process is gone, saying so on `stderr`;
 * one whose process still runs belongs to a backup in progress and is left alone. No record
 * ever names a partial file, so removing one loses nothing restorable.
 */
export function removeStalePartials(dir: string, stderr: Writable): void {
    let names: string[];
    try {
        names = fs.readdirSync(dir);
    } catch {
        return;
    }
    for (const name of names.sort()) {
        const match = PARTIAL.exec(name);
        if (!match) continue;
        const pid = Number(match[2]);
        const file = path.join(dir, name);
        if (pid !== process.pid && isRunning(pid)) {
            stderr.write(`backup: left \`${file}\`: process ${pid}, a backup still writing it, is running\n`);
            continue;
        }
        fs.rmSync(file, { force: true });
        stderr.write(`backup: removed \`${file}\`: the partial file of a backup that did not finish (process ${pid} is gone)\n`);
    }
}
