"use strict";
// v1.1.0 keeps notes in format 2: FORMAT holds "2", notes.json one JSON array of
// {"id","body","words","createdAt"}, rewritten by rename so a reader never sees
// half of it. migrate.js turns format 1 into this.
const fs = require("fs");
const path = require("path");

const VERSION = "v1.1.0";
const FORMAT = "2";

function readFormat(dir) {
    try {
        return fs.readFileSync(path.join(dir, "FORMAT"), "utf8").trim();
    } catch {
        return undefined;
    }
}

function writeAtomically(file, text) {
    const staging = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(staging, text);
    fs.renameSync(staging, file);
}

const words = (text) => text.split(/\s+/).filter((w) => w !== "").length;

function open(dir) {
    const format = readFormat(dir);
    if (format !== FORMAT) {
        throw new Error(`${dir} is in format ${format ?? "none"}; ${VERSION} reads format ${FORMAT}: run its migration (node migrate.js)`);
    }
    const file = path.join(dir, "notes.json");
    const notes = JSON.parse(fs.readFileSync(file, "utf8"));
    return {
        format: () => FORMAT,
        list: () => notes.map((n) => ({ ...n })),
        add(text) {
            const note = { id: notes.length + 1, body: text, words: words(text), createdAt: new Date().toISOString() };
            writeAtomically(file, `${JSON.stringify([...notes, note])}\n`);
            notes.push(note);
            return { ok: true, note };
        },
    };
}

module.exports = { VERSION, FORMAT, readFormat, writeAtomically, words, open };
