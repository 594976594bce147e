"use strict";
// The migration of this build's data format, run once from the new release's
// directory while no progressdb holds the database (it takes the LOCK itself, so a
// running server makes it refuse instead of rewriting files under it).
//   node migrate.js --db <dir>
// format 1 → 2 (v0.6.0) rewrites log.jsonl into threads.json, writes FORMAT last and
// then removes log.jsonl; a database already in this build's format is left as it is;
// a newer format than this build's is refused (restore the pre-upgrade backup).
const fs = require("fs");
const path = require("path");
const { acquire } = require("./lock");
const { journal, readFormat, readFormat1, store, writeAtomically } = require("./formats");

const release = JSON.parse(fs.readFileSync(path.join(__dirname, "release.json"), "utf8"));
const i = process.argv.indexOf("--db");
const dir = i < 0 ? undefined : process.argv[i + 1];
if (!dir) {
    console.error(`migrate ${release.version}: --db must name the database directory`);
    process.exit(2);
}

fs.mkdirSync(dir, { recursive: true });
let unlock;
try {
    unlock = acquire(dir, `migrate ${release.version}`);
} catch (err) {
    console.error(`migrate ${release.version}: ${err.message}`);
    process.exit(1);
}
try {
    const format = readFormat(dir);
    if (format === undefined) {
        store(dir, release.format).create();
        writeAtomically(path.join(dir, "FORMAT"), `${release.format}\n`);
        journal(dir, `migrate ${release.version} format none -> ${release.format}`);
        console.log(JSON.stringify({ migrated: true, from: "none", format: release.format }));
    } else if (format === release.format) {
        console.log(JSON.stringify({ migrated: false, format }));
    } else if (format === "1" && release.format === "2") {
        const threads = readFormat1(dir);
        writeAtomically(path.join(dir, "threads.json"), `${JSON.stringify({ threads })}\n`);
        writeAtomically(path.join(dir, "FORMAT"), "2\n");
        fs.rmSync(path.join(dir, "log.jsonl"), { force: true });
        const messages = threads.reduce((n, t) => n + t.messages.length, 0);
        journal(dir, `migrate ${release.version} format 1 -> 2 threads ${threads.length} messages ${messages}`);
        console.log(JSON.stringify({ migrated: true, from: "1", format: "2", threads: threads.length, messages }));
    } else {
        console.error(
            `migrate ${release.version}: ${dir} is in format ${format}, which ${release.version} cannot migrate to format ${release.format}: restore the backup taken before the upgrade`,
        );
        process.exitCode = 1;
    }
} finally {
    unlock();
}
