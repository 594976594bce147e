"use strict";
// v1.0.0 keeps notes in format 1: FORMAT holds "1", notes.jsonl one note a line
// ({"id","text","at"}). It reads nothing else: on data a newer version has
// migrated it refuses to start, and once running it refuses writes, so a
// rollback below the newer schema needs the pre-upgrade backup restored.
const fs = require("fs");
const path = require("path");

const VERSION = "v1.0.0";
const FORMAT = "1";

function readFormat(dir) {
    try {
        return fs.readFileSync(path.join(dir, "FORMAT"), "utf8").trim();
    } catch {
        return undefined;
    }
}

function open(dir) {
    const format = readFormat(dir);
    if (format === undefined) throw new Error(`${dir} holds no FORMAT file: run the migration (node migrate.js) first`);
    if (format !== FORMAT) {
        throw new Error(
            `${dir} is in format ${format}, written by a newer version; ${VERSION} reads format ${FORMAT} only: ` +
                "restore the pre-upgrade backup (release:restoreFrom) to run it",
        );
    }
    const file = path.join(dir, "notes.jsonl");
    const notes = fs
        .readFileSync(file, "utf8")
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => JSON.parse(line));
    return {
        format: () => FORMAT,
        list: () => notes.map((n) => ({ id: n.id, text: n.text, at: n.at })),
        add(text) {
            // The directory may have been migrated under this running process: never write format 1 into format 2.
            const now = readFormat(dir);
            if (now !== FORMAT) return { ok: false, error: `the data is in format ${now} now; ${VERSION} no longer writes it` };
            const note = { id: notes.length + 1, text, at: new Date().toISOString() };
            fs.appendFileSync(file, `${JSON.stringify(note)}\n`);
            notes.push(note);
            return { ok: true, note };
        },
    };
}

module.exports = { VERSION, FORMAT, readFormat, open };
