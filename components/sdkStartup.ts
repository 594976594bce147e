import Module = require("module");
import * as path from "path";

/**
 * What the program changes in the Node SDK's start, imported by `index.ts` before
 * anything loads `@pulumi/pulumi`. Measured on a warm rollback of the docker-host shop
 * stack (bench/engine.bench.ts), the program's process took 1.5 s of CPU; these two
 * bring it to 0.75 s, and neither changes what the program registers.
 */

/**
 * The SDK modules that serialize JavaScript closures (`pulumi.runtime.serializeFunction`,
 * `computeCodePaths`, used by dynamic providers and callback functions), by path inside
 * `@pulumi/pulumi`, each with the functions it exports (`runtime/index.js` copies some out
 * on load). The program serializes no closure, yet loading `@pulumi/pulumi` loads these
 * eagerly, and with them the TypeScript compiler and npm's `@npmcli/arborist`: 0.4 s of CPU.
 */
export const DEFERRED_SDK_MODULES: Readonly<Record<string, readonly string[]>> = {
    "runtime/closure/serializeClosure.js": ["serializeFunctionAsync", "serializeFunction"],
    "runtime/closure/codePaths.js": ["computeCodePaths", "findWorkspaceRoot"],
};

/**
 * Puts a stand-in for each module into Node's module cache before the SDK loads: its
 * functions load the real module on their first call and hand it the call, so anything
 * that does serialize a closure still gets the SDK's own code. A module the SDK has
 * already loaded (a test that imported `@pulumi/pulumi` first) is left alone.
 */
export function deferSdkModules(): void {
    const sdk = path.dirname(require.resolve("@pulumi/pulumi/package.json"));
    for (const [relative, names] of Object.entries(DEFERRED_SDK_MODULES)) {
        const file = require.resolve(path.join(sdk, relative));
        if (require.cache[file] !== undefined) continue;
        let real: Record<string, (...args: unknown[]) => unknown> | undefined;
        const load = () => {
            if (real === undefined) {
                // The stand-in leaves the cache first, or the require would return it again.
                delete require.cache[file];
                real = require(file) as Record<string, (...args: unknown[]) => unknown>;
            }
            return real;
        };
        const standIn = new Module(file, module);
        standIn.filename = file;
        standIn.loaded = true;
        standIn.exports = Object.fromEntries(names.map((name) => [name, (...args: unknown[]) => load()[name](...args)]));
        require.cache[file] = standIn;
    }
}

/** Whether this process is the SDK's program runner, started by the Node.js language host. */
export function runByLanguageHost(main: NodeJS.Module | undefined = require.main): boolean {
    return main !== undefined && main.filename === require.resolve("@pulumi/pulumi/cmd/run");
}

/**
 * The runner installs `source-map-support`, and the SDK takes `new Error().stack` for every
 * resource it registers and every RPC promise it makes: each takes every frame through the
 * source maps, 0.3 s of CPU on a warm rollback. The program's own files have no source maps
 * (bin/ is compiled without), so this changes only the SDK's frames in an unexpected error's
 * stack trace, which then name the SDK's .js files instead of its .ts sources. Elsewhere (the
 * tests under ts-node, the offline plan) the stack traces stay as they are.
 */
export function plainStackTracesUnderLanguageHost(): void {
    if (runByLanguageHost()) Reflect.deleteProperty(Error, "prepareStackTrace");
}

deferSdkModules();
plainStackTracesUnderLanguageHost();
