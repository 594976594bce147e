import * as assert from "assert";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { checkHostMachine, localMachine } from "../../components/host/machineChecks";
import { parseReleaseConfig } from "../../settings/release";
import { atTestEnd } from "../support/processes";
import {
    APP,
    HostStep,
    HostWorld,
    backupLog,
    buildDemoArtifact,
    directoryBytes,
    getJson,
    ledger,
    postNote,
    programPids,
    startHostWorld,
    stopHostWorld,
    versionsAnswering,
} from "./support/hostWorld";
import { PROJECT_DIR, changedSteps } from "./support/pulumiCli";

/**
 * The demo service's lifecycle on `host` under the real engine, past what the dev
 * walkthrough covers: bad input refused before anything runs, the engine's exact
 * plan of each transition, a shift and a warm rollback that change the router's
 * config only (no program restarted), a roll forward, the retirement of v1.0.0
 * (its program gone, its release directory kept), the stack's history, and a
 * release whose migration fails half way, then the restore of its backup.
 */
describe("e2e: a release on host under the real engine", function () {
    let world: HostWorld;
    let v120: { path: string; sha256: string };
    const V110_WEIGHT_100: HostStep = { version: "v1.1.0", previous: "v1.0.0", canaryWeight: 100 };

    const cmd = (name: string) => `command:local:Command::${APP}-${name}`;
    /** What the first update after a release deletes: that release's finished data steps (their delete runs nothing). */
    const finishedDataSteps = (version: string, release = true) => [
        // A release checked its way back and the live schema first; a first deploy had neither to check.
        ...(release
            ? [
                  `delete ${cmd(`rollback-check-${version}-run`)}`,
                  `delete safe-release:data:RollbackCheck::${APP}-rollback-check-${version}`,
                  `delete ${cmd(`drift-${version}-run`)}`,
                  `delete safe-release:data:DriftCheck::${APP}-drift-${version}`,
              ]
            : []),
        `delete ${cmd(`preflight-${version}-checks`)}`,
        `delete ${cmd(`preflight-${version}-store-check`)}`,
        `delete safe-release:data:Preflight::${APP}-preflight-${version}`,
        `delete ${cmd(`backup-${version}-directory`)}`,
        `delete ${cmd(`backup-${version}-pg-dump`)}`,
        `delete safe-release:data:PreUpgradeBackup::${APP}-backup-${version}`,
        `delete ${cmd(`migrate-${version}-run`)}`,
        `delete safe-release:data:Migration::${APP}-migrate-${version}`,
        `delete ${cmd(`prune-${version}`)}`,
    ];

    /** Previews a step and checks the engine's plan is exactly `want` (any order). */
    async function previewIs(step: HostStep, want: string[]): Promise<void> {
        world.configure(step);
        const { json } = await world.stack.preview();
        const steps = changedSteps(json).sort();
        assert.deepStrictEqual(steps, [...want].sort(), `the engine's plan: ${JSON.stringify(steps, null, 1)}`);
    }

    /** A shift or a warm rollback: the router's config command only (and a release's finished steps); no pid changes. */
    async function weightsOnly(step: HostStep, weights: Record<string, number>, afterRelease?: string): Promise<void> {
        const pids = await programPids(world);
        await previewIs(step, [
            `update ${cmd("host-router-config")}`,
            ...(afterRelease !== undefined ? finishedDataSteps(afterRelease) : []),
        ]);
        await world.stack.up();
        assert.deepStrictEqual(await programPids(world), pids, "no program started, stopped or restarted");
        assert.deepStrictEqual((await world.stack.outputs()).weights, weights);
    }

    /** A preview of a bad step fails before any resource, with `message` as the program's error. */
    async function refused(step: HostStep, message: string): Promise<void> {
        world.configure(step);
        const result = await world.stack.cli(["preview"], { allowFailure: true });
        assert.notStrictEqual(result.code, 0, "the preview fails");
        const output = result.stdout + result.stderr;
        const lines = output.split("\n").map((line) => line.trim());
        assert.ok(lines.includes(`error: ${message}`), `\`error: ${message}\` in:\n${output}`);
        assert.doesNotMatch(output, /at .*\.(js|ts):\d+/, "no stack trace");
        assert.doesNotMatch(output, /\+ +command:local:Command/, "no resource planned");
    }

    before(async () => {
        world = await startHostWorld("host-release");
        atTestEnd(() => stopHostWorld(world));
        // v1.2.0: format 3, whose migration rewrites notes.json and then fails before it writes FORMAT.
        const v110 = (file: string) => fs.readFileSync(path.join(PROJECT_DIR, "examples", "demo", "v1.1.0", file), "utf8");
        v120 = await buildDemoArtifact(world.dir, "v1.2.0", {
            store: v110("store.js")
                .replace('const VERSION = "v1.1.0"', 'const VERSION = "v1.2.0"')
                .replace('const FORMAT = "2"', 'const FORMAT = "3"'),
            migrate: [
                '"use strict";',
                'const fs = require("fs");',
                'const file = require("path").join(process.env.DATA_DIR, "notes.json");',
                "const notes = JSON.parse(fs.readFileSync(file, 'utf8')).map((n) => ({ ...n, tags: [] }));",
                "fs.writeFileSync(file, JSON.stringify(notes) + '\\n');",
                'console.error("migrate v1.2.0: notes.json rewritten; the FORMAT step failed: disk quota exceeded");',
                "process.exit(1);",
                "",
            ].join("\n"),
        });
    });
    after(() => stopHostWorld(world));

    describe("bad input, refused at preview with the key to change", () => {
        it("a router port another process listens on", async () => {
            const holder = net.createServer();
            await new Promise<void>((resolve) => holder.listen(world.routerPort + 1, "127.0.0.1", resolve));
            try {
                const ports = [0, 1, 2, 3].map((i) => world.routerPort + i).join(", ");
                await refused(
                    { version: "v1.0.0" },
                    `\`release:host.routerPort\`: port ${world.routerPort + 1} (the router takes ${ports}) is taken by another process; ` +
                        "stop it or choose another `routerPort`",
                );
            } finally {
                await new Promise((resolve) => holder.close(resolve));
            }
        });

        it("an artifact whose bytes are not its pinned sha256", async () => {
            const wrong = "0".repeat(64);
            const file = "examples/demo/dist/demo-v1.0.0.tar.gz";
            const actual = String(
                (world.config({ version: "v1.0.0" })["release:artifacts"] as Record<string, { web: { sha256: string } }>)["v1.0.0"].web
                    .sha256,
            );
            await refused(
                { version: "v1.0.0", artifacts: { "v1.0.0": { web: { path: file, sha256: wrong } } } },
                `\`release:artifacts.v1.0.0.web.sha256\` is ${wrong}, but ${file} has sha256 ${actual}; pin the artifact's digest (\`sha256sum ${file}\`)`,
            );
        });
    });

    describe("bad input, read from this machine by the checks the program runs first", () => {
        /** The checks `readReleaseConfig` runs on `host`, with this machine's facts, on a step's config. */
        const check = (step: HostStep) => {
            const raw = Object.fromEntries(Object.entries(world.config(step)).map(([key, value]) => [key.slice("release:".length), value]));
            checkHostMachine(parseReleaseConfig(raw), localMachine());
        };

        it("accepts the first deploy's config on this machine", () => check({ version: "v1.0.0" }));

        it("a service port another process listens on", async () => {
            const holder = net.createServer();
            await new Promise<void>((resolve) => holder.listen(world.basePort, "127.0.0.1", resolve));
            try {
                assert.throws(() => check({ version: "v1.0.0" }), {
                    name: "ConfigError",
                    message: `\`release:host.basePort\`: port ${world.basePort} (web of v1.0.0) is taken by another process; stop it or choose another \`basePort\``,
                });
            } finally {
                await new Promise((resolve) => holder.close(resolve));
            }
        });

        it("a root below a file, which no user can write", () => {
            const file = `${world.dir}/a-file`;
            fs.writeFileSync(file, "not a directory\n");
            assert.throws(() => check({ version: "v1.0.0", host: { root: `${file}/root` } }), {
                name: "ConfigError",
                message: `\`release:host.root\` ${file}/root is not writable by this user (${file} is not a directory); give a directory it may write`,
            });
        });

        it("`manager: systemd` on a machine where systemd is not running", () => {
            assert.ok(!fs.existsSync("/run/systemd/system"), "this case needs a machine (or container) whose PID 1 is not systemd");
            assert.throws(() => check({ version: "v1.0.0", host: { manager: "systemd" } }), {
                name: "ConfigError",
                message:
                    '`release:host.manager` is "systemd", but systemd is not running on this machine (/run/systemd/system is missing: PID 1 is not systemd); ' +
                    'use "supervisord" (Debian package `supervisor`)',
            });
        });

        it("an artifact path that does not exist", () => {
            const file = "examples/demo/dist/demo-v1.0.0-missing.tar.gz";
            assert.throws(() => check({ version: "v1.0.0", artifacts: { "v1.0.0": { web: { path: file, sha256: "1".repeat(64) } } } }), {
                name: "ConfigError",
                message: `\`release:artifacts.v1.0.0.web.path\` ${file} does not exist (paths are relative to the project directory)`,
            });
        });
    });

    describe("the lifecycle", () => {
        it("first deploy, then a release of v1.1.0 at 0 with its exact plan; v1.0.0 keeps every user", async () => {
            world.configure({ version: "v1.0.0" });
            await world.stack.up();
            assert.strictEqual(await postNote(world, "before the release"), 201);
            await previewIs({ version: "v1.1.0", previous: "v1.0.0", canaryWeight: 0 }, [
                `create ${cmd("rollback-check-v1.1.0-run")}`,
                `create safe-release:data:RollbackCheck::${APP}-rollback-check-v1.1.0`,
                `create ${cmd("drift-v1.1.0-run")}`,
                `create safe-release:data:DriftCheck::${APP}-drift-v1.1.0`,
                `create ${cmd("preflight-v1.1.0-checks")}`,
                `create ${cmd("preflight-v1.1.0-store-check")}`,
                `create safe-release:data:Preflight::${APP}-preflight-v1.1.0`,
                `create ${cmd("backup-v1.1.0-directory")}`,
                `create ${cmd("backup-v1.1.0-pg-dump")}`,
                `create safe-release:data:PreUpgradeBackup::${APP}-backup-v1.1.0`,
                `create ${cmd("migrate-v1.1.0-run")}`,
                `create safe-release:data:Migration::${APP}-migrate-v1.1.0`,
                `create ${cmd("prune-v1.1.0")}`,
                `create ${cmd("host-v1.1.0-web-release")}`,
                `create ${cmd("host-v1.1.0-web")}`,
                `create safe-release:host:HostVersion::${APP}-host-v1.1.0`,
                `create ${cmd("smoke-v1.1.0-run")}`,
                `create safe-release:gates:SmokeTest::${APP}-smoke-v1.1.0`,
                `create safe-release:image:PinnedImage::${APP}-v1.1.0-web`,
                `update ${cmd("host-router-config")}`,
                `update ${cmd("host-prune")}`,
                ...finishedDataSteps("v1.0.0", false),
            ]);
            const pids = await programPids(world);
            await world.stack.up();
            assert.strictEqual((await programPids(world))[`${APP}-web-v1-0-0`], pids[`${APP}-web-v1-0-0`], "v1.0.0 not restarted");
            assert.deepStrictEqual(await versionsAnswering(world, 6), { "v1.0.0": 6 });
            assert.deepStrictEqual(await ledger(world), ["v1.0.0 succeeded", "v1.1.0 succeeded"]);
            const outputs = await world.stack.outputs();
            assert.deepStrictEqual([outputs.version, outputs.previous, outputs.schemaHead], ["v1.1.0", "v1.0.0", "v1.1.0"]);
        });

        it("a shift to 100 changes the router's config only; every answer from v1.1.0", async () => {
            await weightsOnly(V110_WEIGHT_100, { "v1.1.0": 100, "v1.0.0": 0 }, "v1.1.0");
            assert.deepStrictEqual(await versionsAnswering(world, 10), { "v1.1.0": 10 });
        });

        it("a warm rollback to v1.0.0, and a roll forward again: the router's config only, nothing restarted", async () => {
            await weightsOnly({ version: "v1.0.0", previous: "v1.1.0", canaryWeight: 100 }, { "v1.0.0": 100, "v1.1.0": 0 });
            assert.deepStrictEqual(await versionsAnswering(world, 10), { "v1.0.0": 10 });
            assert.deepStrictEqual(await ledger(world), ["v1.0.0 succeeded", "v1.1.0 succeeded"], "a rollback never re-runs a migration");
            await weightsOnly(V110_WEIGHT_100, { "v1.1.0": 100, "v1.0.0": 0 });
            assert.deepStrictEqual(await versionsAnswering(world, 10), { "v1.1.0": 10 });
        });

        it("retire v1.0.0: its program removed, its release directory kept for a later rollback", async () => {
            const pids = await programPids(world);
            await previewIs({ version: "v1.1.0" }, [
                `delete ${cmd("host-v1.0.0-web")}`,
                `delete safe-release:host:HostVersion::${APP}-host-v1.0.0`,
                `delete ${cmd("host-v1.0.0-web-release")}`,
                `delete safe-release:image:PinnedImage::${APP}-v1.0.0-web`,
                // The retired version's smoke test goes with it; the first update after a release keeps it.
                `delete ${cmd("smoke-v1.0.0-run")}`,
                `delete safe-release:gates:SmokeTest::${APP}-smoke-v1.0.0`,
                `update ${cmd("host-router-config")}`,
                `update ${cmd("host-prune")}`,
            ]);
            await world.stack.up();
            const after = await programPids(world);
            assert.deepStrictEqual(Object.keys(after).sort(), [`${APP}-router`, `${APP}-web-v1-1-0`]);
            assert.strictEqual(after[`${APP}-web-v1-1-0`], pids[`${APP}-web-v1-1-0`], "v1.1.0 not restarted");
            assert.ok(!fs.existsSync(`${world.root}/supervisor/conf.d/${APP}-web-v1-0-0.conf`), "v1.0.0's program section removed");
            const record = JSON.parse(fs.readFileSync(`${world.root}/releases/v1.0.0/web/.safe-release.json`, "utf8")) as {
                sha256: string;
            };
            assert.strictEqual(
                record.sha256,
                (world.config({ version: "v1.0.0" })["release:artifacts"] as Record<string, { web: { sha256: string } }>)["v1.0.0"].web
                    .sha256,
            );
            assert.deepStrictEqual(await versionsAnswering(world, 6), { "v1.1.0": 6 });
            const outputs = await world.stack.outputs();
            assert.deepStrictEqual([outputs.version, outputs.previous ?? null, outputs.schemaHead], ["v1.1.0", null, "v1.1.0"]);
        });

        it("stack history: one entry per update, each with the version its config named", async () => {
            const history = await world.stack.history();
            // Newest first: retire, roll forward, roll back, shift, release, first deploy; the refused previews are no update.
            assert.deepStrictEqual(
                history.map((h) => `${h.kind} ${h.result} ${(h.config?.["release:version"] as { value?: string } | undefined)?.value}`),
                ["v1.1.0", "v1.1.0", "v1.0.0", "v1.1.0", "v1.1.0", "v1.0.0"].map((v) => `update succeeded ${v}`),
            );
        });

        let failedBackupId: string;
        let failureOutput = "";
        let dataAtBackup: Record<string, string>;
        it("a release whose migration fails half way: the update fails naming the ways on, no traffic moves, the head stays", async () => {
            assert.strictEqual(await postNote(world, "before v1.2.0"), 201);
            dataAtBackup = directoryBytes(`${world.root}/data`);
            const pids = await programPids(world);
            world.configure({ version: "v1.2.0", previous: "v1.1.0", canaryWeight: 0, artifacts: { "v1.2.0": { web: v120 } } });
            const failed = await world.stack.up({ allowFailure: true });
            assert.notStrictEqual(failed.code, 0);
            const output = failed.stdout + failed.stderr;
            assert.match(
                output,
                /migration of `demo` v1\.2\.0 \(sha256:[0-9a-f]{64}\) failed with exit code 1; `safe_release_migrations` records it as failed/,
            );
            assert.match(output, /\| migrate v1\.2\.0: notes\.json rewritten; the FORMAT step failed: disk quota exceeded/);
            failureOutput = output;
            assert.match(
                output,
                /roll back: restore the pre-upgrade backup of `demo` by setting `release:restoreFrom` to its backup id, together with the previous version/,
            );

            assert.deepStrictEqual(await ledger(world), ["v1.0.0 succeeded", "v1.1.0 succeeded", "v1.2.0 failed"]);
            assert.notDeepStrictEqual(
                directoryBytes(`${world.root}/data`),
                dataAtBackup,
                "the migration changed the data before it failed",
            );
            assert.deepStrictEqual(await versionsAnswering(world, 10), { "v1.1.0": 10 }, "v1.1.0 keeps all traffic");
            // Nothing was stopped for this migration (the dev stack quiesces no writer): v1.1.0 runs on, and no v1.2.0 program started.
            const after = await programPids(world);
            assert.deepStrictEqual(after, pids, "the programs as before the update");
            const outputs = await world.stack.outputs();
            assert.deepStrictEqual(
                [outputs.version, outputs.schemaHead],
                ["v1.1.0", "v1.1.0"],
                "the stack does not believe the failed schema",
            );
            const backup = backupLog(world).find((r) => r.version === "v1.2.0" && r.kind === "directory");
            assert.ok(backup !== undefined, `the failed release's directory backup in ${JSON.stringify(backupLog(world))}`);
            failedBackupId = String(backup.id);
            // v1.1.0 still takes writes: one after the backup, which the restore must take back.
            assert.strictEqual(await postNote(world, "after the failed migration"), 201);
        });

        it("the failure's message says what it did to the writers: none was stopped, they run on against the changed data", () => {
            assert.ok(failureOutput !== "", "the previous step ran the failing update");
            // The dev stack quiesces no writer (no `release:migrate.quiesce`): v1.1.0 ran on through the failure.
            assert.doesNotMatch(failureOutput, /Writers stay stopped/, "no writer was stopped, so none stays stopped");
            assert.match(
                failureOutput,
                /No writer was stopped for this migration \(no `release:migrate\.quiesce`\): the running versions still serve, on whatever the partial run left\./,
            );
        });

        it("restoreFrom that backup with v1.1.0: the data directory's bytes as before the release, and v1.1.0 serves them", async () => {
            assert.ok(failedBackupId !== undefined, "the previous step found the backup");
            world.configure({ version: "v1.1.0", restoreFrom: failedBackupId, artifacts: { "v1.2.0": { web: v120 } } });
            const { json } = await world.stack.preview();
            assert.ok(
                changedSteps(json).includes(`create safe-release:data:Restore::${APP}-restore-${failedBackupId}`),
                changedSteps(json).join("\n"),
            );
            await world.stack.up();
            assert.deepStrictEqual(directoryBytes(`${world.root}/data`), dataAtBackup);
            assert.strictEqual((await world.stack.outputs()).restoredFrom, failedBackupId);
            const notes = (await getJson(world, "/notes")).notes as Array<{ body: string }>;
            assert.strictEqual(notes[notes.length - 1].body, "before v1.2.0", "v1.1.0 serves the restored notes");
            assert.deepStrictEqual(await versionsAnswering(world, 6), { "v1.1.0": 6 });
        });

        it("and the ledger agrees with the restored data: the failed run is marked restored, so it blocks nothing", async () => {
            assert.ok(failedBackupId !== undefined, "the previous steps restored the backup");
            // The backup predates v1.2.0's run: the restore marks that run (its row stays, for the history).
            assert.deepStrictEqual(await ledger(world), [
                "v1.0.0 succeeded",
                "v1.1.0 succeeded",
                `v1.2.0 failed restored by ${failedBackupId}`,
            ]);
        });
    });
});
