"use strict";
// A stand-in for the progressdb binary (plain Node.js, no dependencies): what the
// runbook's binary upgrade touches, and nothing more.
//   node progressdb.js --db <dir> [--addr 127.0.0.1:<port>]   (default address: 127.0.0.1:$PORT)
//   --db        the database directory, opened by one process at a time (LOCK, see lock.js)
//   PROGRESSDB_KMS_DIR, PROGRESSDB_KMS_MASTER_KEY   the embedded KMS (kms.js)
//   GET  /healthz                      200 {"status":"ok"} once the database is open
//   GET  /metrics                      Prometheus text
//   GET  /                             {"service","version","format","threads","messages"}
//   POST /v1/threads {"title"}         201 the thread
//   POST /v1/threads/<id>/messages {"body"}   201 the message
//   GET  /v1/threads/<id>/messages     {"thread","messages":[…]}
// release.json (beside this file) says which version this build is and the data
// format it reads; a build with "opens": false never finishes opening (its
// /healthz answers 503), the broken release a health check must catch.
const fs = require("fs");
const http = require("http");
const path = require("path");
const { acquire } = require("./lock");
const { openKms } = require("./kms");
const { journal, readFormat, store: formatStore } = require("./formats");

const release = JSON.parse(fs.readFileSync(path.join(__dirname, "release.json"), "utf8"));
const VERSION = release.version;

function fatal(message) {
    console.error(`progressdb ${VERSION}: ${message}`);
    process.exit(1);
}

function flag(name) {
    const i = process.argv.indexOf(name);
    return i < 0 ? undefined : process.argv[i + 1];
}

const dbDir = flag("--db");
if (!dbDir) fatal("--db must name the database directory");
const addr = flag("--addr") ?? `127.0.0.1:${process.env.PORT ?? ""}`;
const [host, portText] = addr.split(/:(?=[^:]*$)/);
const port = Number(portText);
if (!Number.isInteger(port) || port <= 0) fatal(`--addr (or PORT) must give a TCP port; got ${JSON.stringify(addr)}`);

let unlock;
let kms;
let db;
let threads;
try {
    fs.mkdirSync(dbDir, { recursive: true });
    unlock = acquire(dbDir, `progressdb ${VERSION}`);
    const format = readFormat(dbDir);
    if (format !== undefined && format !== release.format) {
        unlock();
        fatal(
            `${dbDir} is in format ${format}; ${VERSION} reads format ${release.format}` +
                (format > release.format
                    ? ": restore the backup taken before the upgrade, or run a version that reads it"
                    : ": run this version's migration (node migrate.js)"),
        );
    }
    kms = openKms(process.env.PROGRESSDB_KMS_DIR, process.env.PROGRESSDB_KMS_MASTER_KEY);
    db = formatStore(dbDir, release.format);
    if (format === undefined) {
        db.create();
        fs.writeFileSync(path.join(dbDir, "FORMAT"), `${release.format}\n`);
    }
    threads = db.load();
} catch (err) {
    if (unlock) unlock();
    fatal(err.message);
}
const open = release.opens !== false;
journal(
    dbDir,
    `open ${VERSION} pid ${process.pid} addr ${host}:${port} format ${release.format}${open ? "" : " (never finishes opening)"}`,
);

const requests = new Map();

function send(res, status, body, type = "application/json") {
    const text = type === "application/json" ? `${JSON.stringify(body)}\n` : body;
    res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(text) });
    res.end(text);
}

function readJson(req) {
    return new Promise((resolve) => {
        let text = "";
        req.setEncoding("utf8");
        req.on("data", (chunk) => (text += chunk));
        req.on("end", () => {
            try {
                resolve(JSON.parse(text));
            } catch {
                resolve(undefined);
            }
        });
    });
}

const count = (list) => list.reduce((n, t) => n + t.messages.length, 0);
const nextId = (prefix, n) => `${prefix}${n + 1}`;

async function route(req, res) {
    const url = (req.url || "/").split("?")[0];
    if (!open) return send(res, 503, { status: "opening", version: VERSION });
    if (req.method === "GET" && url === "/healthz") return send(res, 200, { status: "ok", version: VERSION });
    if (req.method === "GET" && url === "/metrics") {
        const lines = ["# TYPE http_requests_total counter"];
        for (const [status, n] of [...requests].sort()) lines.push(`http_requests_total{version="${VERSION}",status="${status}"} ${n}`);
        return send(res, 200, `${lines.join("\n")}\n`, "text/plain; version=0.0.4");
    }
    if (req.method === "GET" && url === "/") {
        return send(res, 200, {
            service: "progressdb",
            version: VERSION,
            format: release.format,
            threads: threads.length,
            messages: count(threads),
        });
    }
    if (req.method === "POST" && url === "/v1/threads") {
        const title = (await readJson(req))?.title;
        if (typeof title !== "string" || title.trim() === "") return send(res, 400, { error: 'the body must be JSON {"title": "…"}' });
        const thread = { id: nextId("t", threads.length), title, createdAt: new Date().toISOString(), messages: [] };
        threads.push(thread);
        db.addThread(threads, thread);
        return send(res, 201, { id: thread.id, title, createdAt: thread.createdAt });
    }
    const match = /^\/v1\/threads\/([^/]+)\/messages$/.exec(url);
    const thread = match && threads.find((t) => t.id === decodeURIComponent(match[1]));
    if (match && !thread) return send(res, 404, { error: `no thread ${match[1]}` });
    if (match && req.method === "POST") {
        const body = (await readJson(req))?.body;
        if (typeof body !== "string" || body === "") return send(res, 400, { error: 'the body must be JSON {"body": "…"}' });
        const message = { id: nextId("m", count(threads)), body: kms.encrypt(body), createdAt: new Date().toISOString() };
        thread.messages.push(message);
        db.addMessage(threads, thread, message);
        return send(res, 201, { id: message.id, thread: thread.id, body, createdAt: message.createdAt });
    }
    if (match && req.method === "GET") {
        const messages = thread.messages.map((m) => ({ id: m.id, body: kms.decrypt(m.body), createdAt: m.createdAt }));
        return send(res, 200, { thread: thread.id, messages });
    }
    return send(res, 404, { error: `no ${req.method} ${url}; see the first lines of progressdb.js` });
}

const server = http.createServer((req, res) => {
    res.on("finish", () => requests.set(String(res.statusCode), (requests.get(String(res.statusCode)) || 0) + 1));
    route(req, res).catch((err) => send(res, 500, { error: err.message }));
});
server.listen(port, host, () => console.log(`progressdb ${VERSION} on ${host}:${port}, db ${dbDir}, kms key ${kms.keyId}`));

// The service manager stops a program with TERM: answer what is in flight, record the close, free the LOCK.
process.on("SIGTERM", () => {
    server.close(() => {
        journal(dbDir, `close ${VERSION} pid ${process.pid}`);
        unlock();
        process.exit(0);
    });
    server.closeAllConnections();
});
