import * as http from "http";
import * as net from "net";
import { atTestEnd, freePort } from "./processes";

/** A plain HTTP server on 127.0.0.1 that answers every request with its own name. */
export interface NamedBackend {
    readonly name: string;
    readonly port: number;
    /** `127.0.0.1:<port>`, as a router spec lists it. */
    readonly address: string;
    /** Requests answered since start or the last `resetHits()`. */
    hits(): number;
    /** POSTs among them, each counted once its whole body arrived. */
    posts(): number;
    resetHits(): void;
    close(): Promise<void>;
}

function listen(server: net.Server): Promise<number> {
    return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port));
    });
}

function closer(server: net.Server, sockets: Set<net.Socket>): () => Promise<void> {
    let closed: Promise<void> | undefined;
    return () => {
        closed ??= new Promise((resolve) => {
            server.close(() => resolve());
            for (const socket of sockets) socket.destroy();
        });
        return closed;
    };
}

function track(server: net.Server): Set<net.Socket> {
    const sockets = new Set<net.Socket>();
    server.on("connection", (socket: net.Socket) => {
        sockets.add(socket);
        socket.on("close", () => sockets.delete(socket));
    });
    return sockets;
}

/** Starts one backend per name; each is closed when the test run ends. */
export async function startNamedBackends(names: readonly string[]): Promise<NamedBackend[]> {
    return Promise.all(names.map(startNamedBackend));
}

async function startNamedBackend(name: string): Promise<NamedBackend> {
    let hits = 0;
    let posts = 0;
    const server = http.createServer((request, response) => {
        hits += 1;
        request.resume();
        request.on("end", () => {
            if (request.method === "POST") posts += 1;
            response.writeHead(200, { "Content-Type": "text/plain", "Content-Length": Buffer.byteLength(name) });
            response.end(name);
        });
    });
    server.keepAliveTimeout = 60_000;
    const sockets = track(server);
    const port = await listen(server);
    const close = closer(server, sockets);
    atTestEnd(close);
    return {
        name,
        port,
        address: `127.0.0.1:${port}`,
        hits: () => hits,
        posts: () => posts,
        resetHits: () => {
            hits = 0;
            posts = 0;
        },
        close,
    };
}

/** A TCP server that accepts and at once drops every connection: a container that is up but broken. */
export interface DroppingBackend {
    readonly address: string;
    /** Connections accepted (and dropped) so far. */
    connections(): number;
    close(): Promise<void>;
}

export async function startDroppingBackend(): Promise<DroppingBackend> {
    let connections = 0;
    const server = net.createServer((socket) => {
        connections += 1;
        socket.destroy();
    });
    const sockets = track(server);
    const port = await listen(server);
    const close = closer(server, sockets);
    atTestEnd(close);
    return { address: `127.0.0.1:${port}`, connections: () => connections, close };
}

/** `127.0.0.1:<port>` where nothing listens: a container that is gone. */
export async function closedAddress(): Promise<string> {
    return `127.0.0.1:${await freePort()}`;
}
