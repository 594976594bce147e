#!/usr/bin/env node
// Runs the ops programs, from their TypeScript sources in a development checkout and compiled in a
// production install, so an install without `typescript` still runs every command resource. (Plain
// `npm ci --omit=dev` keeps `typescript` and `ts-node`, @pulumi/pulumi's optional peers; then the
// sources run, as in a checkout.)
//
// - `typescript` resolves and ops/cli.ts is here: the sources are the truth, so an edit is never
//   shadowed by an older `npm run build`. Each .ts module is transpiled as ts-node's transpile-only
//   mode would (the repo's tsconfig.json, one file at a time), type-checking being the build's job,
//   and the JavaScript is kept in node_modules/.cache/safe-release-ops, one file per source file,
//   stamped with a hash of everything it was made from: the source, the tsconfig.json text, the
//   TypeScript version and this file's format. A stamp that does not match is a miss, so a stale
//   translation never runs; a hit skips loading TypeScript altogether, which is most of an ops
//   command's start-up (ts-node re-transpiles every module on every run).
// - otherwise: `npm run build`'s bin/ops/cli.js, plain JavaScript that needs Node alone.
"use strict";
const crypto = require("crypto");
const fs = require("fs");
const path = require("path");

const ROOT = path.join(__dirname, "..", "..");
const TSCONFIG = path.join(ROOT, "tsconfig.json");
const SOURCE_CLI = path.join(ROOT, "ops", "cli.ts");
const COMPILED_CLI = path.join(ROOT, "bin", "ops", "cli.js");
// Inside the project, never a shared temp dir: whoever can write the cache decides what runs.
const CACHE_DIR = process.env.SAFE_RELEASE_OPS_CACHE || path.join(ROOT, "node_modules", ".cache", "safe-release-ops");
/** Bumped when what is cached, or how, changes. */
const FORMAT = "1";
const STAMP_PREFIX = "//# safe-release-ops ";

const sha256 = (text) => crypto.createHash("sha256").update(text).digest("hex");

let typescript;
function loadTypeScript() {
    if (typescript === undefined) {
        try {
            typescript = require("typescript");
        } catch (err) {
            throw new Error(
                `safe-release-ops runs its TypeScript through the \`typescript\` package, which did not load ` +
                    `(${err.message}); run \`npm ci\` in ${ROOT} (it is a devDependency)`,
            );
        }
    }
    return typescript;
}

let compilerOptions;
/** tsconfig.json's options with ts-node's transpile-only overrides: CommonJS out, maps inline, no declarations. */
function transpileOptions() {
    if (compilerOptions === undefined) {
        const ts = loadTypeScript();
        const read = ts.readConfigFile(TSCONFIG, ts.sys.readFile);
        if (read.error) throw new Error(`${TSCONFIG}: ${ts.flattenDiagnosticMessageText(read.error.messageText, "\n")}`);
        const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, ROOT);
        compilerOptions = {
            ...parsed.options,
            sourceMap: false,
            inlineSourceMap: true,
            inlineSources: true,
            declaration: false,
            declarationMap: false,
            emitDeclarationOnly: false,
            noEmit: false,
            composite: false,
            incremental: false,
            outDir: undefined,
        };
    }
    return compilerOptions;
}

let settingsStamp;
/** What every translation depends on besides its own source. */
function settings() {
    if (settingsStamp === undefined) {
        let manifest;
        try {
            manifest = require.resolve("typescript/package.json");
        } catch {
            loadTypeScript(); // throws, saying what to install
        }
        const tsVersion = JSON.parse(fs.readFileSync(manifest, "utf8")).version;
        settingsStamp = sha256([FORMAT, tsVersion, fs.readFileSync(TSCONFIG, "utf8")].join("\0"));
    }
    return settingsStamp;
}

function cached(file, stamp) {
    try {
        const text = fs.readFileSync(file, "utf8");
        const firstLine = text.indexOf("\n");
        return text.slice(0, firstLine) === STAMP_PREFIX + stamp ? text.slice(firstLine + 1) : undefined;
    } catch {
        return undefined;
    }
}

/** Writes beside the target and renames over it, so a concurrent run reads a whole file or none. */
function store(file, stamp, js) {
    const staging = `${file}.${process.pid}.tmp`;
    try {
        fs.mkdirSync(CACHE_DIR, { recursive: true });
        fs.writeFileSync(staging, `${STAMP_PREFIX}${stamp}\n${js}`);
        fs.renameSync(staging, file);
    } catch {
        // A cache that cannot be written only costs the next run a transpile.
        try {
            fs.rmSync(staging, { force: true });
        } catch {
            // nothing was staged
        }
    }
}

function javascriptOf(filename, source) {
    const stamp = sha256([settings(), filename, source].join("\0"));
    const file = path.join(CACHE_DIR, `${sha256(filename).slice(0, 32)}.js`);
    const hit = cached(file, stamp);
    if (hit !== undefined) return hit;
    const js = loadTypeScript().transpileModule(source, { fileName: filename, compilerOptions: transpileOptions() }).outputText;
    store(file, stamp, js);
    return js;
}

/** Resolving is cheap; loading `typescript` is what a cache hit saves. */
function typeScriptInstalled() {
    try {
        require.resolve("typescript/package.json");
        return true;
    } catch {
        return false;
    }
}

function sourceCli() {
    // Stack traces name the .ts lines, as they did under ts-node's source-map-support.
    process.setSourceMapsEnabled(true);
    require.extensions[".ts"] = (module, filename) => {
        module._compile(javascriptOf(filename, fs.readFileSync(filename, "utf8")), filename);
    };
    return require(SOURCE_CLI);
}

function cliModule() {
    if (fs.existsSync(SOURCE_CLI) && typeScriptInstalled()) return sourceCli();
    if (fs.existsSync(COMPILED_CLI)) return require(COMPILED_CLI);
    return undefined;
}

const cli = cliModule();
if (cli === undefined) {
    process.stderr.write(
        `safe-release-ops: found neither the \`typescript\` package (a devDependency, to run ops/*.ts) nor ` +
            `the compiled ${path.relative(ROOT, COMPILED_CLI)} in ${ROOT}; run \`npm run build\` before pruning devDependencies ` +
            `(\`npm ci && npm run build && npm prune --omit=dev\`)\n`,
    );
    process.exitCode = 1;
} else {
    cli.main(process.argv.slice(2), { env: process.env, stdout: process.stdout, stderr: process.stderr }).then(
        (code) => (process.exitCode = code),
        (err) => {
            process.stderr.write(`safe-release-ops: ${err instanceof Error ? err.message : String(err)}\n`);
            process.exitCode = 1;
        },
    );
}
