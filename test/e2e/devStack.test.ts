import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { atTestEnd, freePortRun, run, tempDir } from "../support/processes";
import { PROJECT_DIR, changedSteps, ensureToolchain, PreviewJson } from "./support/pulumiCli";

/**
 * The README's dev walkthrough, command for command: `npm run preview`, `npm run up`,
 * a release of v1.1.0 at 0, a shift to 50, a warm rollback and a restore drill, on
 * the real engine with the demo service under a private supervisord and nginx.
 * Nothing of the checkout's own dev stack is used: the stack file is a copy of
 * Pulumi.dev.yaml whose root (/var/tmp/safe-release-dev), ports and backup directory
 * are this test's (SAFE_RELEASE_STACK_FILE), and the state is in a temp dir
 * (PULUMI_BACKEND_URL); Pulumi.dev.yaml itself must come out byte for byte the same.
 */
describe("e2e: the dev stack as the README walks it", function () {
    const DEV_ROOT = "/var/tmp/safe-release-dev";
    let dir: string;
    let root: string;
    let stackFile: string;
    let backupDir: string;
    let routerPort: number;
    let env: NodeJS.ProcessEnv;
    const checkoutStackFile = fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.dev.yaml"), "utf8");

    /** `npm run <script> -- <args>` in the checkout, as the README writes it. */
    function npmRun(script: string, args: string[], extraEnv: NodeJS.ProcessEnv = env) {
        return run("npm", ["run", "--silent", script, "--", ...args], { cwd: PROJECT_DIR, env: extraEnv });
    }

    async function get(pathname: string, headers: Record<string, string> = {}): Promise<Record<string, unknown>> {
        const response = await fetch(`http://127.0.0.1:${routerPort}${pathname}`, { headers, signal: AbortSignal.timeout(5000) });
        assert.strictEqual(response.status, 200, `GET ${pathname}`);
        return (await response.json()) as Record<string, unknown>;
    }

    async function versionsAnswering(count: number): Promise<Record<string, number>> {
        const answers: Record<string, number> = {};
        for (let i = 0; i < count; i++) {
            const version = String((await get("/")).version);
            answers[version] = (answers[version] ?? 0) + 1;
        }
        return answers;
    }

    /** supervisord's pid of a program: the same pid means the program was not restarted. */
    async function programPid(program: string): Promise<string> {
        const { stdout } = await run("supervisorctl", ["-c", `${root}/supervisor/supervisord.conf`, "pid", program]);
        return stdout.trim();
    }

    before(async () => {
        const { env: toolchainEnv } = await ensureToolchain();
        dir = await tempDir("safe-release-devstack-");
        // The private PostgreSQL runs as `postgres` when the tests run as root: it must reach the root.
        fs.chmodSync(dir, 0o755);
        root = `${dir}/root`;
        backupDir = `.e2e-state/${path.basename(dir)}/backups`;
        // One run: the router's four ports, then the demo's two.
        routerPort = await freePortRun(6);
        const basePort = routerPort + 4;
        stackFile = `${dir}/Pulumi.dev.yaml`;
        const text = checkoutStackFile
            .split(DEV_ROOT)
            .join(root)
            .split(encodeURIComponent(DEV_ROOT))
            .join(encodeURIComponent(root))
            .replace("routerPort: 8080", `routerPort: ${routerPort}`)
            .replace("basePort: 9000", `basePort: ${basePort}`)
            .replace("dir: .pulumi-state/dev-backups", `dir: ${backupDir}`);
        assert.ok(
            !text.includes(DEV_ROOT) && !text.includes("routerPort: 8080"),
            "the copy must not name the checkout's dev root or ports",
        );
        fs.writeFileSync(stackFile, text);
        fs.mkdirSync(`${dir}/state`);
        env = {
            ...toolchainEnv,
            STACK: "dev",
            SAFE_RELEASE_STACK_FILE: stackFile,
            PULUMI_BACKEND_URL: `file://${dir}/state`,
        };
        atTestEnd(async () => {
            await run(path.join(PROJECT_DIR, "scripts", "dev-machine.sh"), ["stop", stackFile], { cwd: PROJECT_DIR }).catch((err: Error) =>
                console.error(`stopping the dev machine failed: ${err.message}`),
            );
            fs.rmSync(dir, { recursive: true, force: true });
            fs.rmSync(path.join(PROJECT_DIR, path.dirname(backupDir)), { recursive: true, force: true });
        });
    });

    after(() => {
        assert.strictEqual(fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.dev.yaml"), "utf8"), checkoutStackFile);
    });

    it("says which Debian package to install on a machine without supervisord", async () => {
        const withoutSupervisor = await tempDir("safe-release-path-");
        atTestEnd(async () => fs.rmSync(withoutSupervisor, { recursive: true, force: true }));
        for (const name of fs.readdirSync("/usr/bin")) {
            if (!name.startsWith("supervisor")) fs.symlinkSync(`/usr/bin/${name}`, `${withoutSupervisor}/${name}`);
        }
        const rest = (env.PATH ?? "").split(":").filter((d) => !["/usr/bin", "/bin"].includes(d));
        await assert.rejects(npmRun("preview", [], { ...env, PATH: [withoutSupervisor, ...rest].join(":") }), (err: Error) => {
            const lines = err.message.trim().split("\n");
            assert.strictEqual(
                lines[lines.length - 1],
                "the dev stack runs its demo under supervisord behind nginx, with a PostgreSQL for the migration ledger; " +
                    "install the missing Debian packages: apt-get install supervisor",
            );
            assert.doesNotMatch(err.message, /at .*\.(js|ts):\d+/);
            return true;
        });
    });

    it("`npm run preview` previews the first deploy of v1.0.0 for real", async () => {
        const { stdout } = await npmRun("preview", ["--json"]);
        const steps = changedSteps(JSON.parse(stdout) as PreviewJson)
            .filter((s) => s.startsWith("create command:local:Command::"))
            .map((s) => s.replace("command:local:", ""));
        assert.deepStrictEqual(steps.sort(), [
            "create Command::demo-backup-v1.0.0-directory",
            "create Command::demo-backup-v1.0.0-pg-dump",
            "create Command::demo-host-prune",
            "create Command::demo-host-router",
            "create Command::demo-host-router-config",
            "create Command::demo-host-v1.0.0-web",
            "create Command::demo-host-v1.0.0-web-release",
            "create Command::demo-migrate-v1.0.0-run",
            "create Command::demo-preflight-v1.0.0-checks",
            "create Command::demo-preflight-v1.0.0-store-check",
            "create Command::demo-prune-v1.0.0",
            "create Command::demo-smoke-v1.0.0-run",
        ]);
    });

    it("`npm run up -- --yes` deploys v1.0.0 behind the router, and a note is written", async () => {
        await npmRun("up", ["--yes"]);
        // The smoke test's note is the first.
        assert.deepStrictEqual(await get("/"), { service: "demo", version: "v1.0.0", format: "1", notes: 1 });
        const response = await fetch(`http://127.0.0.1:${routerPort}/notes`, { method: "POST", body: '{"text":"first note"}' });
        assert.strictEqual(response.status, 201);
        assert.strictEqual(fs.readFileSync(`${root}/data/FORMAT`, "utf8"), "1\n");
    });

    it("a release of v1.1.0 at weight 0 migrates the data once; users still reach v1.0.0", async () => {
        await npmRun("up", ["--yes", "-c", "release:version=v1.1.0", "-c", "release:previous=v1.0.0", "-c", "release:canaryWeight=0"]);
        assert.deepStrictEqual(await versionsAnswering(6), { "v1.0.0": 6 });
        // Two smoke notes and the user's, in format 2.
        assert.deepStrictEqual(await get("/", { "X-Release-Target": "v1.1.0" }), {
            service: "demo",
            version: "v1.1.0",
            format: "2",
            notes: 3,
        });
        assert.strictEqual(fs.readFileSync(`${root}/data/FORMAT`, "utf8"), "2\n");
        const notes = JSON.parse(fs.readFileSync(`${root}/data/notes.json`, "utf8")) as Array<{ body: string; words: number }>;
        assert.deepStrictEqual(notes[1], { ...notes[1], body: "first note", words: 2 });
        assert.ok(!fs.existsSync(`${root}/data/notes.jsonl`));
    });

    let canaryPid: string;
    it("a shift to 50 splits the router's traffic evenly and restarts nothing", async () => {
        canaryPid = await programPid("demo-web-v1-1-0");
        await npmRun("up", ["--yes", "-c", "release:canaryWeight=50"]);
        assert.deepStrictEqual(await versionsAnswering(20), { "v1.0.0": 10, "v1.1.0": 10 });
        assert.strictEqual(await programPid("demo-web-v1-1-0"), canaryPid);
    });

    it("a warm rollback sends everything to v1.0.0 at once, v1.1.0 still running", async () => {
        await npmRun("up", ["--yes", "-c", "release:version=v1.0.0", "-c", "release:previous=v1.1.0", "-c", "release:canaryWeight=100"]);
        assert.deepStrictEqual(await versionsAnswering(10), { "v1.0.0": 10 });
        assert.strictEqual(await programPid("demo-web-v1-1-0"), canaryPid);
    });

    it("a restore drill of v1.1.0's pre-upgrade backup verifies it and leaves the live data alone", async () => {
        const { stdout } = await run(path.join(PROJECT_DIR, "scripts", "pulumi.sh"), ["stack", "output", "backups", "--json"], {
            cwd: PROJECT_DIR,
            env,
        });
        const backups = JSON.parse(stdout) as Array<{ id: string; kind: string; version: string }>;
        const backup = backups.find((b) => b.kind === "directory" && b.version === "v1.1.0");
        assert.ok(backup !== undefined, `a directory backup of v1.1.0 in ${stdout}`);
        const drill = await run(
            process.execPath,
            ["ops/bin/safe-release-ops.js", "restore", "--id", backup.id, "--store", backupDir, "--drill"],
            { cwd: PROJECT_DIR },
        );
        const report = JSON.parse(drill.stdout) as Record<string, unknown>;
        assert.deepStrictEqual(
            {
                id: report.id,
                kind: report.kind,
                drill: report.drill,
                ok: report.ok,
                target: report.target,
                differences: report.differences,
            },
            { id: backup.id, kind: "directory", drill: true, ok: true, target: `${root}/data`, differences: [] },
        );
        assert.strictEqual(fs.readFileSync(`${root}/data/FORMAT`, "utf8"), "2\n");
    });
});
