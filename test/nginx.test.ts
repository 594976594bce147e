import * as assert from "assert";
import * as http from "http";
import { renderNginxConfig, RouterSpec } from "../core/nginxConfig";
import { parseAccessLogLine } from "../drivers/metrics/nginxLog";
import { closedAddress, NamedBackend, startDroppingBackend, startNamedBackends } from "./support/httpBackends";
import { failed, failuresByMethod, nginxPaths, percentServedBy, sendRequests, startNginx, tally, TestNginx } from "./support/nginx";
import { freePort } from "./support/processes";

const NEW = "v1.5.0";
const OLD = "v1.4.2";
const SPLIT_REQUESTS = 2000;
const CONCURRENCY = 8;
const TOLERANCE_POINTS = 3;
/** One reload per step, from no traffic on the new version to all of it and back. */
const WEIGHT_MOVES = [25, 50, 75, 100, 75, 50, 25, 0];

describe("single-host router on a real nginx", function () {
    this.timeout(15_000);

    let nginx: TestNginx;
    let spec: (newWeight: number, overrides?: { newWeb?: string[]; components?: RouterSpec["components"] }) => RouterSpec;
    let webNew: NamedBackend, webOld: NamedBackend, apiNew: NamedBackend, apiOld: NamedBackend;
    let listenPort: number;
    let newDirectPort: number;
    let agent: http.Agent;

    before(async () => {
        [webNew, webOld, apiNew, apiOld] = await startNamedBackends(["web-new", "web-old", "api-new", "api-old"]);
        const paths = await nginxPaths();
        const [statusPort, oldDirectPort] = [await freePort(), await freePort()];
        [listenPort, newDirectPort] = [await freePort(), await freePort()];
        spec = (newWeight, overrides = {}) => ({
            listenPort,
            listenAddress: "127.0.0.1",
            statusPort,
            versions: [
                { name: NEW, weight: newWeight, directPort: newDirectPort },
                { name: OLD, weight: 100 - newWeight, directPort: oldDirectPort },
            ],
            components: overrides.components ?? [
                { name: "web", pathPrefix: "/", backends: { [NEW]: overrides.newWeb ?? [webNew.address], [OLD]: [webOld.address] } },
                { name: "api", pathPrefix: "/api/", backends: { [NEW]: [apiNew.address], [OLD]: [apiOld.address] } },
            ],
            // Long enough that a failed peer stays out for the whole test.
            failTimeoutSeconds: 60,
            workerProcesses: 2,
            accessLogPath: paths.accessLogPath,
            tempDirectory: paths.tempDirectory,
        });
        nginx = await startNginx(renderNginxConfig(spec(0)), paths, statusPort);
    });

    beforeEach(() => {
        agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
        for (const backend of [webNew, webOld, apiNew, apiOld]) backend.resetHits();
    });

    afterEach(() => agent.destroy());

    for (const newWeight of [10, 50, 90]) {
        it(`splits ${SPLIT_REQUESTS} requests ${newWeight}/${100 - newWeight} within ±${TOLERANCE_POINTS} points`, async () => {
            await nginx.reload(renderNginxConfig(spec(newWeight)));
            const outcomes = await sendRequests({ port: listenPort, count: SPLIT_REQUESTS, concurrency: CONCURRENCY, agent });
            assert.deepStrictEqual(Object.keys(tally(outcomes)), ["200 web-new", "200 web-old"]);
            const share = percentServedBy(outcomes, "web-new");
            assert.ok(Math.abs(share - newWeight) <= TOLERANCE_POINTS, `web-new served ${share}% at weight ${newWeight}`);
            assert.strictEqual(webNew.hits() + webOld.hits(), SPLIT_REQUESTS);
            for (const outcome of outcomes) {
                if (outcome.error === undefined) assert.strictEqual(outcome.version, outcome.body === "web-new" ? NEW : OLD);
            }
        });
    }

    it("sends exactly nothing to a version with weight 0", async () => {
        await nginx.reload(renderNginxConfig(spec(0)));
        const outcomes = await sendRequests({ port: listenPort, count: 500, concurrency: CONCURRENCY, agent });
        assert.deepStrictEqual(tally(outcomes), { "200 web-old": 500 });
        assert.strictEqual(webNew.hits(), 0);
    });

    it("sends exactly nothing to the previous version at weight 100", async () => {
        await nginx.reload(renderNginxConfig(spec(100)));
        const outcomes = await sendRequests({ port: listenPort, count: 500, concurrency: CONCURRENCY, agent });
        assert.deepStrictEqual(tally(outcomes), { "200 web-new": 500 });
        assert.strictEqual(webOld.hits(), 0);
    });

    it("routes by path prefix: `/api/` reaches only the api containers", async () => {
        await nginx.reload(renderNginxConfig(spec(50)));
        const outcomes = await sendRequests({ port: listenPort, path: "/api/orders", count: 200, concurrency: CONCURRENCY, agent });
        assert.deepStrictEqual(tally(outcomes), { "200 api-new": 100, "200 api-old": 100 });
        assert.strictEqual(webNew.hits() + webOld.hits(), 0);
    });

    it("reaches one version alone through `X-Release-Target` or its direct port, even at weight 0", async () => {
        await nginx.reload(renderNginxConfig(spec(0)));
        const toNew = await sendRequests({ port: listenPort, count: 100, concurrency: 4, agent, headers: { "X-Release-Target": NEW } });
        assert.deepStrictEqual(tally(toNew), { "200 web-new": 100 });
        assert.ok(toNew.every((outcome) => outcome.error === undefined && outcome.version === NEW));
        const toOld = await sendRequests({
            port: listenPort,
            path: "/api/x",
            count: 50,
            concurrency: 4,
            agent,
            headers: { "X-Release-Target": OLD },
        });
        assert.deepStrictEqual(tally(toOld), { "200 api-old": 50 });
        const direct = await sendRequests({ port: newDirectPort, count: 20, concurrency: 2, agent });
        assert.deepStrictEqual(tally(direct), { "200 web-new": 20 });
        const unknown = await sendRequests({
            port: listenPort,
            count: 1,
            concurrency: 1,
            agent,
            headers: { "X-Release-Target": "v9.9.9" },
        });
        assert.deepStrictEqual(tally(unknown), { [`400 \`X-Release-Target\` must name a live version (${NEW}, ${OLD})\n`]: 1 });
    });

    it("answers 503 for a direct request to a version with no containers of that component", async () => {
        const webOnlyOld = [{ name: "web", pathPrefix: "/", backends: { [OLD]: [webOld.address] } }];
        await nginx.reload(renderNginxConfig(spec(0, { components: webOnlyOld })));
        const outcomes = await sendRequests({ port: listenPort, count: 3, concurrency: 1, agent, headers: { "X-Release-Target": NEW } });
        assert.deepStrictEqual(tally(outcomes), { [`503 web has no containers of ${NEW}\n`]: 3 });
    });

    it("takes a version whose container is gone out after the first failure; every request still succeeds", async () => {
        const gone = await closedAddress();
        await nginx.reload(renderNginxConfig(spec(50, { newWeb: [gone] })));
        const logStart = nginx.accessLog().length;
        // One request at a time until the failed version has been tried: round robin gets there within two.
        const first = await sendRequests({ port: listenPort, path: "/gone-check", count: 2, concurrency: 1, agent });
        const rest = await sendRequests({ port: listenPort, path: "/gone-check", count: 400, concurrency: CONCURRENCY, agent });
        assert.deepStrictEqual(tally([...first, ...rest]), { "200 web-old": 402 });
        const lines = (await nginx.accessLogSince(logStart, 402)).map((line) => JSON.parse(line));
        assert.strictEqual(lines.length, 402);
        const triedNew = lines.filter((line) => line.hops.includes(`127.0.0.1:${newDirectPort}`));
        assert.strictEqual(triedNew.length, 1, "only the first request may try the failed version");
        assert.deepStrictEqual(
            [triedNew[0].hops.split(", ")[0], triedNew[0].upstream_status, triedNew[0].version, triedNew[0].status],
            [`127.0.0.1:${newDirectPort}`, "502, 200", OLD, 200],
        );
    });

    it("sends no traffic to a container that drops connections after its first failure", async () => {
        const dropping = await startDroppingBackend();
        await nginx.reload(renderNginxConfig(spec(50, { newWeb: [dropping.address] })));
        // One request at a time until the failed version has been tried once: round robin gets there within two.
        const first = await sendRequests({ port: listenPort, count: 2, concurrency: 1, agent });
        assert.deepStrictEqual(tally(first), { "200 web-old": 2 });
        assert.strictEqual(dropping.connections(), 1);
        const rest = await sendRequests({ port: listenPort, count: 400, concurrency: CONCURRENCY, agent });
        assert.deepStrictEqual(tally(rest), { "200 web-old": 400 });
        assert.strictEqual(dropping.connections(), 1);
    });

    it("moves the weights 0 → 100 → 0 by reloads under GETs and POSTs without one failing, and resends none", async () => {
        await nginx.reload(renderNginxConfig(spec(0)));
        webNew.resetHits();
        webOld.resetHits();
        const logStart = nginx.accessLog().length;
        let moved = false;
        const during = sendRequests({
            port: listenPort,
            count: 50_000,
            concurrency: CONCURRENCY,
            agent,
            methods: ["GET", "POST"],
            resendGets: false,
            stop: () => moved,
        });
        await new Promise((resolve) => setTimeout(resolve, 100));
        for (const weight of WEIGHT_MOVES) await nginx.reload(renderNginxConfig(spec(weight)));
        moved = true;
        const outcomes = await during;
        const { GET, POST } = failuresByMethod(outcomes);
        assert.ok(GET.sent >= 200 && POST.sent >= 200, `only ${GET.sent} GETs and ${POST.sent} POSTs were sent around the reloads`);
        assert.deepStrictEqual(tally(outcomes.filter(failed)), {});
        assert.deepStrictEqual([GET.failed, POST.failed], [0, 0]);
        assert.deepStrictEqual(Object.keys(tally(outcomes)), ["200 web-new", "200 web-old"]);
        // Every POST reached a container exactly once, and nginx logged each request once.
        assert.strictEqual(webNew.posts() + webOld.posts(), POST.sent);
        assert.strictEqual(webNew.hits() + webOld.hits(), outcomes.length);
        const logged = (await nginx.accessLogSince(logStart, outcomes.length)).map((line) => JSON.parse(line));
        assert.strictEqual(logged.length, outcomes.length);
        assert.strictEqual(logged.filter((line) => line.method === "POST").length, POST.sent);
    });

    it("closes each client connection after its answer, so a reload finds none idle", async () => {
        await nginx.reload(renderNginxConfig(spec(50)));
        const connection = await new Promise<string | undefined>((resolve, reject) => {
            const request = http.get({ host: "127.0.0.1", port: listenPort, path: "/", agent }, (response) => {
                response.resume();
                response.on("end", () => resolve(response.headers.connection));
            });
            request.on("error", reject);
            request.setTimeout(5000, () => request.destroy(new Error("no answer within 5000 ms")));
        });
        assert.strictEqual(connection, "close");
    });

    it("refuses a reload that nginx rejects and keeps serving the loaded config", async () => {
        await nginx.reload(renderNginxConfig(spec(100)));
        const broken = renderNginxConfig(spec(0)).replace("worker_connections 1024;", "worker_connections many;");
        await assert.rejects(nginx.reload(broken), /invalid number "many" in .*nginx\.conf:5/);
        const outcomes = await sendRequests({ port: listenPort, count: 50, concurrency: 4, agent });
        assert.deepStrictEqual(tally(outcomes), { "200 web-new": 50 });
    });

    it("writes one JSON access-log line per request with the serving version and no query string", async () => {
        await nginx.reload(renderNginxConfig(spec(50)));
        const logStart = nginx.accessLog().length;
        const outcomes = await sendRequests({ port: listenPort, path: "/log-check?token=s3cret", count: 20, concurrency: 2, agent });
        assert.deepStrictEqual(tally(outcomes), { "200 web-new": 10, "200 web-old": 10 });
        const raw = await nginx.accessLogSince(logStart, 20);
        assert.ok(
            raw.every((line) => !line.includes("s3cret")),
            "the query string reached the log",
        );
        const lines = raw.map((line) => JSON.parse(line));
        assert.strictEqual(lines.length, 20);
        for (const line of lines) {
            assert.deepStrictEqual(Object.keys(line), [
                "time",
                "request_id",
                "component",
                "method",
                "path",
                "status",
                "request_time",
                "version",
                "upstream_addr",
                "upstream_status",
                "upstream_response_time",
                "hops",
                "target",
            ]);
            assert.deepStrictEqual(
                [line.component, line.method, line.path, line.status, line.upstream_status],
                ["web", "GET", "/log-check", 200, "200"],
            );
            assert.strictEqual(line.upstream_addr, line.version === NEW ? webNew.address : webOld.address);
            assert.strictEqual(typeof line.request_time, "number");
            assert.match(line.request_id, /^[0-9a-f]{32}$/);
        }
        assert.deepStrictEqual(lines.map((line) => line.version).sort(), [...Array(10).fill(OLD), ...Array(10).fill(NEW)]);
        // The canary analysis reads these same lines.
        const entries = raw.map(parseAccessLogLine);
        assert.deepStrictEqual(
            entries.map((entry) => [entry?.version, entry?.status]),
            lines.map((line) => [line.version, 200]),
        );
        assert.ok(entries.every((entry) => entry !== undefined && entry.requestTimeSeconds >= 0 && entry.requestTimeSeconds < 5));
    });
});
