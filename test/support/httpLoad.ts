import * as http from "http";

/** A method the load sends; a POST stands for any request a client must never send twice. */
export type LoadMethod = "GET" | "POST";

/**
 * One request's outcome: the answer, or the client-side error (reset, refused …).
 * `retried` marks a GET sent a second time because the connection closed before any byte of an
 * answer, as a keep-alive connection does when a server closes it while the request is on its
 * way. HTTP lets clients resend idempotent requests then, and browsers and proxies do.
 */
export type Outcome =
    | {
          readonly method: LoadMethod;
          readonly status: number;
          readonly body: string;
          readonly version: string | undefined;
          readonly retried: boolean;
          readonly error?: undefined;
      }
    | { readonly method: LoadMethod; readonly error: string };

export interface LoadOptions {
    readonly port: number;
    /** Requests to send in all; the run ends earlier once `stop()` returns true. */
    readonly count: number;
    readonly concurrency: number;
    readonly path?: string;
    readonly headers?: Readonly<Record<string, string>>;
    /** Keep-alive connections reused across requests, like a browser or a load balancer. */
    readonly agent: http.Agent;
    readonly stop?: () => boolean;
    /** Methods sent in turn by each loop, e.g. `["GET", "POST"]` for half of each. @default ["GET"] */
    readonly methods?: readonly LoadMethod[];
    /**
     * Resend a GET once when its connection closed before any byte of an answer. POSTs are never
     * resent: the client cannot know whether the server acted on them. @default true
     */
    readonly resendGets?: boolean;
}

const RESEND_DELAY_MS = 20;
const REQUEST_TIMEOUT_MS = 5000;

function sendOnce(options: LoadOptions, method: LoadMethod, sequence: number, retried = false): Promise<Outcome> {
    return new Promise((resolve) => {
        let answered = false;
        const payload = method === "POST" ? JSON.stringify({ order: sequence }) : undefined;
        const headers = {
            ...options.headers,
            ...(payload === undefined ? {} : { "Content-Type": "application/json", "Content-Length": String(Buffer.byteLength(payload)) }),
        };
        const request = http.request(
            { host: "127.0.0.1", port: options.port, path: options.path ?? "/", method, headers, agent: options.agent },
            (response) => {
                answered = true;
                let body = "";
                response.setEncoding("utf8");
                response.on("data", (chunk) => (body += chunk));
                response.on("end", () => {
                    const version = response.headers["x-release-version"];
                    resolve({
                        method,
                        status: response.statusCode ?? 0,
                        body,
                        version: typeof version === "string" ? version : undefined,
                        retried,
                    });
                });
                response.on("error", (err) => resolve({ method, error: err.message }));
            },
        );
        request.on("error", (err: NodeJS.ErrnoException) => {
            const closedUnanswered = !answered && (err.code === "ECONNRESET" || err.message === "socket hang up");
            const resend = closedUnanswered && !retried && method === "GET" && (options.resendGets ?? true);
            // A short pause lets the retiring worker finish closing its listeners before the resend.
            if (resend) setTimeout(() => void sendOnce(options, method, sequence, true).then(resolve), RESEND_DELAY_MS);
            else resolve({ method, error: err.message });
        });
        request.setTimeout(REQUEST_TIMEOUT_MS, () => request.destroy(new Error(`request timed out after ${REQUEST_TIMEOUT_MS} ms`)));
        request.end(payload);
    });
}

/** Sends up to `count` requests over `concurrency` parallel loops; outcomes in completion order. */
export async function sendRequests(options: LoadOptions): Promise<Outcome[]> {
    const methods = options.methods ?? ["GET"];
    if (methods.length === 0) throw new Error("`methods` must name at least one of GET, POST; got none");
    const outcomes: Outcome[] = [];
    let issued = 0;
    const loop = async () => {
        while (issued < options.count && !(options.stop?.() ?? false)) {
            const sequence = issued++;
            outcomes.push(await sendOnce(options, methods[sequence % methods.length], sequence));
        }
    };
    await Promise.all(Array.from({ length: options.concurrency }, loop));
    return outcomes;
}

/** An outcome that is not a 200 answer: what a user would have seen fail. */
export function failed(outcome: Outcome): boolean {
    return outcome.error !== undefined || outcome.status !== 200;
}

/** Requests sent and failed, per method. */
export function failuresByMethod(outcomes: readonly Outcome[]): Record<LoadMethod, { sent: number; failed: number }> {
    const count = (method: LoadMethod) => {
        const mine = outcomes.filter((outcome) => outcome.method === method);
        return { sent: mine.length, failed: mine.filter(failed).length };
    };
    return { GET: count("GET"), POST: count("POST") };
}

/** How many outcomes carry each answer body (the backend's name) or error; keys sorted. */
export function tally(outcomes: readonly Outcome[]): Record<string, number> {
    const counts = new Map<string, number>();
    for (const outcome of outcomes) {
        const key = outcome.error !== undefined ? `error: ${outcome.error}` : `${outcome.status} ${outcome.body}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    return Object.fromEntries([...counts.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Percent of outcomes answered 200 by the backend named `body`. */
export function percentServedBy(outcomes: readonly Outcome[], body: string): number {
    const served = outcomes.filter((outcome) => outcome.error === undefined && outcome.status === 200 && outcome.body === body).length;
    return (100 * served) / outcomes.length;
}
