#!/usr/bin/env node
// Removes from bin/ (or the output directory given as its argument) every compiled
// file whose TypeScript source is gone. tsc only
// adds and rewrites outputs, and `safe-release-ops` loads every module of
// bin/ops/commands: without this, a command deleted from the source would still
// run in a production install. Deleting only orphans (never rewriting bin/) keeps
// a `pulumi up` that another shell runs from bin/ reading whole files.
"use strict";
const fs = require("fs");
const path = require("path");

const root = path.join(__dirname, "..");
const bin = path.resolve(process.argv[2] ?? path.join(root, "bin"));
// Staged by the host platform for remote machines, with a node_modules of its own.
const notCompiled = new Set([path.join(bin, "host-agent")]);
const outputSuffixes = [".d.ts.map", ".js.map", ".d.ts", ".js"];

function sourceOf(file) {
    const suffix = outputSuffixes.find((s) => file.endsWith(s));
    if (suffix === undefined) return undefined;
    return path.join(root, path.relative(bin, file.slice(0, -suffix.length)) + ".ts");
}

function prune(dir) {
    let left = 0;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (notCompiled.has(full)) {
            left++;
        } else if (entry.isDirectory()) {
            if (prune(full) === 0) fs.rmdirSync(full);
            else left++;
        } else {
            const source = sourceOf(full);
            if (source !== undefined && !fs.existsSync(source)) {
                fs.unlinkSync(full);
                console.log(`removed ${path.relative(process.cwd(), full)}: its source ${path.relative(root, source)} is gone`);
            } else {
                left++;
            }
        }
    }
    return left;
}

if (fs.existsSync(bin)) prune(bin);
