import * as assert from "assert";
import * as fs from "fs";
import { atTestEnd } from "../support/processes";
import { APP, HostStep, HostWorld, getJson, programPids, startHostWorld, stopHostWorld, versionsAnswering } from "./support/hostWorld";
import { CliResult, changedSteps } from "./support/pulumiCli";
import { Sshd, startSshd } from "./support/sshd";

/**
 * The demo service on `host` with `release:host.address` at a private sshd on
 * loopback, under the real engine: every host step is a `command:remote:Command`
 * run over SSH as root (the "remote" is this machine: its supervisord and release
 * root are root's, and the demo's private supervisord is the one the steps
 * drive), the agent and each artifact copied once by `CopyToRemote`. The walk:
 * first deploy, a release of v1.1.0 at 0, a shift to 50, a warm rollback. The
 * private key is a stack secret and must appear in no output.
 */
describe("e2e: a release on a remote host over SSH", function () {
    // Each step walks on from the last one's state.
    this.bail(true);
    let world: HostWorld;
    let sshd: Sshd;
    /** Everything the CLI printed, over the whole walk. */
    const printed: string[] = [];

    const remote = (name: string) => `command:remote:Command::${APP}-${name}`;
    const local = (name: string) => `command:local:Command::${APP}-${name}`;
    const copy = (name: string) => `command:remote:CopyToRemote::${APP}-${name}`;

    const step = (s: HostStep): HostStep => ({
        ...s,
        host: { address: `ssh://${sshd.user}@${sshd.host}:${sshd.port}`, privateKey: "config:sshKey" },
    });

    function keep(result: CliResult): CliResult {
        printed.push(result.stdout, result.stderr);
        return result;
    }

    /**
     * The dev stack's config at the sshd, without its directory backup: this walk
     * is the host steps'; the remote archive, quiesced writers and restore walk
     * through hostRemoteData.test.ts.
     */
    function configure(s: HostStep): void {
        const config = world.config(step(s));
        const { directory: _directory, ...backup } = config["release:backup"] as Record<string, unknown>;
        world.stack.writeConfig({ ...config, "release:backup": backup });
    }

    /** The preview's info lines besides its steps. */
    let notes: string[] = [];

    async function previewSteps(s: HostStep): Promise<string[]> {
        configure(s);
        const { result, json } = await world.stack.preview();
        keep(result);
        notes = (json.diagnostics ?? []).filter((d) => d.severity === "info").map((d) => d.message.trim());
        return changedSteps(json).sort();
    }

    async function up(): Promise<void> {
        keep(await world.stack.up());
    }

    /** The base64 lines of the key's body: any one of them in an output is a leak. */
    function keyLines(): string[] {
        return sshd.privateKey
            .split("\n")
            .map((line) => line.trim())
            .filter((line) => line.length >= 20 && !line.startsWith("-----"));
    }

    function assertNoKey(text: string, where: string): void {
        for (const line of keyLines()) assert.ok(!text.includes(line), `a line of the private key appears in ${where}`);
    }

    async function exportedState(): Promise<Array<{ urn: string; type: string; inputs?: Record<string, unknown> }>> {
        const exported = keep(await world.stack.cli(["stack", "export"])).stdout;
        return (
            JSON.parse(exported) as { deployment: { resources: Array<{ urn: string; type: string; inputs?: Record<string, unknown> }> } }
        ).deployment.resources;
    }

    before(async () => {
        sshd = await startSshd();
        world = await startHostWorld("host-remote");
        atTestEnd(() => stopHostWorld(world));
        configure({ version: "v1.0.0" });
        await world.stack.setSecret("release:sshKey", sshd.privateKey);
    });
    after(() => stopHostWorld(world));

    it("previews the first deploy: the host steps over SSH, the agent and the artifact copied once, the data steps here", async () => {
        assert.deepStrictEqual(
            await previewSteps({ version: "v1.0.0" }),
            [
                `create ${copy("host-agent")}`,
                `create ${copy("host-v1.0.0-web-artifact")}`,
                `create ${remote("host-prune")}`,
                `create ${remote("host-router")}`,
                `create ${remote("host-router-config")}`,
                `create ${remote("host-v1.0.0-web")}`,
                `create ${remote("host-v1.0.0-web-release")}`,
                `create ${local("backup-v1.0.0-pg-dump")}`,
                `create ${local("migrate-v1.0.0-run")}`,
                `create ${local("preflight-v1.0.0-checks")}`,
                `create ${local("preflight-v1.0.0-store-check")}`,
                `create ${local("prune-v1.0.0")}`,
                `create ${local("smoke-v1.0.0-run")}`,
                `create safe-release:data:Migration::${APP}-migrate-v1.0.0`,
                `create safe-release:data:Preflight::${APP}-preflight-v1.0.0`,
                `create safe-release:data:PreUpgradeBackup::${APP}-backup-v1.0.0`,
                `create safe-release:gates:SmokeTest::${APP}-smoke-v1.0.0`,
                `create safe-release:image:PinnedImage::${APP}-v1.0.0-web`,
                `create safe-release:host:HostPlatform::${APP}-host`,
                `create safe-release:host:HostVersion::${APP}-host-v1.0.0`,
                `create safe-release:index:Release::${APP}`,
                `create pulumi:pulumi:Stack::release-${world.stack.name}`,
            ].sort(),
        );
        assert.ok(
            notes.includes(
                "the machine checks of `release:host` (service manager, nginx, root writable, ports free) were not run: the host is 127.0.0.1 " +
                    "(`release:host.address`), reached only by the update's steps, which fail there naming what is missing; " +
                    "the artifacts' digests were checked here",
            ),
            `the plan says which checks were not run: ${JSON.stringify(notes)}`,
        );
    });

    it("deploys v1.0.0 over SSH: the router answers with it, the agent sits under the root", async () => {
        await up();
        assert.deepStrictEqual(await getJson(world, "/"), { service: APP, version: "v1.0.0", format: "1", notes: 1 });
        assert.ok(fs.existsSync(`${world.root}/agent/ops/hostAgent.js`), "the agent was copied to <root>/agent");
        assert.ok(fs.existsSync(`${world.root}/artifacts/v1.0.0/web/demo-v1.0.0.tar.gz`), "the artifact was copied under <root>/artifacts");
    });

    it("a release of v1.1.0 at 0 migrates once; its artifact is copied, the agent is not; users stay on v1.0.0", async () => {
        const steps = await previewSteps({ version: "v1.1.0", previous: "v1.0.0", canaryWeight: 0 });
        assert.deepStrictEqual(
            steps.filter((s) => s.includes("CopyToRemote")),
            [`create ${copy("host-v1.1.0-web-artifact")}`],
        );
        assert.deepStrictEqual(
            steps.filter((s) => s.includes("command:remote:Command")),
            [
                `create ${remote("host-v1.1.0-web")}`,
                `create ${remote("host-v1.1.0-web-release")}`,
                `update ${remote("host-prune")}`,
                `update ${remote("host-router-config")}`,
            ].sort(),
        );
        await up();
        assert.deepStrictEqual(await versionsAnswering(world, 6), { "v1.0.0": 6 });
        assert.deepStrictEqual(await getJson(world, "/", { "X-Release-Target": "v1.1.0" }), {
            service: APP,
            version: "v1.1.0",
            format: "2",
            notes: 2,
        });
        assert.strictEqual(fs.readFileSync(`${world.root}/data/FORMAT`, "utf8"), "2\n");
        // The slots the next update reads: the program cannot read a remote host's router/live.json.
        assert.deepStrictEqual((await world.stack.outputs()).slots, { "v1.0.0": 0, "v1.1.0": 1 });
    });

    it("the migration ran on the host through ssh-exec, under the local migrate's lock; the key only in its secret environment", async () => {
        const state = await exportedState();
        const migrate = state.find((r) => r.urn.endsWith(`::${APP}-migrate-v1.1.0-run`));
        const create = String(migrate?.inputs?.create);
        assert.ok(
            create.includes(`migrate --app ${APP} --version v1.1.0`) &&
                create.includes(`ssh-exec --host ${sshd.host} --port ${sshd.port} --user root -- env -C ${world.root}/releases/v1.1.0/web`),
            create,
        );
        assert.doesNotMatch(create, /PRIVATE KEY/);
        // The engine encrypts the environment whole, or each secret value in it.
        const environment = migrate?.inputs?.environment as Record<string, Record<string, unknown>>;
        const key = environment?.ciphertext !== undefined ? environment : environment?.SAFE_RELEASE_SSH_KEY;
        assert.strictEqual(typeof key?.ciphertext, "string", "the key in the migration's environment is a ciphertext");
    });

    let pids: Record<string, string>;
    it("a shift to 50 changes the router's config only, over SSH; nothing restarts", async () => {
        pids = await programPids(world);
        const steps = await previewSteps({ version: "v1.1.0", previous: "v1.0.0", canaryWeight: 50 });
        assert.deepStrictEqual(
            steps.filter((s) => s.includes("command:remote:")),
            [`update ${remote("host-router-config")}`],
        );
        await up();
        assert.deepStrictEqual(await versionsAnswering(world, 20), { "v1.0.0": 10, "v1.1.0": 10 });
        assert.deepStrictEqual(await programPids(world), pids, "no program started, stopped or restarted");
    });

    it("a warm rollback sends everyone to v1.0.0 at once; v1.1.0 keeps running", async () => {
        await previewSteps({ version: "v1.0.0", previous: "v1.1.0", canaryWeight: 100 });
        await up();
        assert.deepStrictEqual(await versionsAnswering(world, 10), { "v1.0.0": 10 });
        assert.deepStrictEqual(await programPids(world), pids, "no program started, stopped or restarted");
        assert.deepStrictEqual((await world.stack.outputs()).slots, { "v1.0.0": 0, "v1.1.0": 1 }, "each version keeps its slot");
    });

    it("the private key appears in no output: not the CLI's, not the state (a ciphertext there), not sshd's log", async () => {
        assert.ok(printed.length >= 10, "every preview and update was kept");
        assertNoKey(printed.join("\n"), "the CLI's output");
        const exported = keep(await world.stack.cli(["stack", "export"])).stdout;
        assertNoKey(exported, "`pulumi stack export`");
        const connections = (await exportedState())
            .filter((r) => r.type.startsWith("command:remote:"))
            .map((r) => r.inputs?.connection as Record<string, unknown> | undefined);
        assert.ok(connections.length >= 5, "remote steps in the state");
        for (const connection of connections) {
            assert.strictEqual(connection?.["4dabf18193072939515e22adb298388d"], "1b47061264138c4ac30d75fd1eb44270", "a secret");
            assert.strictEqual(typeof connection?.ciphertext, "string");
        }
        assertNoKey(sshd.log(), "sshd's log");
    });
});
