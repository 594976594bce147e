import { strict as assert } from "assert";
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { programPlan } from "../components/host/hostVersion";
import { parseReleaseConfig } from "../settings/release";
import { hostConfig } from "./hostFixtures";
import { atTestEnd, freePort, run, tempDir } from "./support/processes";

const OPS = path.join(__dirname, "..", "ops", "bin", "safe-release-ops.js");
const SERVER = `require("http").createServer((req, res) => res.end(req.url === "/health" ? "ok " + process.env.RELEASE_VERSION + " " + (process.env.API_TOKEN ? "token" : "none") : "x")).listen(Number(process.env.PORT), "127.0.0.1");`;

/** Runs `argv` (an ops argv as the platform builds it) with `input` on stdin and `env` added. */
function opsRun(argv: string[], input: string, env: NodeJS.ProcessEnv = {}): Promise<{ stdout: string; stderr: string }> {
    const [, , ...args] = argv;
    return run(process.execPath, [OPS, ...args], { input, env: { ...process.env, ...env } });
}

describe("a rendered program under a real supervisord (Debian `supervisor`)", function () {
    this.timeout(60_000);
    let dir: string;
    let ctl: string[];

    before(async () => {
        if (!fs.existsSync("/usr/bin/supervisord")) throw new Error("supervisord is missing: install the Debian package `supervisor`");
        dir = await tempDir("safe-release-supervisord-");
        fs.mkdirSync(`${dir}/conf.d`);
        const conf = `${dir}/supervisord.conf`;
        fs.writeFileSync(
            conf,
            [
                "[unix_http_server]",
                `file=${dir}/supervisor.sock`,
                "[supervisord]",
                `logfile=${dir}/supervisord.log`,
                `pidfile=${dir}/supervisord.pid`,
                `childlogdir=${dir}`,
                "[rpcinterface:supervisor]",
                "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
                "[supervisorctl]",
                `serverurl=unix://${dir}/supervisor.sock`,
                "[include]",
                `files=${dir}/conf.d/*.conf`,
                "",
            ].join("\n"),
        );
        const daemon = spawn("supervisord", ["-n", "-c", conf], { stdio: "ignore" });
        atTestEnd(async () => {
            daemon.kill("SIGTERM");
            await new Promise((resolve) => (daemon.exitCode !== null ? resolve(null) : daemon.once("exit", resolve)));
            fs.rmSync(dir, { recursive: true, force: true });
        });
        ctl = ["-c", conf];
        const deadline = Date.now() + 10_000;
        while (
            !(await run("supervisorctl", [...ctl, "pid"]).then(
                () => true,
                () => false,
            ))
        ) {
            if (Date.now() > deadline) throw new Error(`supervisord did not answer within 10s; see ${dir}/supervisord.log`);
            await new Promise((r) => setTimeout(r, 100));
        }
    });

    it("starts the program from its release directory with its env file, answers health, and stops it on `down`", async () => {
        const port = await freePort();
        const config = parseReleaseConfig(
            Object.fromEntries(
                Object.entries(
                    hostConfig(dir, {
                        "release:version": "v1.5.0",
                        "release:components": {
                            api: {
                                role: "web",
                                port: 8080,
                                healthPath: "/health",
                                command: [process.execPath, "server.js"],
                                secretEnv: { API_TOKEN: "config:apiToken" },
                            },
                        },
                        "release:artifacts": { "v1.5.0": { api: { path: "server.js", sha256: "a".repeat(64) } } },
                        "release:host": {
                            root: `${dir}/srv`,
                            supervisorConfig: `${dir}/supervisord.conf`,
                            programDir: `${dir}/conf.d`,
                            healthWaitSeconds: 20,
                        },
                        "release:apiToken": "s3cret-token",
                    }),
                ).map(([k, v]) => [k.slice("release:".length), v]),
            ),
        );
        const component = config.components[0];
        fs.mkdirSync(`${dir}/srv/releases/v1.5.0/api`, { recursive: true });
        fs.mkdirSync(`${dir}/srv/logs`, { recursive: true });
        fs.writeFileSync(`${dir}/srv/releases/v1.5.0/api/server.js`, SERVER);
        const plan = programPlan({ app: "shop", settings: config.host!, component, version: "v1.5.0", port, replaced: false });

        const up = await opsRun(plan.up, plan.definition, { API_TOKEN: "s3cret-token" });
        assert.deepEqual(JSON.parse(up.stdout), { program: "shop-api-v1-5-0", state: "running" });
        const health = await fetch(`http://127.0.0.1:${port}/health`);
        assert.equal(await health.text(), "ok v1.5.0 token");
        const envFile = `${dir}/srv/env/shop-api-v1-5-0.env`;
        assert.equal(fs.statSync(envFile).mode & 0o777, 0o600);
        assert.doesNotMatch(fs.readFileSync(`${dir}/conf.d/shop-api-v1-5-0.conf`, "utf8"), /s3cret/);
        assert.ok(!plan.up.join(" ").includes("s3cret"));
        const status = await run("supervisorctl", [...ctl, "status", "shop-api-v1-5-0"]);
        assert.match(status.stdout, /^shop-api-v1-5-0\s+RUNNING/);

        await opsRun(plan.down, "");
        await assert.rejects(fetch(`http://127.0.0.1:${port}/health`));
        assert.ok(!fs.existsSync(`${dir}/conf.d/shop-api-v1-5-0.conf`));
        assert.ok(!fs.existsSync(envFile));
    });

    it("removes a program that never turns healthy and fails naming what it waited for", async () => {
        const port = await freePort();
        fs.mkdirSync(`${dir}/srv/releases/v1.6.0/api`, { recursive: true });
        fs.writeFileSync(`${dir}/srv/releases/v1.6.0/api/server.js`, "setInterval(() => {}, 1000);");
        const config = parseReleaseConfig(
            Object.fromEntries(
                Object.entries(
                    hostConfig(dir, {
                        "release:version": "v1.6.0",
                        "release:components": {
                            api: { role: "web", port: 8080, healthPath: "/health", command: [process.execPath, "server.js"] },
                        },
                        "release:artifacts": { "v1.6.0": { api: { path: "server.js", sha256: "a".repeat(64) } } },
                        "release:host": {
                            root: `${dir}/srv`,
                            supervisorConfig: `${dir}/supervisord.conf`,
                            programDir: `${dir}/conf.d`,
                            healthWaitSeconds: 4,
                        },
                    }),
                ).map(([k, v]) => [k.slice("release:".length), v]),
            ),
        );
        const plan = programPlan({
            app: "shop",
            settings: config.host!,
            component: config.components[0],
            version: "v1.6.0",
            port,
            replaced: false,
        });
        await assert.rejects(opsRun(plan.up, plan.definition), (err: Error) => {
            assert.match(
                err.message,
                new RegExp(
                    `host-service: shop-api-v1-6-0 did not answer http://127\\.0\\.0\\.1:${port}/health with 200 within 4s \\(last: ECONNREFUSED\\); it was removed again`,
                ),
            );
            return true;
        });
        assert.ok(!fs.existsSync(`${dir}/conf.d/shop-api-v1-6-0.conf`));
        const status = await run("supervisorctl", [...ctl, "status", "shop-api-v1-6-0"]).catch((e: Error) => ({ stdout: e.message }));
        // supervisorctl's exit status 4: no such process.
        assert.match(status.stdout, /exited 4/);
    });
});
