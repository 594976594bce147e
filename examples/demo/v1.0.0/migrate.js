"use strict";
// v1.0.0's migration: creates an empty format-1 data directory; data already in
// format 1 is left as it is. It never converts a newer format back.
const fs = require("fs");
const path = require("path");
const { FORMAT, readFormat } = require("./store");

const dir = process.env.DATA_DIR;
if (!dir) {
    console.error("migrate v1.0.0: DATA_DIR must name the data directory");
    process.exit(2);
}
const format = readFormat(dir);
if (format === FORMAT) {
    console.log(JSON.stringify({ migrated: false, format: FORMAT }));
} else if (format === undefined) {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "notes.jsonl"), "");
    fs.writeFileSync(path.join(dir, "FORMAT"), `${FORMAT}\n`);
    console.log(JSON.stringify({ migrated: true, format: FORMAT, notes: 0 }));
} else {
    console.error(`migrate v1.0.0: ${dir} is in format ${format}; a migration never goes down: restore the pre-upgrade backup`);
    process.exit(1);
}
