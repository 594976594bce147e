"use strict";
// v1.1.0's migration, format 1 → 2: each notes.jsonl line {"id","text","at"}
// becomes {"id","body","words","createdAt"} in notes.json. Idempotent and safe
// to re-run after a crash: notes.json and FORMAT are each written by rename,
// FORMAT last, and notes.jsonl goes only after FORMAT says 2.
const fs = require("fs");
const path = require("path");
const { FORMAT, readFormat, writeAtomically, words } = require("./store");

const dir = process.env.DATA_DIR;
if (!dir) {
    console.error("migrate v1.1.0: DATA_DIR must name the data directory");
    process.exit(2);
}
const format = readFormat(dir);
const legacy = path.join(dir, "notes.jsonl");
if (format === FORMAT) {
    fs.rmSync(legacy, { force: true });
    console.log(JSON.stringify({ migrated: false, format: FORMAT }));
} else if (format === undefined || format === "1") {
    fs.mkdirSync(dir, { recursive: true });
    const lines = format === "1" ? fs.readFileSync(legacy, "utf8").split("\n").filter((l) => l !== "") : [];
    const notes = lines.map((line) => {
        const old = JSON.parse(line);
        return { id: old.id, body: old.text, words: words(old.text), createdAt: old.at };
    });
    writeAtomically(path.join(dir, "notes.json"), `${JSON.stringify(notes)}\n`);
    writeAtomically(path.join(dir, "FORMAT"), `${FORMAT}\n`);
    fs.rmSync(legacy, { force: true });
    console.log(JSON.stringify({ migrated: true, from: format ?? "none", format: FORMAT, notes: notes.length }));
} else {
    console.error(`migrate v1.1.0: ${dir} is in format ${format}, which this version does not know`);
    process.exit(1);
}
