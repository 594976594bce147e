import { strict as assert } from "assert";
import { createHash } from "crypto";
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as path from "path";
import { loadCommands, overview } from "../ops/cli";
import { startNamedBackends } from "./support/httpBackends";
import { run, tempDir } from "./support/processes";

/*
 * A production install is `npm ci && npm run build && npm prune --omit=dev`: the command resources
 * run `node ops/bin/safe-release-ops.js …` there, and where `typescript` is not installed every ops
 * program must run from the compiled bin/. This builds such an install in a temp dir and runs the
 * ops commands and the program's entry from it.
 */

const ROOT = path.resolve(__dirname, "..");
/** What a release needs besides bin/ and node_modules/. */
const RELEASE_FILES = ["package.json", "package-lock.json", "Pulumi.yaml", "tsconfig.json", "ops/bin/safe-release-ops.js"];
const DEV_ONLY = ["typescript", "ts-node", "mocha"];

const sha256 = (file: string) => createHash("sha256").update(fs.readFileSync(file)).digest("hex");

/** Hard links where the file system allows: a copy of ~190 MB of packages would be most of the test's time. */
function linkTree(from: string, to: string, isPackageRoot: boolean): void {
    fs.mkdirSync(to, { recursive: true });
    for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
        // A package's own node_modules holds packages that `npm ls` lists (and this places) one by one.
        if (isPackageRoot && entry.name === "node_modules") continue;
        const source = path.join(from, entry.name);
        const target = path.join(to, entry.name);
        if (entry.isDirectory()) linkTree(source, target, false);
        else if (entry.isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(source), target);
        else {
            try {
                fs.linkSync(source, target);
            } catch {
                fs.copyFileSync(source, target);
            }
        }
    }
}

/**
 * node_modules with the production dependencies only, placed as the checkout's tree places them.
 * `npm ls --omit=dev` (like `npm ci --omit=dev`) still lists `typescript` and `ts-node`: @pulumi/pulumi
 * names them as optional peers, so the lock marks them `devOptional`. They are left out too: the
 * install where only the compiled bin/ can run is the one that must work.
 */
async function placeProductionModules(install: string): Promise<string[]> {
    const { stdout } = await run("npm", ["ls", "--omit=dev", "--all", "--parseable"], { cwd: ROOT });
    const lock = JSON.parse(fs.readFileSync(path.join(ROOT, "package-lock.json"), "utf8")).packages;
    const placed: string[] = [];
    for (const dir of stdout.trim().split("\n")) {
        const relative = path.relative(ROOT, dir);
        if (relative === "") continue;
        assert.ok(lock[relative], `${relative} is installed but not in package-lock.json; run \`npm ci\``);
        if (lock[relative].devOptional) continue;
        linkTree(dir, path.join(install, relative), true);
        placed.push(relative);
    }
    return placed;
}

interface Exit {
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
}

describe("a production install (devDependencies pruned) runs every ops command and loads the program", function () {
    // `npm run build` is seconds on an idle machine; other test runs may share its 2 cores.
    this.timeout(180_000);
    let install: string;
    let placed: string[];
    /** Nothing from this process's module setup leaks into the install's programs. */
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const key of ["NODE_PATH", "NODE_OPTIONS", "SAFE_RELEASE_OPS_CACHE"]) delete env[key];

    const ops = (args: string[], input?: string): Promise<Exit> =>
        run(process.execPath, ["ops/bin/safe-release-ops.js", ...args], { cwd: install, env, input }).then(
            (result) => ({ code: 0, ...result }),
            (err: Error) => ({ code: Number(/ exited (\d+):/.exec(err.message)?.[1] ?? -1), stdout: "", stderr: err.message }),
        );

    before(async () => {
        install = await tempDir("safe-release-production-");
        for (const file of RELEASE_FILES) {
            fs.mkdirSync(path.dirname(path.join(install, file)), { recursive: true });
            fs.copyFileSync(path.join(ROOT, file), path.join(install, file));
        }
        await run("npm", ["run", "build", "--", "--outDir", path.join(install, "bin")], { cwd: ROOT });
        placed = await placeProductionModules(install);
    });
    after(() => fs.rmSync(install, { recursive: true, force: true }));

    it("holds the production dependencies and none of typescript, ts-node or mocha", async () => {
        const names = placed.map((relative) => relative.replace(/^.*node_modules\//, ""));
        for (const dependency of ["@pulumi/pulumi", "@pulumi/command", "pg", "tar-stream"])
            assert.ok(names.includes(dependency), dependency);
        assert.deepEqual(
            names.filter((name) => DEV_ONLY.includes(name)),
            [],
        );
        const resolved = await run(
            process.execPath,
            ["-e", `for (const n of ${JSON.stringify(DEV_ONLY)}) try { require.resolve(n); console.log(n) } catch {}`],
            {
                cwd: install,
                env,
            },
        );
        assert.equal(resolved.stdout, "", "a devDependency resolves from the install");
    });

    it("lists every command the program declares, and prints each one's usage", async () => {
        const commands = loadCommands();
        assert.equal((await ops(["--help"])).stderr, overview(commands));
        for (const command of commands.values()) {
            const help = await ops([command.name, "--help"]);
            assert.deepEqual(
                help,
                { code: 0, stdout: "", stderr: command.usage.endsWith("\n") ? command.usage : `${command.usage}\n` },
                command.name,
            );
        }
    });

    it("host-install unpacks a .tar.gz pinned by its sha256 into the release root", async () => {
        const work = await tempDir("safe-release-production-artifact-");
        try {
            fs.mkdirSync(path.join(work, "build", "bin"), { recursive: true });
            fs.writeFileSync(path.join(work, "build", "bin", "api"), "#!/bin/sh\necho api v1.5.0\n", { mode: 0o755 });
            const artifact = path.join(work, "api.tar.gz");
            await run("tar", ["-czf", artifact, "-C", path.join(work, "build"), "bin"]);
            const root = path.join(work, "srv");
            const args = ["--root", root, "--version", "v1.5.0", "--component", "api", "--sha256", sha256(artifact), "--path", artifact];
            const result = await ops(["host-install", ...args]);
            assert.equal(result.code, 0, result.stderr);
            const target = path.join(root, "releases", "v1.5.0", "api");
            assert.deepEqual(JSON.parse(result.stdout), { dir: target, sha256: sha256(artifact), installed: true });
            assert.equal(fs.readFileSync(path.join(target, "bin", "api"), "utf8"), "#!/bin/sh\necho api v1.5.0\n");
        } finally {
            fs.rmSync(work, { recursive: true, force: true });
        }
    });

    it("backup --kind directory archives a data directory, and verify checks the archive against its record", async () => {
        const work = await tempDir("safe-release-production-backup-");
        try {
            const data = path.join(work, "db");
            fs.mkdirSync(data);
            fs.writeFileSync(path.join(data, "000001.sst"), "x".repeat(1000));
            fs.writeFileSync(path.join(data, "CURRENT"), "MANIFEST-000001\n");
            const log = path.join(work, "bk", "backups.log");
            const backup = await ops([
                "backup",
                "--kind",
                "directory",
                "--path",
                data,
                "--app",
                "shop",
                "--version",
                "v1.5.0",
                "--dir",
                path.join(work, "bk"),
                "--quiesced",
            ]);
            assert.equal(backup.code, 0, backup.stderr);
            const record = JSON.parse(backup.stdout);
            assert.deepEqual(
                [record.kind, record.source, record.files, record.contentBytes, record.consistency, record.verified, record.sha256],
                ["directory", data, 2, 1016, "quiesced", true, sha256(record.location)],
            );
            const verify = await ops(["verify", "--id", record.id, "--log", log]);
            assert.equal(verify.code, 0, verify.stderr);
            const verdict = JSON.parse(verify.stdout);
            assert.deepEqual([verdict.ok, verdict.sha256, verdict.problems], [true, record.sha256, []]);
        } finally {
            fs.rmSync(work, { recursive: true, force: true });
        }
    });

    it("smoke runs its checks against a loopback service", async () => {
        const [service] = await startNamedBackends(["v1.5.0"]);
        try {
            const checks = JSON.stringify([{ name: "health", path: "/health", expectStatus: 200 }]);
            const smoke = await ops(
                ["smoke", "--base-url", `http://${service.address}`, "--checks", "-", "--header", "X-Release-Target:v1.5.0"],
                checks,
            );
            assert.equal(smoke.code, 0, smoke.stderr);
            const report = JSON.parse(smoke.stdout);
            assert.deepEqual(
                [
                    report.ok,
                    report.passed,
                    report.failed,
                    report.results.map(({ durationMs: _, ...rest }: Record<string, unknown>) => rest),
                ],
                [true, 1, 0, [{ name: "health", method: "GET", path: "/health", status: 200, ok: true }]],
            );
            assert.equal(service.hits(), 1);
        } finally {
            await service.close();
        }
    });

    it("loads the Pulumi program and all its components, failing only for want of the engine", async () => {
        // The prod stack's config as the engine passes it (its database URL is a secret set per machine), so
        // the program gets past reading config to the first call that needs the engine.
        const stack = yaml.load(fs.readFileSync(path.join(ROOT, "Pulumi.prod.yaml"), "utf8")) as { config: Record<string, unknown> };
        const config: Record<string, string> = { "release:databaseUrl": "postgresql://shop@127.0.0.1:5432/shop" };
        for (const [key, value] of Object.entries(stack.config)) config[key] = typeof value === "string" ? value : JSON.stringify(value);
        // The program loads its platform adapter when it knows the platform: every component module is required
        // first, so a production module missing for the other platforms fails too.
        const program = `const fs = require("fs");
        for (const file of fs.readdirSync("bin/components", { recursive: true })) if (file.endsWith(".js")) require("./bin/components/" + file);
        Promise.resolve().then(() => require("./bin/index.js")()).then(
            () => console.log("{}"),
            (err) => console.log(JSON.stringify({ code: err.code, message: err.message })),
        )`;
        const { stdout } = await run(process.execPath, ["-e", program], {
            cwd: install,
            env: { ...env, PULUMI_CONFIG: JSON.stringify(config) },
        });
        assert.deepEqual(JSON.parse(stdout), {
            message: "Missing organization name; for test mode, please call `pulumi.runtime.setMocks`",
        });
    });
});
