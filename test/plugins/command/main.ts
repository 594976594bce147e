// Stands in for `pulumi-resource-command` where the real plugin cannot be installed
// (its Go module is refused by this machine's module proxy). It follows the
// semantics of pulumi-command v1.2.1 for `command:local:Command`, the one type the
// program uses, and tells the engine it is version 1.2.1. The tests run it, and so does
// `npm run preview`/`up` where the real plugin is not installed: scripts/toolchain.sh
// then puts it on PATH and the engine says so (`using pulumi-resource-command from $PATH`).
// `install.ts` puts it into a plugin cache instead, for the tests that need that layout.
import * as provider from "@pulumi/pulumi/provider";
import { engineAddressFromArgs, engineLog } from "./engineLog";
import { commandProvider } from "./provider";

/** Serves the provider over gRPC as the engine expects of a plugin: prints its port, then answers until killed. */
export function serve(args: string[]): void {
    provider.main(commandProvider(engineLog(engineAddressFromArgs(args))), args).catch((err: Error) => {
        console.error(`the stand-in command provider could not start: ${err.stack ?? err.message}`);
        process.exit(1);
    });
}

if (require.main === module) serve(process.argv.slice(2));
