import * as path from "path";
import type * as grpcTypes from "@grpc/grpc-js";
import * as engineRpc from "@pulumi/pulumi/proto/engine_grpc_pb";
import * as engineProto from "@pulumi/pulumi/proto/engine_pb";

/** Writes a resource's log lines to the engine, in order. */
export interface EngineLog {
    line(urn: string, message: string): void;
    /** Resolves once every line written so far has reached the engine (or failed to). */
    flushed(): Promise<void>;
}

/** The same gRPC library the SDK's generated clients were built against, not a second copy. */
const grpc: typeof grpcTypes = require(require.resolve("@grpc/grpc-js", { paths: [path.dirname(require.resolve("@pulumi/pulumi"))] }));

/**
 * Upstream logs command output with the Go provider's `InfoStatus`: info
 * severity, ephemeral (shown while the step runs, not kept among the update's
 * diagnostics), attached to the resource's URN. Without an engine address (the
 * plugin run by hand) lines go nowhere.
 */
export function engineLog(engineAddress: string | undefined): EngineLog {
    if (engineAddress === undefined) return { line: () => undefined, flushed: () => Promise.resolve() };
    const client = new engineRpc.EngineClient(engineAddress, grpc.credentials.createInsecure());
    let last = Promise.resolve();
    return {
        line(urn, message) {
            const request = new engineProto.LogRequest();
            request.setSeverity(engineProto.LogSeverity.INFO);
            request.setMessage(message);
            request.setUrn(urn);
            request.setEphemeral(true);
            last = last.then(
                () =>
                    new Promise<void>((resolve) =>
                        client.log(request, (err) => {
                            // A lost log line must not fail the resource operation; say so where the engine keeps plugin stderr.
                            if (err) console.error(`could not send a log line to the engine at ${engineAddress}: ${err.message}`);
                            resolve();
                        }),
                    ),
            );
        },
        flushed: () => last,
    };
}

/** The engine address among a plugin's arguments: the first that is not one of the engine's flags (as the SDK's `main` reads it). */
export function engineAddressFromArgs(args: readonly string[]): string | undefined {
    for (let i = 0; i < args.length; i++) {
        if (args[i] === "--tracing") i += 1;
        else if (args[i] === "--logtostderr" || args[i].startsWith("-v=")) continue;
        else return args[i];
    }
    return undefined;
}
