import * as http from "http";
import { performance } from "perf_hooks";
import { renderNginxConfig, RouterSpec } from "../core/nginxConfig";
import { NamedBackend, startNamedBackends } from "../test/support/httpBackends";
import { failuresByMethod, nginxPaths, percentServedBy, sendRequests, startNginx, TestNginx } from "../test/support/nginx";
import { freePort } from "../test/support/processes";

const REQUESTS = 2000;
const CONCURRENCY = 8;
const WEIGHTS = [1, 5, 10, 25, 50, 75, 90, 99];
/** From no traffic on the new version to all of it and back, one reload per step of 10 points. */
const WEIGHT_MOVES = [...Array.from({ length: 10 }, (_, i) => 10 * (i + 1)), ...Array.from({ length: 10 }, (_, i) => 90 - 10 * i)];
const FRONT_KEEPALIVE_OFF = "        keepalive_timeout 0;\n";

/**
 * The alternative the generator does not use: `split_clients` hashing `$request_id` into the same
 * per-version hops. Exact only in expectation, so its split wanders by a few points per 2 000 requests.
 */
function withSplitClients(config: string, newWeight: number, newUpstream: string, oldUpstream: string): string {
    const split = `    split_clients "\${request_id}" $web__split {\n        ${newWeight}% ${newUpstream};\n        * ${oldUpstream};\n    }\n\n`;
    return config
        .replace("    map $http_x_release_target $web__upstream {", `${split}    map $http_x_release_target $web__upstream {`)
        .replace('"" web__weighted;', '"" $web__split;');
}

/** The config as it was before the front stopped keeping client connections alive, to measure both in one run. */
function withClientKeepAlive(config: string): string {
    if (!config.includes(FRONT_KEEPALIVE_OFF)) throw new Error("the rendered config has no `keepalive_timeout 0;` on the front to remove");
    return config.replace(FRONT_KEEPALIVE_OFF, "");
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function splitDeviation(nginx: TestNginx, port: number, config: string, newWeight: number): Promise<number> {
    await nginx.reload(config);
    const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    try {
        const outcomes = await sendRequests({ port, count: REQUESTS, concurrency: CONCURRENCY, agent });
        const failed = outcomes.filter((outcome) => outcome.error !== undefined || outcome.status !== 200).length;
        if (failed > 0) throw new Error(`${failed} of ${REQUESTS} requests failed at weight ${newWeight}`);
        return Math.abs(percentServedBy(outcomes, "new") - newWeight);
    } finally {
        agent.destroy();
    }
}

interface MoveFigures {
    readonly line: string;
    readonly reloadMs: number[];
}

/**
 * Loads `render(0)` before the load starts (that reload leaves the previous config, so it counts
 * for neither), then moves the weights under GETs and POSTs that are never resent.
 */
async function weightMoves(
    nginx: TestNginx,
    port: number,
    backends: NamedBackend[],
    render: (weight: number) => string,
): Promise<MoveFigures> {
    await nginx.reload(render(0));
    for (const backend of backends) backend.resetHits();
    const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    let moved = false;
    const load = sendRequests({
        port,
        count: 1_000_000,
        concurrency: CONCURRENCY,
        agent,
        methods: ["GET", "POST"],
        resendGets: false,
        stop: () => moved,
    });
    const reloadMs: number[] = [];
    try {
        for (const weight of WEIGHT_MOVES) reloadMs.push(await nginx.reload(render(weight)));
    } finally {
        moved = true;
    }
    const { GET, POST } = failuresByMethod(await load);
    agent.destroy();
    const posted = backends.reduce((sum, backend) => sum + backend.posts(), 0);
    const columns = [GET.sent, GET.failed, POST.sent, POST.failed, posted].map((n, i) => String(n).padStart([6, 8, 7, 8, 19][i]));
    return { line: columns.join(""), reloadMs };
}

async function requestsPerSecond(port: number): Promise<number> {
    const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    try {
        const started = performance.now();
        await sendRequests({ port, count: REQUESTS, concurrency: CONCURRENCY, agent });
        return REQUESTS / ((performance.now() - started) / 1000);
    } finally {
        agent.destroy();
    }
}

export async function run(): Promise<void> {
    const backends: NamedBackend[] = await startNamedBackends(["new", "old"]);
    const [fresh, previous] = backends;
    const paths = await nginxPaths();
    const [listenPort, statusPort, newPort, oldPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const spec = (newWeight: number): RouterSpec => ({
        listenPort,
        listenAddress: "127.0.0.1",
        statusPort,
        versions: [
            { name: "v1.5.0", weight: newWeight, directPort: newPort },
            { name: "v1.4.2", weight: 100 - newWeight, directPort: oldPort },
        ],
        components: [{ name: "web", pathPrefix: "/", backends: { "v1.5.0": [fresh.address], "v1.4.2": [previous.address] } }],
        workerProcesses: 2,
        accessLogPath: "/dev/null",
        tempDirectory: paths.tempDirectory,
    });
    const nginx = await startNginx(renderNginxConfig(spec(50)), paths, statusPort);
    try {
        console.log(`split accuracy: |served share − weight| over ${REQUESTS} requests, ${CONCURRENCY} keep-alive agents, 2 workers`);
        console.log("weight  round robin (generated)  split_clients on $request_id");
        const roundRobin: number[] = [];
        const hashed: number[] = [];
        for (const weight of WEIGHTS) {
            const config = renderNginxConfig(spec(weight));
            roundRobin.push(await splitDeviation(nginx, listenPort, config, weight));
            hashed.push(
                await splitDeviation(nginx, listenPort, withSplitClients(config, weight, "release__v1_5_0", "release__v1_4_2"), weight),
            );
            console.log(
                `${String(weight).padStart(5)}%  ${roundRobin.at(-1)!.toFixed(2).padStart(10)} pts  ${hashed.at(-1)!.toFixed(2).padStart(22)} pts`,
            );
        }
        const worstRoundRobin = Math.max(...roundRobin);
        const worstHashed = Math.max(...hashed);
        console.log(`max deviation: round robin ${worstRoundRobin.toFixed(2)} pts, split_clients ${worstHashed.toFixed(2)} pts`);

        console.log(
            `weight moves 0 → 100 → 0 by ${WEIGHT_MOVES.length} reloads under ${CONCURRENCY} loops of GET, POST in turn over keep-alive agents, nothing resent:`,
        );
        console.log("front config                    GETs  failed  POSTs  failed  POSTs at backends");
        const keepAlive = await weightMoves(nginx, listenPort, backends, (weight) => withClientKeepAlive(renderNginxConfig(spec(weight))));
        console.log(`client keep-alive (before)  ${keepAlive.line}`);
        const closing = await weightMoves(nginx, listenPort, backends, (weight) => renderNginxConfig(spec(weight)));
        console.log(`keepalive_timeout 0 (now)   ${closing.line}`);
        const reloads = closing.reloadMs;
        console.log(
            `weight change (config written → new config answering, old workers no longer accepting), ${reloads.length} changes: ` +
                `median ${median(reloads).toFixed(0)} ms, min ${Math.min(...reloads).toFixed(0)} ms, max ${Math.max(...reloads).toFixed(0)} ms`,
        );

        await nginx.reload(renderNginxConfig(spec(50)));
        // Interleaved rounds, best of each, so a burst of other work on the machine hits all three alike.
        const rounds: number[][] = [];
        for (let round = 0; round < 3; round++) {
            rounds.push([await requestsPerSecond(listenPort), await requestsPerSecond(newPort), await requestsPerSecond(fresh.port)]);
        }
        const [viaRouter, viaHop, direct] = [0, 1, 2].map((i) => Math.max(...rounds.map((round) => round[i])));
        await nginx.reload(withClientKeepAlive(renderNginxConfig(spec(50))));
        const keptAlive: number[] = [];
        for (let round = 0; round < 3; round++) keptAlive.push(await requestsPerSecond(listenPort));
        console.log(
            `throughput, best of 3 × ${REQUESTS} GETs: front+hop ${viaRouter.toFixed(0)}/s (with client keep-alive, before: ` +
                `${Math.max(...keptAlive).toFixed(0)}/s), hop only ${viaHop.toFixed(0)}/s, backend direct ${direct.toFixed(0)}/s`,
        );
        console.log(
            `ratio front+hop / backend direct: ${(viaRouter / direct).toFixed(2)}; front+hop / hop only: ${(viaRouter / viaHop).toFixed(2)}`,
        );
    } finally {
        await nginx.stop();
        await Promise.all(backends.map((backend) => backend.close()));
    }
}
