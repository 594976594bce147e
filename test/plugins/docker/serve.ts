import * as path from "path";
import { main } from "@pulumi/pulumi/provider";
import { DockerConfig, DockerProvider } from "./provider";

/**
 * `main(provider, args)` of `@pulumi/pulumi/provider`, plus the one thing its
 * gRPC server leaves out: the SDK answers `Configure` without handing the
 * provider its configuration (sdk/nodejs/provider/server.ts), and the docker
 * provider needs `host`. The server registers its implementation with
 * grpc-js's `Server.addService` synchronously inside `main`, so for that one
 * call the implementation's `configure` is wrapped: it passes `host` on, then
 * answers as the SDK does (accepting secrets).
 */
export function serve(provider: DockerProvider, args: string[]): Promise<void> {
    const grpc = require(require.resolve("@grpc/grpc-js", { paths: [path.dirname(require.resolve("@pulumi/pulumi/package.json"))] }));
    const addService = grpc.Server.prototype.addService;
    grpc.Server.prototype.addService = function (this: unknown, service: unknown, implementation: any) {
        const answer = implementation.configure.bind(implementation);
        implementation.configure = (call: any, callback: any) => {
            try {
                provider.configure(configFromRequest(call.request));
            } catch (err) {
                callback(err, undefined);
                return;
            }
            answer(call, callback);
        };
        return addService.call(this, service, implementation);
    };
    try {
        return main(provider, args);
    } finally {
        grpc.Server.prototype.addService = addService;
    }
}

/** `args` (a `docker.Provider`'s inputs) when the engine sends them, else the `docker:config:host` variable. */
export function configFromRequest(request: { getArgs(): any; getVariablesMap(): { get(key: string): string | undefined } }): DockerConfig {
    const args = request.getArgs()?.toJavaScript() as Record<string, unknown> | undefined;
    const host = args?.host ?? request.getVariablesMap().get("docker:config:host");
    return typeof host === "string" ? { host } : {};
}
