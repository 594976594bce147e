import { spawn } from "child_process";
import * as http from "http";
import { Duplex } from "stream";

/**
 * A small client of the Docker Engine API. A `unix://` host is reached directly
 * over its socket; any other (`tcp://`, `ssh://`) through `docker system
 * dial-stdio`, so the stand-in reaches exactly the engines the docker CLI (and
 * the program's own `docker` commands) reach. Request bodies can hold secrets
 * (container environments): errors carry the method, path and the engine's
 * message, never the body.
 */

export const DEFAULT_HOST = "unix:///var/run/docker.sock";
const DEFAULT_TIMEOUT_MS = 60_000;

export class EngineError extends Error {
    constructor(
        message: string,
        readonly status: number,
    ) {
        super(message);
    }
}

export interface EngineResponse {
    readonly status: number;
    readonly text: string;
}

export class DockerEngine {
    /** The engine the provider's `host` (or `DOCKER_HOST`, or Docker's default socket) names. */
    readonly host: string;

    constructor(host?: string) {
        this.host = host ?? process.env.DOCKER_HOST ?? DEFAULT_HOST;
    }

    /** JSON in, JSON out; a 404 is `undefined` so callers can say "gone". Other errors throw. */
    async json(method: string, path: string, body?: unknown, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<any> {
        const response = await this.request(method, path, body, timeoutMs);
        if (response.status === 404) return undefined;
        this.raiseFor(method, path, response);
        return response.text === "" ? {} : JSON.parse(response.text);
    }

    /** A call whose 404 means "already gone", e.g. deleting. */
    async ignoringMissing(method: string, path: string, body?: unknown): Promise<void> {
        const response = await this.request(method, path, body, DEFAULT_TIMEOUT_MS);
        if (response.status !== 404) this.raiseFor(method, path, response);
    }

    /**
     * A streaming call (image pull): the engine answers 200 and reports failure
     * inside the stream as a line `{"error": …}`.
     */
    async progress(method: string, path: string, timeoutMs: number): Promise<void> {
        const response = await this.request(method, path, undefined, timeoutMs);
        this.raiseFor(method, path, response);
        for (const line of response.text.split("\n")) {
            if (line.trim() === "") continue;
            const event = JSON.parse(line);
            if (event.error !== undefined) throw new EngineError(`docker engine at ${this.host}: ${method} ${path}: ${event.error}`, 500);
        }
    }

    /** Throws the engine's own message for an error status. */
    raiseFor(method: string, path: string, response: EngineResponse): void {
        if (response.status < 400) return;
        let message = response.text.trim();
        try {
            message = JSON.parse(response.text).message ?? message;
        } catch {
            // not JSON: keep the text
        }
        throw new EngineError(`docker engine at ${this.host}: ${method} ${path} answered ${response.status}: ${message}`, response.status);
    }

    request(method: string, path: string, body: unknown, timeoutMs: number): Promise<EngineResponse> {
        const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
        const transport = this.connect();
        return new Promise<EngineResponse>((resolve, reject) => {
            const timer = setTimeout(() => {
                req.destroy(new Error(`docker engine at ${this.host}: ${method} ${path} did not answer within ${timeoutMs / 1000}s`));
            }, timeoutMs);
            const done = (err: Error | undefined, response?: EngineResponse): void => {
                clearTimeout(timer);
                transport.close();
                if (err !== undefined) reject(err);
                else resolve(response!);
            };
            const req = http.request(
                {
                    ...transport.options,
                    method,
                    path,
                    headers: {
                        Host: "docker",
                        Connection: "close",
                        ...(payload !== undefined ? { "Content-Type": "application/json", "Content-Length": payload.length } : {}),
                    },
                },
                (res) => {
                    const chunks: Buffer[] = [];
                    res.on("data", (chunk: Buffer) => chunks.push(chunk));
                    res.on("end", () => done(undefined, { status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
                    res.on("error", (err) => done(err));
                },
            );
            req.on("error", (err) =>
                done(
                    err.message.startsWith("docker engine")
                        ? err
                        : new Error(`docker engine at ${this.host}: ${method} ${path}: ${err.message}`),
                ),
            );
            req.end(payload);
        });
    }

    private connect(): { options: http.RequestOptions; close: () => void } {
        if (this.host.startsWith("unix://")) return { options: { socketPath: this.host.slice("unix://".length) }, close: () => undefined };
        const child = spawn("docker", ["--host", this.host, "system", "dial-stdio"], { stdio: ["pipe", "pipe", "ignore"] });
        child.on("error", () => undefined);
        const socket = Duplex.from({ readable: child.stdout, writable: child.stdin });
        return {
            options: { createConnection: () => socket as any },
            close: () => {
                if (child.exitCode === null) child.kill();
            },
        };
    }
}

/** `?a=1&b=x` from the defined entries. */
export function query(params: Record<string, string | boolean | undefined>): string {
    const entries = Object.entries(params).filter(([, v]) => v !== undefined) as Array<[string, string | boolean]>;
    return entries.length === 0 ? "" : "?" + new URLSearchParams(entries.map(([k, v]): [string, string] => [k, String(v)])).toString();
}
