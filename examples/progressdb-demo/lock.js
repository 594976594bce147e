"use strict";
// Pebble's rule, one process per `--db` directory: the LOCK file is created with
// O_EXCL and holds the owner's pid. A LOCK whose pid no longer runs (the owner was
// killed) is stale and taken over; a live owner makes the newcomer refuse to open.
const fs = require("fs");
const path = require("path");

/** A zombie (exited, not yet reaped) holds nothing: the kernel freed its files as it exited. */
function alive(pid) {
    try {
        process.kill(pid, 0);
    } catch (err) {
        return err.code === "EPERM";
    }
    try {
        return !/^\d+ \(.*\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
    } catch {
        return true;
    }
}

/** Takes `<dir>/LOCK` or throws naming the process that holds it; returns the function that releases it. */
function acquire(dir, who) {
    const file = path.join(dir, "LOCK");
    for (let attempt = 0; attempt < 2; attempt++) {
        try {
            const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o644);
            fs.writeSync(fd, `${process.pid}\n`);
            fs.closeSync(fd);
            return () => {
                const owner = readOwner(file);
                if (owner === process.pid) fs.rmSync(file, { force: true });
            };
        } catch (err) {
            if (err.code !== "EEXIST") throw err;
            const owner = readOwner(file);
            if (owner !== undefined && owner !== process.pid && alive(owner)) {
                throw new Error(
                    `${dir} is locked by process ${owner} (${file}): only one process may open a database; stop it first (${who})`,
                );
            }
            fs.rmSync(file, { force: true });
        }
    }
    throw new Error(`${file} could not be taken: another process keeps creating it`);
}

function readOwner(file) {
    try {
        const pid = Number(fs.readFileSync(file, "utf8").trim());
        return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
        return undefined;
    }
}

module.exports = { acquire };
