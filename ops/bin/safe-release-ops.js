#!/usr/bin/env node
// Runs the TypeScript ops programs directly: type-checking is the build's job, not the operator's.
require("ts-node").register({ transpileOnly: true, project: require("path").join(__dirname, "..", "..", "tsconfig.json") });
require("../cli").main(process.argv.slice(2), { env: process.env, stdout: process.stdout, stderr: process.stderr }).then(
    (code) => (process.exitCode = code),
    (err) => {
        process.stderr.write(`safe-release-ops: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exitCode = 1;
    },
);
