import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { loadCommand, loadCommands, overview } from "../ops/cli";
import { run, tempDir } from "./support/processes";

const ROOT = path.resolve(__dirname, "..");
const LAUNCHER = path.join(ROOT, "ops", "bin", "safe-release-ops.js");
const CLI_SOURCE = path.join(ROOT, "ops", "cli.ts");
const STAMP_PREFIX = "//# safe-release-ops ";

/** The cache entry of one source file: named by its path, first line its stamp. */
const entryOf = (cache: string, source: string) => path.join(cache, `${createHash("sha256").update(source).digest("hex").slice(0, 32)}.js`);

const opsHelp = (cache: string) => run("node", [LAUNCHER, "--help"], { cwd: ROOT, env: { ...process.env, SAFE_RELEASE_OPS_CACHE: cache } });

describe("safe-release-ops launcher: transpiled modules cached by content", function () {
    // A cold run transpiles every ops module; on a loaded 2-core machine that is seconds.
    this.timeout(120_000);
    const expected = overview(loadCommands());
    let cache: string;

    before(async () => {
        cache = path.join(await tempDir("safe-release-ops-cache-"), "cache");
    });
    after(() => fs.rmSync(path.dirname(cache), { recursive: true, force: true }));

    it("runs the commands from a cold cache and keeps one stamped translation per module", async () => {
        const { stderr } = await opsHelp(cache);
        assert.equal(stderr, expected);
        const entries = fs.readdirSync(cache);
        assert.ok(entries.includes(path.basename(entryOf(cache, CLI_SOURCE))), `no entry for ops/cli.ts among ${entries.join(", ")}`);
        for (const entry of entries) {
            const firstLine = fs.readFileSync(path.join(cache, entry), "utf8").split("\n")[0];
            assert.match(firstLine, /^\/\/# safe-release-ops [0-9a-f]{64}$/, entry);
        }
    });

    it("runs a translation whose stamp matches without transpiling again", async () => {
        const entry = entryOf(cache, CLI_SOURCE);
        const stamp = fs.readFileSync(entry, "utf8").split("\n")[0];
        fs.writeFileSync(entry, `${stamp}\nexports.main = async (_argv, io) => (io.stderr.write("from the cache\\n"), 0);\n`);
        const { stderr } = await opsHelp(cache);
        assert.equal(stderr, "from the cache\n");
    });

    it("never runs a translation whose stamp does not match its source, and replaces it", async () => {
        const entry = entryOf(cache, CLI_SOURCE);
        fs.writeFileSync(
            entry,
            `${STAMP_PREFIX}${"0".repeat(64)}\nexports.main = async (_argv, io) => (io.stderr.write("stale\\n"), 0);\n`,
        );
        const { stderr } = await opsHelp(cache);
        assert.equal(stderr, expected);
        const rewritten = fs.readFileSync(entry, "utf8");
        assert.ok(!rewritten.includes("stale"), "the stale translation is still in the cache");
        assert.notEqual(rewritten.split("\n")[0], `${STAMP_PREFIX}${"0".repeat(64)}`);
    });

    it("still runs when the cache cannot be written", async () => {
        const blocked = path.join(path.dirname(cache), "a-file");
        fs.writeFileSync(blocked, "");
        const { stderr } = await opsHelp(path.join(blocked, "cache"));
        assert.equal(stderr, expected);
    });
});

describe("safe-release-ops launcher: sources in a checkout, the compiled bin/ in a production install", function () {
    this.timeout(60_000);
    let project: string;

    /** `--help` from a copy of the launcher in `project`, with no module path of this process. */
    const launch = () => {
        const env: NodeJS.ProcessEnv = { ...process.env, SAFE_RELEASE_OPS_CACHE: path.join(project, "cache") };
        delete env.NODE_PATH;
        delete env.NODE_OPTIONS;
        const result = spawnSync(process.execPath, [path.join(project, "ops", "bin", "safe-release-ops.js"), "--help"], {
            cwd: project,
            env,
            encoding: "utf8",
        });
        return { code: result.status, stdout: result.stdout, stderr: result.stderr };
    };
    const write = (file: string, text: string) => {
        fs.mkdirSync(path.dirname(path.join(project, file)), { recursive: true });
        fs.writeFileSync(path.join(project, file), text);
    };
    const cliSaying = (text: string) => `exports.main = async (_argv, io) => (io.stderr.write(${JSON.stringify(`${text}\n`)}), 0);\n`;

    beforeEach(async () => {
        project = await tempDir("safe-release-ops-launcher-");
        write("ops/bin/safe-release-ops.js", fs.readFileSync(LAUNCHER, "utf8"));
        write("tsconfig.json", fs.readFileSync(path.join(ROOT, "tsconfig.json"), "utf8"));
    });
    afterEach(() => fs.rmSync(project, { recursive: true, force: true }));

    it("runs the compiled bin/ops/cli.js where `typescript` is not installed", () => {
        write("ops/cli.ts", `export async function main(): Promise<number> { throw new Error("the sources ran"); }\n`);
        write("bin/ops/cli.js", cliSaying("from the build"));
        assert.deepEqual(launch(), { code: 0, stdout: "", stderr: "from the build\n" });
    });

    it("runs the sources where `typescript` is installed, even beside an older build", () => {
        fs.mkdirSync(path.join(project, "node_modules"));
        fs.symlinkSync(path.join(ROOT, "node_modules", "typescript"), path.join(project, "node_modules", "typescript"));
        write(
            "ops/cli.ts",
            `export async function main(_argv: string[], io: { stderr: { write(text: string): void } }): Promise<number> {\n` +
                `    io.stderr.write("from the sources\\n");\n    return 0;\n}\n`,
        );
        write("bin/ops/cli.js", cliSaying("from the build"));
        assert.deepEqual(launch(), { code: 0, stdout: "", stderr: "from the sources\n" });
    });

    it("exits 1 saying to build before pruning where neither is there", () => {
        write("ops/cli.ts", `export async function main(): Promise<number> { return 0; }\n`);
        assert.deepEqual(launch(), {
            code: 1,
            stdout: "",
            stderr:
                "safe-release-ops: found neither the `typescript` package (a devDependency, to run ops/*.ts) nor the compiled " +
                `bin/ops/cli.js in ${project}; run \`npm run build\` before pruning devDependencies ` +
                "(`npm ci && npm run build && npm prune --omit=dev`)\n",
        });
    });
});

describe("safe-release-ops loads only the command it runs", function () {
    this.timeout(60_000);

    /** The ops/commands modules a process loaded to run `argv`, relative to the checkout. */
    function commandModulesLoaded(argv: string[]): string[] {
        const script = [
            `const cli = require(${JSON.stringify(CLI_SOURCE)});`,
            "const sink = { write: () => true };",
            `cli.main(${JSON.stringify(argv)}, { env: {}, stdout: sink, stderr: sink }).then(() =>`,
            `    console.log(JSON.stringify(Object.keys(require.cache).filter((f) => f.includes("/ops/commands/")))));`,
        ].join("\n");
        const child = spawnSync("node", ["-r", "ts-node/register/transpile-only", "-e", script], { cwd: ROOT, encoding: "utf8" });
        assert.equal(child.status, 0, child.stderr);
        return (JSON.parse(child.stdout) as string[]).map((file) => path.relative(ROOT, file)).sort();
    }

    it("a named command loads its own module alone (a host step no longer loads pg, tar-stream and the AWS SDK)", () => {
        assert.deepEqual(commandModulesLoaded(["host-router", "--help"]), ["ops/commands/host-router.ts"]);
    });

    it("the overview and an unknown command load them all, to list them", () => {
        const all = fs.readdirSync(path.join(ROOT, "ops", "commands")).map((file) => `ops/commands/${file}`);
        assert.deepEqual(commandModulesLoaded(["--help"]), all.sort());
        assert.deepEqual(commandModulesLoaded(["host-routr"]), all.sort());
    });

    it("a name that is not a command file's is looked up among all, never required as a path", () => {
        assert.equal(loadCommand("../cli"), undefined);
        assert.equal(loadCommand("nosuch"), undefined);
        assert.equal(loadCommand("router")?.name, "router");
    });
});
