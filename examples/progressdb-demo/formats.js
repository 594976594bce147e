"use strict";
// The on-disk formats of the `--db` directory. FORMAT names the format; JOURNAL
// is an append-only line per open, close and migration (who touched the data,
// and in what order).
//   format 1 (v0.5.0): log.jsonl, one record a line, appended:
//       {"op":"thread","id","title","at"} / {"op":"message","id","thread","body","at"}
//   format 2 (v0.6.0): threads.json, {"threads":[{"id","title","createdAt","messages":[{"id","body","createdAt"}]}]},
//       rewritten by rename. v0.5.0 cannot read it: v0.6.0's migration is the
//       "incompatible data migration" of the runbook, undone only by a restore.
// Message bodies are sealed by the KMS (kms.js) in both formats.
const fs = require("fs");
const path = require("path");

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

function journal(dir, line) {
    fs.appendFileSync(path.join(dir, "JOURNAL"), `${new Date().toISOString()} ${line}\n`);
}

/** Threads with their messages, the same in memory whatever the format on disk. */
function readFormat1(dir) {
    const file = path.join(dir, "log.jsonl");
    const text = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
    const threads = [];
    for (const line of text.split("\n").filter((l) => l !== "")) {
        const record = JSON.parse(line);
        if (record.op === "thread") threads.push({ id: record.id, title: record.title, createdAt: record.at, messages: [] });
        if (record.op === "message") {
            const thread = threads.find((t) => t.id === record.thread);
            if (thread) thread.messages.push({ id: record.id, body: record.body, createdAt: record.at });
        }
    }
    return threads;
}

function readFormat2(dir) {
    return JSON.parse(fs.readFileSync(path.join(dir, "threads.json"), "utf8")).threads;
}

/** The store of one format: `load()` the threads, `addThread`/`addMessage` persist one change. */
function store(dir, format) {
    if (format === "1") {
        const append = (record) => fs.appendFileSync(path.join(dir, "log.jsonl"), `${JSON.stringify(record)}\n`);
        return {
            create: () => fs.writeFileSync(path.join(dir, "log.jsonl"), "", { flag: "a" }),
            load: () => readFormat1(dir),
            addThread: (_threads, t) => append({ op: "thread", id: t.id, title: t.title, at: t.createdAt }),
            addMessage: (_threads, thread, m) => append({ op: "message", id: m.id, thread: thread.id, body: m.body, at: m.createdAt }),
        };
    }
    if (format === "2") {
        const save = (threads) => writeAtomically(path.join(dir, "threads.json"), `${JSON.stringify({ threads })}\n`);
        return { create: () => save([]), load: () => readFormat2(dir), addThread: save, addMessage: save };
    }
    throw new Error(`format ${format} is not one this build knows (1 or 2)`);
}

module.exports = { readFormat, writeAtomically, journal, readFormat1, store };
