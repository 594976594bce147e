import * as assert from "assert";
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import { Writable } from "stream";
import { command } from "../ops/commands/smoke";
import { main } from "../ops/cli";
import { parseSmokeConfig } from "../core/smokeConfig";
import { runSmoke, SmokeReport } from "../ops/smoke/runner";
import { tempDir } from "./support/processes";

const OPERATOR_TOKEN = "op-7f3c2a9e-operator-token";
const JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1LTEifQ.c2lnbmF0dXJlLXNpZ25lZA";

/** A small service with the runbooks' smoke surface: health, auth, projects, plus misbehaving routes. */
function startService(): Promise<{ url: string; requests: string[]; close: () => Promise<void> }> {
    const projects = new Map<string, string>();
    const requests: string[] = [];
    const server = http.createServer((req, res) => {
        let raw = "";
        req.on("data", (chunk) => (raw += chunk));
        req.on("end", () => {
            requests.push(`${req.method} ${req.url} target=${req.headers["x-release-target"] ?? "-"}`);
            const body = raw ? JSON.parse(raw) : undefined;
            const send = (status: number, payload: unknown) => {
                res.writeHead(status, { "Content-Type": "application/json" });
                res.end(typeof payload === "string" ? payload : JSON.stringify(payload));
            };
            const authorized = req.headers.authorization === `Bearer ${JWT}`;
            if (req.url === "/health") return send(200, { status: "ok", version: "v1.5.0" });
            if (req.url === "/health/internal") {
                return req.headers.authorization === `Bearer ${OPERATOR_TOKEN}`
                    ? send(200, { status: "ok", db: { connected: true } })
                    : send(401, { error: "operator token required" });
            }
            if (req.url === "/degraded") return send(200, { status: "degraded", db: { connected: false } });
            if (req.url === "/broken") return send(500, `{"error":"boom","echo":"Authorization: Bearer ${OPERATOR_TOKEN}"}`);
            if (req.url === "/leaky") {
                return send(503, {
                    error: "unavailable",
                    password: "hunter2-pass",
                    session: JWT,
                    note: `operator ${OPERATOR_TOKEN}`,
                    pad: "x".repeat(600),
                });
            }
            if (req.url === "/slow") return void setTimeout(() => send(200, { status: "ok" }), 1500);
            if (req.url === "/auth/register" && req.method === "POST") return send(201, { id: "u-1", email: body.email });
            if (req.url === "/auth/login" && req.method === "POST") {
                return body.password === "correct horse" ? send(200, { access_token: JWT }) : send(401, { error: "bad credentials" });
            }
            if (req.url === "/auth/me")
                return authorized ? send(200, { id: "u-1", email: "smoke@example.com" }) : send(401, { error: "no" });
            if (req.url === "/projects" && req.method === "POST") {
                const id = `p-${projects.size + 41}`;
                projects.set(id, body.name);
                return send(201, { project: { id, name: body.name } });
            }
            if (req.url === "/projects" && req.method === "GET")
                return send(200, { items: [...projects].map(([id, name]) => ({ id, name })) });
            const match = /^\/projects\/([^/]+)$/.exec(req.url ?? "");
            if (match && req.method === "DELETE")
                return projects.delete(decodeURIComponent(match[1])) ? send(204, "") : send(404, { error: "no such project" });
            send(404, { error: "not found" });
        });
    });
    return new Promise((resolve) =>
        server.listen(0, "127.0.0.1", () => {
            const { port } = server.address() as { port: number };
            resolve({
                url: `http://127.0.0.1:${port}`,
                requests,
                close: () =>
                    new Promise((r) => {
                        server.closeAllConnections();
                        server.close(() => r());
                    }),
            });
        }),
    );
}

function capture(): { stream: Writable; text: () => string } {
    let text = "";
    return {
        stream: new Writable({
            write(chunk, _enc, done) {
                text += chunk;
                done();
            },
        }),
        text: () => text,
    };
}

function strip(report: SmokeReport): Array<Record<string, unknown>> {
    return report.results.map(({ durationMs, ...rest }) => {
        assert.ok(durationMs >= 0 && durationMs < 5000, `duration ${durationMs}`);
        return rest;
    });
}

describe("smoke runner against a real HTTP service", () => {
    let service: Awaited<ReturnType<typeof startService>>;
    beforeEach(async () => (service = await startService()));
    afterEach(async () => service.close());

    it("passes public and operator health checks and sends the pinning header", async () => {
        const items = parseSmokeConfig([
            { name: "health", path: "/health", expectJson: { status: "ok" } },
            { name: "internal", path: "/health/internal", useOperatorToken: true, expectJson: { "db.connected": true } },
        ]);
        const report = await runSmoke(items, {
            baseUrl: `${service.url}/`,
            headers: { "X-Release-Target": "v1.5.0" },
            operatorToken: OPERATOR_TOKEN,
        });
        assert.deepStrictEqual(strip(report), [
            { name: "health", method: "GET", path: "/health", status: 200, ok: true },
            { name: "internal", method: "GET", path: "/health/internal", status: 200, ok: true },
        ]);
        assert.deepStrictEqual([report.ok, report.passed, report.failed], [true, 2, 0]);
        assert.deepStrictEqual(service.requests, ["GET /health target=v1.5.0", "GET /health/internal target=v1.5.0"]);
    });

    it("fails on a wrong status and masks the echoed bearer token in the body excerpt", async () => {
        const report = await runSmoke(parseSmokeConfig([{ name: "broken", path: "/broken" }]), {
            baseUrl: service.url,
            operatorToken: OPERATOR_TOKEN,
        });
        assert.strictEqual(report.ok, false);
        assert.strictEqual(report.results[0].status, 500);
        assert.strictEqual(
            report.results[0].error,
            "smoke check `broken` failed: GET /broken returned 500, expected 200; response body (first 500 bytes, secrets masked): " +
                '{"error":"boom","echo":"Authorization: Bearer [masked]"}',
        );
    });

    it("fails on a JSON expectation and names the dot path, the value found and the value expected", async () => {
        const items = parseSmokeConfig([{ name: "db", path: "/degraded", expectJson: { status: "degraded", "db.connected": true } }]);
        const report = await runSmoke(items, { baseUrl: service.url });
        assert.strictEqual(
            report.results[0].error,
            "smoke check `db` failed: GET /degraded returned 200 but `db.connected` is false, expected true; " +
                'response body (first 500 bytes, secrets masked): {"status":"degraded","db":{"connected":false}}',
        );
    });

    it("masks the operator token, passwords and JWTs and cuts the excerpt at 500 bytes", async () => {
        const report = await runSmoke(parseSmokeConfig([{ name: "leaky", path: "/leaky", expectStatus: 200 }]), {
            baseUrl: service.url,
            operatorToken: OPERATOR_TOKEN,
        });
        const error = report.results[0].error!;
        const excerpt = error.slice(error.indexOf("masked): ") + "masked): ".length);
        const full = JSON.stringify({
            error: "unavailable",
            password: "[masked]",
            session: "[masked]",
            note: "operator [masked]",
            pad: "x".repeat(600),
        });
        assert.strictEqual(excerpt, full.slice(0, 500));
        for (const secret of [OPERATOR_TOKEN, JWT, "hunter2-pass"]) assert.ok(!error.includes(secret), `leaked ${secret}`);
    });

    it("fails a check slower than its timeout without waiting for the response", async () => {
        const started = Date.now();
        const report = await runSmoke(parseSmokeConfig([{ name: "slow", path: "/slow", timeoutMs: 200 }]), { baseUrl: service.url });
        assert.ok(Date.now() - started < 1000, "waited for the slow response");
        assert.deepStrictEqual(strip(report), [
            {
                name: "slow",
                method: "GET",
                path: "/slow",
                status: null,
                ok: false,
                error: "smoke check `slow` failed: GET /slow did not respond within 200 ms",
            },
        ]);
    });

    it("runs the auth and project flows with captured ids and tokens", async () => {
        const items = parseSmokeConfig([
            {
                name: "auth",
                steps: [
                    {
                        name: "register",
                        method: "POST",
                        path: "/auth/register",
                        body: { email: "smoke@example.com", password: "correct horse" },
                        expectStatus: 201,
                    },
                    {
                        name: "login",
                        method: "POST",
                        path: "/auth/login",
                        body: { email: "smoke@example.com", password: "correct horse" },
                        capture: { token: "access_token" },
                    },
                    {
                        name: "me",
                        path: "/auth/me",
                        headers: { Authorization: "Bearer {{token}}" },
                        expectJson: { email: "smoke@example.com" },
                    },
                ],
            },
            {
                name: "projects",
                steps: [
                    {
                        name: "create",
                        method: "POST",
                        path: "/projects",
                        body: { name: "smoke" },
                        expectStatus: 201,
                        capture: { projectId: "project.id" },
                    },
                    { name: "list", path: "/projects", expectJson: { "items.length": 1, "items.0.id": "p-41" } },
                    { name: "delete", method: "DELETE", path: "/projects/{{projectId}}", expectStatus: 204 },
                    { name: "gone", method: "DELETE", path: "/projects/{{projectId}}", expectStatus: 204 },
                    { name: "after", path: "/projects" },
                ],
            },
        ]);
        const report = await runSmoke(items, { baseUrl: service.url });
        assert.deepStrictEqual(
            report.results.map((r) => [r.name, r.method, r.path, r.status, r.ok, r.skipped ?? false]),
            [
                ["auth/register", "POST", "/auth/register", 201, true, false],
                ["auth/login", "POST", "/auth/login", 200, true, false],
                ["auth/me", "GET", "/auth/me", 200, true, false],
                ["projects/create", "POST", "/projects", 201, true, false],
                ["projects/list", "GET", "/projects", 200, true, false],
                ["projects/delete", "DELETE", "/projects/p-41", 204, true, false],
                ["projects/gone", "DELETE", "/projects/p-41", 404, false, false],
                ["projects/after", "GET", "/projects", null, false, true],
            ],
        );
        assert.strictEqual(report.results[7].error, "smoke check `projects/after` skipped: earlier step `gone` failed");
        assert.deepStrictEqual([report.passed, report.failed], [6, 2]);
    });
});

describe("safe-release-ops smoke", () => {
    let service: Awaited<ReturnType<typeof startService>>;
    let dir: string;
    before(async () => (dir = await tempDir("smoke-")));
    after(() => fs.rmSync(dir, { recursive: true, force: true }));
    beforeEach(async () => (service = await startService()));
    afterEach(async () => service.close());

    async function invoke(args: string[], env: NodeJS.ProcessEnv = {}) {
        const out = capture();
        const err = capture();
        const code = await main(["smoke", ...args], { env, stdout: out.stream, stderr: err.stream });
        return { code, stdout: out.text(), stderr: err.text() };
    }

    it("prints one JSON report on stdout, progress on stderr, and exits 1 on a failure", async () => {
        const checks = path.join(dir, "checks.json");
        fs.writeFileSync(
            checks,
            JSON.stringify([
                { name: "internal", path: "/health/internal", useOperatorToken: true },
                { name: "broken", path: "/broken" },
            ]),
        );
        const result = await invoke(["--base-url", service.url, "--checks", checks, "--header", "X-Release-Target: v1.5.0"], {
            SMOKE_OPERATOR_TOKEN: OPERATOR_TOKEN,
        });
        assert.strictEqual(result.code, 1);
        const report = JSON.parse(result.stdout);
        assert.deepStrictEqual(
            report.results.map((r: { name: string; ok: boolean }) => [r.name, r.ok]),
            [
                ["internal", true],
                ["broken", false],
            ],
        );
        assert.ok(result.stderr.includes("smoke: 1 passed, 1 failed\n"));
        assert.ok(!result.stdout.includes(OPERATOR_TOKEN) && !result.stderr.includes(OPERATOR_TOKEN));
        assert.deepStrictEqual(service.requests, ["GET /health/internal target=v1.5.0", "GET /broken target=v1.5.0"]);
    });

    it("takes the list itself with --checks-json, where a one-off task has no stdin", async () => {
        const result = await invoke(["--base-url", service.url, "--checks-json", JSON.stringify([{ name: "health", path: "/health" }])]);
        assert.deepStrictEqual([result.code, JSON.parse(result.stdout).ok, service.requests], [0, true, ["GET /health target=-"]]);
    });

    it("exits 0 when every check passes", async () => {
        const checks = path.join(dir, "ok.json");
        fs.writeFileSync(checks, JSON.stringify([{ name: "health", path: "/health" }]));
        const result = await invoke(["--base-url", service.url, "--checks", checks]);
        assert.deepStrictEqual([result.code, JSON.parse(result.stdout).ok], [0, true]);
    });

    it("refuses bad arguments with exit 2 and exact messages", async () => {
        const checks = path.join(dir, "needs-token.json");
        fs.writeFileSync(checks, JSON.stringify([{ name: "internal", path: "/health/internal", useOperatorToken: true }]));
        const bad = path.join(dir, "bad.json");
        fs.writeFileSync(bad, JSON.stringify([{ name: "x", path: "/x", expectStatus: 700 }]));
        const cases: Array<[string[], string]> = [
            [["--checks", checks], "smoke: `--base-url` is required, such as --base-url http://127.0.0.1:8080\n"],
            [["--base-url", "ftp://x", "--checks", checks], 'smoke: `--base-url` must be an http:// or https:// URL; got "ftp://x"\n'],
            [
                ["--base-url", service.url, "--checks", checks, "--header", "Authorization:Bearer abc"],
                "smoke: `--header Authorization` would put a credential on the command line; set `SMOKE_OPERATOR_TOKEN` and `useOperatorToken` instead\n",
            ],
            [
                ["--base-url", service.url, "--checks", checks, "--header", "novalue"],
                'smoke: `--header` must be Name:Value, such as X-Release-Target:v1.5.0; got "novalue"\n',
            ],
            [["--base-url", service.url, "--checks", path.join(dir, "missing.json")], "smoke: `--checks` file cannot be read: ENOENT\n"],
            [
                ["--base-url", service.url, "--checks", bad],
                "smoke: `release:smoke[0].expectStatus` must be an integer HTTP status from 100 to 599; got 700\n",
            ],
            [
                ["--base-url", service.url, "--checks", checks],
                "smoke: `SMOKE_OPERATOR_TOKEN` is not set; `internal` need the operator token (`release:smokeOperatorToken`)\n",
            ],
            [
                ["--base-url", service.url, "--verbose"],
                "smoke: unknown argument `--verbose`; valid: --base-url, --checks, --checks-json, --header\n",
            ],
            [
                ["--base-url", service.url, "--checks", checks, "--checks-json", "[]"],
                "smoke: `--checks` and `--checks-json` both give the checks; give exactly one of them\n",
            ],
            [
                ["--base-url", service.url],
                "smoke: `--checks` or `--checks-json` is required: a JSON file holding the `release:smoke` list (`-`: stdin), or the list itself\n",
            ],
            [
                ["--base-url", service.url, "--checks-json", '[{"name":"x","path":"/x","expectStatus":700}]'],
                "smoke: `release:smoke[0].expectStatus` must be an integer HTTP status from 100 to 599; got 700\n",
            ],
        ];
        for (const [args, message] of cases) {
            const result = await invoke(args);
            assert.deepStrictEqual([result.code, result.stderr, result.stdout], [2, message, ""], args.join(" "));
        }
        assert.deepStrictEqual(service.requests, []);
    });

    it("documents itself", () => {
        assert.ok(command.usage.startsWith("usage: safe-release-ops smoke --base-url <url> --checks <json file>"));
    });
});
