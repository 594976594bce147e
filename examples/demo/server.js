"use strict";
// The dev stack's demo service: plain Node.js, no dependencies, so a release
// artifact is a few files every machine of this kind can run. The version's
// own `store.js` (shipped beside this file) decides how notes live in
// DATA_DIR; this file is the HTTP side both versions share.
//   GET /healthz   200 {"status":"ok"} once the data directory opened
//   GET /          {"service":"demo","version","format","notes"}
//   GET /notes     the notes;  POST /notes {"text":"…"} → 201 the new note
//   GET /metrics   Prometheus text: http_requests_total{version,status},
//                  http_request_duration_seconds (the promote driver's inputs)
const http = require("http");
const store = require("./store");

const PORT = Number(process.env.PORT);
const DATA_DIR = process.env.DATA_DIR;
if (!Number.isInteger(PORT) || PORT <= 0) fatal(`PORT must be a TCP port number; got ${JSON.stringify(process.env.PORT)}`);
if (!DATA_DIR) fatal("DATA_DIR must name the data directory (the dev stack sets it in release:components.web.env)");

let notes;
try {
    notes = store.open(DATA_DIR);
} catch (err) {
    fatal(err.message);
}

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const requests = new Map(); // status → count
const durations = { buckets: BUCKETS.map(() => 0), count: 0, sum: 0 };

function fatal(message) {
    console.error(`demo ${store.VERSION}: ${message}`);
    process.exit(1);
}

function send(res, status, body, type = "application/json") {
    const text = type === "application/json" ? `${JSON.stringify(body)}\n` : body;
    res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(text) });
    res.end(text);
}

function readBody(req) {
    return new Promise((resolve, reject) => {
        let text = "";
        req.setEncoding("utf8");
        req.on("data", (chunk) => {
            text += chunk;
            if (text.length > 64 * 1024) reject(new Error("a note is at most 64 KiB"));
        });
        req.on("end", () => resolve(text));
        req.on("error", reject);
    });
}

function metricsText() {
    const v = `version="${store.VERSION}"`;
    const lines = ["# TYPE http_requests_total counter"];
    for (const [status, count] of [...requests].sort()) lines.push(`http_requests_total{${v},status="${status}"} ${count}`);
    lines.push("# TYPE http_request_duration_seconds histogram");
    BUCKETS.forEach((le, i) => lines.push(`http_request_duration_seconds_bucket{${v},le="${le}"} ${durations.buckets[i]}`));
    lines.push(`http_request_duration_seconds_bucket{${v},le="+Inf"} ${durations.count}`);
    lines.push(`http_request_duration_seconds_sum{${v}} ${durations.sum}`);
    lines.push(`http_request_duration_seconds_count{${v}} ${durations.count}`);
    return `${lines.join("\n")}\n`;
}

async function route(req, res) {
    const path = (req.url || "/").split("?")[0];
    if (req.method === "GET" && path === "/healthz") return send(res, 200, { status: "ok", version: store.VERSION });
    if (req.method === "GET" && path === "/") {
        return send(res, 200, { service: "demo", version: store.VERSION, format: notes.format(), notes: notes.list().length });
    }
    if (req.method === "GET" && path === "/metrics") return send(res, 200, metricsText(), "text/plain; version=0.0.4");
    if (req.method === "GET" && path === "/notes") return send(res, 200, { version: store.VERSION, notes: notes.list() });
    if (req.method === "POST" && path === "/notes") {
        let text;
        try {
            text = JSON.parse(await readBody(req)).text;
        } catch {
            text = undefined;
        }
        if (typeof text !== "string" || text.trim() === "") {
            return send(res, 400, { error: 'the body must be JSON {"text": "<the note>"}' });
        }
        const written = notes.add(text);
        return written.ok ? send(res, 201, written.note) : send(res, 503, { error: written.error });
    }
    return send(res, 404, { error: `no ${req.method} ${path}; try GET /, GET /healthz, GET /notes, POST /notes, GET /metrics` });
}

const server = http.createServer((req, res) => {
    const started = process.hrtime.bigint();
    res.on("finish", () => {
        if ((req.url || "").startsWith("/metrics")) return;
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        requests.set(String(res.statusCode), (requests.get(String(res.statusCode)) || 0) + 1);
        BUCKETS.forEach((le, i) => (durations.buckets[i] += seconds <= le ? 1 : 0));
        durations.count += 1;
        durations.sum += seconds;
    });
    route(req, res).catch((err) => send(res, 500, { error: err.message }));
});
server.listen(PORT, "127.0.0.1", () => console.log(`demo ${store.VERSION} on 127.0.0.1:${PORT}, data in ${DATA_DIR}`));
// supervisord stops a program with TERM: finish what is in flight, then go.
process.on("SIGTERM", () => server.close(() => process.exit(0)));
