import { ChildProcess, spawn } from "child_process";
import * as path from "path";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import type * as grpcTypes from "@grpc/grpc-js";
import * as engineRpc from "@pulumi/pulumi/proto/engine_grpc_pb";
import * as engineProto from "@pulumi/pulumi/proto/engine_pb";
import { EngineLog } from "./engineLog";

const grpc: typeof grpcTypes = require(require.resolve("@grpc/grpc-js", { paths: [path.dirname(require.resolve("@pulumi/pulumi"))] }));
export { grpc };

/** A URN as the engine forms it for a command the program registers under a component. */
export function commandUrn(name: string, type = "command:local:Command"): string {
    return `urn:pulumi:dev::release::safe-release:data:Migration$${type}::${name}`;
}

/** An engine log that keeps what it is sent, for tests that call the provider object directly. */
export function recordingLog(): EngineLog & { readonly lines: Array<{ urn: string; message: string }> } {
    const lines: Array<{ urn: string; message: string }> = [];
    return { lines, line: (urn, message) => lines.push({ urn, message }), flushed: () => Promise.resolve() };
}

export interface ReceivedLog {
    readonly severity: number;
    readonly message: string;
    readonly urn: string;
    readonly ephemeral: boolean;
}

/** The engine's log service on a free loopback port, keeping what plugins send it. */
export async function fakeEngine(): Promise<{ address: string; logs: ReceivedLog[]; stop(): Promise<void> }> {
    const logs: ReceivedLog[] = [];
    const server = new grpc.Server();
    server.addService(engineRpc.EngineService, {
        log(call: grpcTypes.ServerUnaryCall<engineProto.LogRequest, unknown>, callback: grpcTypes.sendUnaryData<unknown>) {
            const r = call.request;
            logs.push({ severity: r.getSeverity(), message: r.getMessage(), urn: r.getUrn(), ephemeral: r.getEphemeral() });
            callback(null, new Empty());
        },
    });
    const port = await new Promise<number>((resolve, reject) =>
        server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    return { address: `127.0.0.1:${port}`, logs, stop: () => new Promise((resolve) => server.tryShutdown(() => resolve())) };
}

/** Starts a plugin executable as the engine does and waits (bounded) for the port it prints. */
export function startPlugin(
    executable: string,
    args: string[],
    cwd: string,
    timeoutMs = 30000,
): Promise<{ child: ChildProcess; port: number }> {
    return new Promise((resolve, reject) => {
        const child = spawn(executable, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        const timer = setTimeout(() => {
            child.kill("SIGKILL");
            reject(new Error(`${executable} printed no port within ${timeoutMs} ms; stderr: ${stderr}`));
        }, timeoutMs);
        child.stderr!.on("data", (chunk) => (stderr += chunk));
        child.stdout!.on("data", (chunk) => {
            stdout += chunk;
            const line = /^(\d+)\n/.exec(stdout);
            if (line) {
                clearTimeout(timer);
                resolve({ child, port: Number(line[1]) });
            }
        });
        child.on("error", (err) => (clearTimeout(timer), reject(err)));
        child.on("exit", (code) => (clearTimeout(timer), reject(new Error(`${executable} exited ${code} before serving: ${stderr}`))));
    });
}

/** Stops a started plugin and waits (bounded) for it to go. */
export function stopPlugin(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
        const timer = setTimeout(() => (child.kill("SIGKILL"), resolve()), 5000);
        child.once("exit", () => (clearTimeout(timer), resolve()));
        child.kill("SIGTERM");
    });
}
