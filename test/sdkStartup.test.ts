import * as assert from "assert";
import * as path from "path";
import { run } from "./support/processes";

const ROOT = path.resolve(__dirname, "..");
const STARTUP = path.join(ROOT, "components", "sdkStartup.ts");

/** Runs a script in a fresh Node process of the project (the test process has loaded the SDK already). */
async function fresh(script: string): Promise<unknown> {
    const { stdout } = await run(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", script], {
        cwd: ROOT,
        env: { ...process.env, TS_NODE_PROJECT: path.join(ROOT, "tsconfig.json") },
    });
    return JSON.parse(stdout.trim().split("\n").pop()!);
}

/**
 * Whether a module, named as the SDK requires it, is loaded. The child runs under ts-node, which
 * loads the TypeScript compiler itself: the SDK's parser of closures stands for it (it loads it).
 */
const loaded = `(name) => require.cache[require.resolve(name, { paths: [require("path").dirname(require.resolve("@pulumi/pulumi/package.json"))] })] !== undefined`;
const HEAVY = `{ parser: loaded("./runtime/closure/parseFunction"), arborist: loaded("@npmcli/arborist") }`;

describe("the program's start: the SDK's closure serialization deferred", function () {
    this.timeout(60_000);

    it("loading @pulumi/pulumi after it loads neither the closure parser (and TypeScript with it) nor @npmcli/arborist", async () => {
        const answer = await fresh(`
            const loaded = ${loaded};
            require(${JSON.stringify(STARTUP)});
            require("@pulumi/pulumi");
            console.log(JSON.stringify(${HEAVY}));
        `);
        assert.deepEqual(answer, { parser: false, arborist: false });
    });

    it("without it, loading @pulumi/pulumi loads both (what the deferral saves)", async () => {
        const answer = await fresh(`
            const loaded = ${loaded};
            require("@pulumi/pulumi");
            console.log(JSON.stringify(${HEAVY}));
        `);
        assert.deepEqual(answer, { parser: true, arborist: true });
    });

    it("serializeFunction still serializes a closure, through the SDK's own module", async () => {
        const answer = await fresh(`
            require(${JSON.stringify(STARTUP)});
            const pulumi = require("@pulumi/pulumi");
            const answer = 42;
            pulumi.runtime.serializeFunction(() => answer).then(
                (serialized) => console.log(JSON.stringify({ text: serialized.text.includes("42"), name: serialized.exportName })),
                (err) => console.log(JSON.stringify({ error: String(err) })),
            );
        `);
        assert.deepEqual(answer, { text: true, name: "handler" });
    });

    it("defers exactly the functions each real module exports (an SDK upgrade that adds one fails here)", async () => {
        const { DEFERRED_SDK_MODULES } = require(STARTUP) as typeof import("../components/sdkStartup");
        const real = await fresh(`
            const path = require("path");
            const sdk = path.dirname(require.resolve("@pulumi/pulumi/package.json"));
            const files = ${JSON.stringify(Object.keys(DEFERRED_SDK_MODULES))};
            console.log(JSON.stringify(Object.fromEntries(files.map((file) => {
                const exported = require(path.join(sdk, file));
                return [file, Object.keys(exported).filter((name) => typeof exported[name] === "function").sort()];
            }))));
        `);
        const deferred = Object.fromEntries(Object.entries(DEFERRED_SDK_MODULES).map(([file, names]) => [file, [...names].sort()]));
        assert.deepEqual(real, deferred);
    });
});

describe("the program's start: stack traces without source maps only under the language host", () => {
    it("knows the language host's runner (the module the host starts as main) and nothing else", () => {
        const { runByLanguageHost } = require(STARTUP) as typeof import("../components/sdkStartup");
        const runner = { filename: require.resolve("@pulumi/pulumi/cmd/run") } as NodeJS.Module;
        assert.equal(runByLanguageHost(runner), true);
        assert.equal(runByLanguageHost(require.main), false);
        assert.equal(runByLanguageHost(undefined), false);
    });

    it("leaves the stack trace mapping of other processes (these tests under ts-node) as it is", () => {
        const before = Error.prepareStackTrace;
        const { plainStackTracesUnderLanguageHost } = require(STARTUP) as typeof import("../components/sdkStartup");
        plainStackTracesUnderLanguageHost();
        assert.equal(Error.prepareStackTrace, before);
        assert.notEqual(before, undefined, "ts-node maps the tests' stack traces through source maps");
    });
});
