import * as assert from "assert";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { atTestEnd, run } from "../support/processes";
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
} from "./support/hostWorld";
import { CliResult, PROJECT_DIR, changedSteps } from "./support/pulumiCli";
import { Sshd, startSshd } from "./support/sshd";

/**
 * The data side of a remote host under the real engine, through a private sshd on
 * loopback (the "remote" is this machine, as root): the dev stack's directory
 * backup archived on the host and streamed into the stack's backup directory here;
 * `release:migrate.quiesce: [web]`, whose stop and start run over SSH, observed from
 * the host's supervisord by the migration itself; a failed migration that leaves the
 * writers stopped and says so; and `restoreFrom` of its archive, whose checksum the
 * host checks before it swaps the data directory back. The key is in no output.
 */
describe("e2e: a remote host's data directory backup, quiesced writers and restore over SSH", function () {
    // Each step walks on from the last one's state.
    this.bail(true);
    let world: HostWorld;
    let sshd: Sshd;
    /** A v1.1.0 of format 1 whose migration writes down what the host's supervisord says, then adds a file. */
    let observing: { path: string; sha256: string };
    /** A v1.2.0 whose migration rewrites notes.jsonl and then fails. */
    let failing: { path: string; sha256: string };
    const printed: string[] = [];
    const observed = () => `${world.dir}/during-migration.txt`;
    const program = (version: string) => `${APP}-web-${version.replace(/\./g, "-")}`;
    const local = (name: string) => `command:local:Command::${APP}-${name}`;

    function keep(result: CliResult): CliResult {
        printed.push(result.stdout, result.stderr);
        return result;
    }

    function configure(s: HostStep): void {
        const config = world.config({
            ...s,
            artifacts: { "v1.1.0": { web: observing }, "v1.2.0": { web: failing }, ...s.artifacts },
            host: { address: `ssh://${sshd.user}@${sshd.host}:${sshd.port}`, privateKey: "config:sshKey" },
        });
        world.stack.writeConfig({
            ...config,
            "release:migrate": { ...(config["release:migrate"] as object), quiesce: ["web"] },
        });
    }

    async function previewSteps(s: HostStep): Promise<string[]> {
        configure(s);
        const { result, json } = await world.stack.preview();
        keep(result);
        return changedSteps(json);
    }

    const sha256 = (file: string) => createHash("sha256").update(fs.readFileSync(file)).digest("hex");

    /** The program states the host's supervisord reports, as `programPids` reads them. */
    function states(status: string): Record<string, string> {
        return Object.fromEntries(
            status
                .split("\n")
                .filter((line) => line.trim() !== "")
                .map((line) => line.trim().split(/\s+/).slice(0, 2)),
        );
    }

    function directoryBackup(version: string): Record<string, unknown> {
        const found = backupLog(world).filter((r) => r.version === version && r.kind === "directory");
        assert.strictEqual(found.length, 1, `one directory backup of ${version} in ${JSON.stringify(backupLog(world))}`);
        return found[0];
    }

    /** The archive's files, extracted here: what the host's data directory held when it was taken. */
    async function archived(record: Record<string, unknown>): Promise<Record<string, string>> {
        const into = fs.mkdtempSync(path.join(world.dir, "extracted-"));
        await run("tar", ["-C", into, "-xf", String(record.location)]);
        return directoryBytes(into);
    }

    /** The step's environment holds the key as a ciphertext in the state (`pulumi stack export`, kept with the printed output). */
    async function assertKeyEncrypted(name: string): Promise<void> {
        const exported = keep(await world.stack.cli(["stack", "export"])).stdout;
        const resources = (JSON.parse(exported) as { deployment: { resources: Array<{ urn: string; inputs?: Record<string, unknown> }> } })
            .deployment.resources;
        const step = resources.find((r) => r.urn.endsWith(`::${APP}-${name}`));
        assert.ok(step !== undefined, `${name} in the state`);
        // The engine encrypts the environment whole, or each secret value in it.
        const environment = step.inputs?.environment as Record<string, Record<string, unknown>> | undefined;
        const key = environment?.ciphertext !== undefined ? environment : environment?.SAFE_RELEASE_SSH_KEY;
        assert.strictEqual(typeof key?.ciphertext, "string", `the key in the environment of ${name} is a ciphertext`);
    }

    before(async () => {
        sshd = await startSshd();
        world = await startHostWorld("host-remote-data");
        atTestEnd(() => stopHostWorld(world));
        // Both built on v1.0.0's store (format 1), so a version that stopped for a migration can start again after it.
        const v100 = (file: string) => fs.readFileSync(path.join(PROJECT_DIR, "examples", "demo", "v1.0.0", file), "utf8");
        const store = (version: string) => v100("store.js").replace('const VERSION = "v1.0.0"', `const VERSION = "${version}"`);
        const conf = `${world.root}/supervisor/supervisord.conf`;
        observing = await buildDemoArtifact(world.dir, "v1.1.0", {
            store: store("v1.1.0"),
            migrate: [
                '"use strict";',
                // `status` exits non-zero when a program is stopped; its output is what counts.
                `const status = require("child_process").spawnSync("supervisorctl", ["-c", ${JSON.stringify(conf)}, "status"], { encoding: "utf8" });`,
                `require("fs").writeFileSync(${JSON.stringify(observed())}, status.stdout);`,
                // An additive change that format 1 readers ignore.
                'require("fs").writeFileSync(require("path").join(process.env.DATA_DIR, "MIGRATED-v1.1.0"), "yes\\n");',
                "",
            ].join("\n"),
        });
        failing = await buildDemoArtifact(world.dir, "v1.2.0", {
            store: store("v1.2.0"),
            migrate: [
                '"use strict";',
                'const fs = require("fs");',
                'const file = require("path").join(process.env.DATA_DIR, "notes.jsonl");',
                'fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace(/"text"/g, \'"body"\'));',
                'console.error("migrate v1.2.0: notes.jsonl rewritten; the FORMAT step failed: disk quota exceeded");',
                "process.exit(1);",
                "",
            ].join("\n"),
        });
        configure({ version: "v1.0.0" });
        await world.stack.setSecret("release:sshKey", sshd.privateKey);
    });
    after(() => stopHostWorld(world));

    it("first deploy: the host's data directory is archived over SSH into the stack's backup directory here", async () => {
        const steps = await previewSteps({ version: "v1.0.0" });
        assert.ok(steps.includes(`create ${local("backup-v1.0.0-directory")}`), steps.join("\n"));
        keep(await world.stack.up());
        const record = directoryBackup("v1.0.0");
        const location = String(record.location);
        assert.strictEqual(path.dirname(location), path.join(PROJECT_DIR, world.backupDir), "the archive is on the machine running Pulumi");
        assert.deepStrictEqual(
            [record.host, record.source, record.verified, record.consistency, record.sha256],
            [`root@127.0.0.1:${sshd.port}`, `${world.root}/data`, true, "crash-consistent-at-best", sha256(location)],
        );
    });

    let dataAtBackup: Record<string, string>;
    it("a release of v1.1.0 stops web over SSH for the backup and the migration, and starts it after", async () => {
        assert.strictEqual(await postNote(world, "written by v1.0.0"), 201);
        dataAtBackup = directoryBytes(`${world.root}/data`);
        const before = await programPids(world);
        assert.match(before[program("v1.0.0")], /^running \d+$/);
        const steps = await previewSteps({ version: "v1.1.0", previous: "v1.0.0", canaryWeight: 0 });
        for (const step of ["quiesce-v1.1.0-stop", "quiesce-v1.1.0-resume", "backup-v1.1.0-directory"]) {
            assert.ok(steps.includes(`create ${local(step)}`), `${step} in:\n${steps.join("\n")}`);
        }
        keep(await world.stack.up());
        assert.strictEqual(
            states(fs.readFileSync(observed(), "utf8"))[program("v1.0.0")],
            "STOPPED",
            "web was stopped during the migration",
        );
        const after = await programPids(world);
        assert.match(after[program("v1.0.0")], /^running \d+$/, "and started after it");
        assert.notStrictEqual(after[program("v1.0.0")], before[program("v1.0.0")], "a new process: it was stopped and started");
        assert.match(after[program("v1.1.0")], /^running \d+$/);
        const record = directoryBackup("v1.1.0");
        assert.strictEqual(record.consistency, "quiesced", "the archive was taken with web stopped");
        assert.deepStrictEqual(await archived(record), dataAtBackup, "the archive holds the data as it was before the migration");
        assert.strictEqual(fs.readFileSync(`${world.root}/data/MIGRATED-v1.1.0`, "utf8"), "yes\n", "the migration ran on the host");
        await assertKeyEncrypted("backup-v1.1.0-directory");
    });

    let failedBackup: Record<string, unknown>;
    let dataBeforeFailure: Record<string, string>;
    it("a failed migration leaves web stopped on the host, and the update says so", async () => {
        assert.strictEqual(await postNote(world, "before v1.2.0"), 201);
        dataBeforeFailure = directoryBytes(`${world.root}/data`);
        configure({ version: "v1.2.0", previous: "v1.1.0", canaryWeight: 0 });
        const failed = keep(await world.stack.up({ allowFailure: true }));
        assert.notStrictEqual(failed.code, 0);
        const output = failed.stdout + failed.stderr;
        assert.match(output, /migration of `demo` v1\.2\.0 \(sha256:[0-9a-f]{64}\) failed with exit code 1/);
        assert.match(output, /Writers stay stopped \(web\)\. Do not retry the same migration/);
        const pids = await programPids(world);
        assert.deepStrictEqual(
            [pids[program("v1.0.0")], pids[program("v1.1.0")]],
            ["STOPPED", "STOPPED"],
            `every running version's web stays stopped: ${JSON.stringify(pids)}`,
        );
        failedBackup = directoryBackup("v1.2.0");
        assert.strictEqual(failedBackup.consistency, "quiesced");
        assert.deepStrictEqual(await archived(failedBackup), dataBeforeFailure, "the archive was taken before the migration ran");
        assert.notDeepStrictEqual(
            directoryBytes(`${world.root}/data`),
            dataBeforeFailure,
            "the migration changed the data before it failed",
        );
    });

    it("restoreFrom that archive with v1.1.0: the host checks its sha256, its data directory gets the bytes back, v1.1.0 serves them", async () => {
        const steps = await previewSteps({ version: "v1.1.0", restoreFrom: String(failedBackup.id) });
        assert.ok(steps.includes(`create ${local(`restore-${failedBackup.id}-run`)}`), steps.join("\n"));
        const restored = keep(await world.stack.up());
        assert.deepStrictEqual(
            directoryBytes(`${world.root}/data`),
            dataBeforeFailure,
            `the data as at the backup after:\n${restored.stdout}`,
        );
        // Not kept with the printed output: `--show-secrets` shows the key, by design.
        const exported = JSON.parse((await world.stack.cli(["stack", "export", "--show-secrets"])).stdout) as {
            deployment: { resources: Array<{ urn: string; outputs?: Record<string, unknown> }> };
        };
        const restore = exported.deployment.resources.find((r) => r.urn.endsWith(`::${APP}-restore-${failedBackup.id}-run`));
        const result = JSON.parse(String(restore?.outputs?.stdout)) as Record<string, unknown>;
        assert.deepStrictEqual(
            [result.ok, result.host, result.target, (result.verified as Record<string, unknown>).sha256],
            [true, `root@127.0.0.1:${sshd.port}`, `${world.root}/data`, failedBackup.sha256],
            "the host checked the archive's sha256 against the record",
        );
        assert.strictEqual((await world.stack.outputs()).restoredFrom, failedBackup.id);
        const notes = (await getJson(world, "/notes")).notes as Array<{ text: string }>;
        assert.strictEqual(notes[notes.length - 1].text, "before v1.2.0", "v1.1.0 serves the restored notes");
        assert.deepStrictEqual(await ledger(world), [
            "v1.0.0 succeeded",
            "v1.1.0 succeeded",
            `v1.2.0 failed restored by ${failedBackup.id}`,
        ]);
    });

    it("the private key appears in no CLI output, not in the state (a ciphertext there), not in sshd's log", async () => {
        assert.ok(printed.length >= 8, "every preview and update was kept");
        await assertKeyEncrypted(`restore-${failedBackup.id}-run`);
        const text = printed.join("\n");
        const keyLines = sshd.privateKey
            .split("\n")
            .map((line) => line.trim())
            .filter((line) => line.length >= 20 && !line.startsWith("-----"));
        assert.ok(keyLines.length > 0);
        for (const line of keyLines) {
            assert.ok(!text.includes(line), "a line of the private key appears in the CLI's output");
            assert.ok(!sshd.log().includes(line), "a line of the private key appears in sshd's log");
        }
    });
});
