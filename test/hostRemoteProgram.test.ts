import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { SSH_KEY_ENV } from "../ops/commands/ssh-exec";
import { hostConfig, hostRoot } from "./hostFixtures";
import { resource } from "./support/inspect";
import { ProgramRun, runProgram } from "./support/mockEngine";
import { run } from "./support/processes";

const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nbm90LWEtcmVhbC1rZXktanVzdC1hLXRlc3Qtc3RyaW5n\n-----END OPENSSH PRIVATE KEY-----\n";
const SSH_EXEC = "node ops/bin/safe-release-ops.js ssh-exec --host db1 --port 2222 --user deploy";

/** A secret input, as the engine receives it: marked with Pulumi's secret signature. */
function secretValue(input: unknown): any {
    const wrapped = input as Record<string, unknown> | undefined;
    assert.equal(wrapped?.["4dabf18193072939515e22adb298388d"], "1b47061264138c4ac30d75fd1eb44270", "a secret");
    return wrapped!.value;
}

/**
 * The program with `release:host.address` under the mocked engine: the host
 * steps are remote commands, and what the data steps run here but must act on
 * the host (the migration command under the local lock, the writers' stop and
 * start) goes through `safe-release-ops ssh-exec` with the key in a secret
 * environment; the slots come from the last update's `slots` output.
 */
describe("a remote host's program (components/host/runner.ts, hostPlatform.ts)", function () {
    this.timeout(120000);
    const root = hostRoot();
    let release: ProgramRun;

    before(async () => {
        // The agent the program copies to the host is the build's output.
        const project = path.resolve(__dirname, "..");
        if (!fs.existsSync(path.join(project, "bin", "ops", "hostAgent.js")))
            await run("npm", ["run", "--silent", "build"], { cwd: project });
        release = await runProgram({
            config: hostConfig(root, {
                "release:version": "v1.5.0",
                "release:previous": "v1.4.2",
                "release:canaryWeight": 0,
                "release:host": {
                    root: `${root}/srv`,
                    routerPort: 18080,
                    basePort: 19000,
                    address: "ssh://deploy@db1:2222",
                    privateKey: "config:sshKey",
                },
                "release:sshKey": KEY,
                "release:databaseUrl": "postgresql://ledger@127.0.0.1/shop",
                "release:migrate": { command: ["./api", "migrate"], component: "api", quiesce: ["worker"] },
                "release:backup": { directory: `${root}/srv/data` },
            }),
            secretKeys: ["release:sshKey", "release:databaseUrl"],
            preview: false,
            lastOutputs: { version: "v1.4.2", weights: { "v1.4.2": 100 }, schemaHead: "v1.4.2", slots: { "v1.4.2": 1 } },
        });
    });
    after(() => fs.rmSync(root, { recursive: true, force: true }));

    it("runs every host step as a remote command, the key only in the connection", () => {
        const hostSteps = [...release.resources.values()].filter((r) => r.name.startsWith("shop-host-") && r.custom);
        assert.deepEqual([...new Set(hostSteps.map((r) => r.type))].sort(), ["command:remote:Command", "command:remote:CopyToRemote"]);
        for (const step of hostSteps) {
            assert.equal(secretValue(step.inputs.connection).privateKey, KEY, step.name);
            assert.ok(!JSON.stringify({ ...step.inputs, connection: undefined }).includes("PRIVATE KEY"), step.name);
        }
    });

    it("runs the migration command on the host through ssh-exec, under the local migrate", () => {
        const migrate = resource(release, "command:local:Command", "shop-migrate-v1.5.0-run");
        assert.ok(
            migrate.inputs.create.endsWith(`-- ${SSH_EXEC} -- env -C ${root}/srv/releases/v1.5.0/api RELEASE_VERSION=v1.5.0 ./api migrate`),
            migrate.inputs.create,
        );
        assert.equal(secretValue(migrate.inputs.environment)[SSH_KEY_ENV], KEY);
        assert.ok(!migrate.inputs.create.includes("PRIVATE KEY"));
        assert.ok(migrate.additionalSecretOutputs.includes("environment"));
    });

    it("stops and starts the writers on the host through ssh-exec", () => {
        const conf = "-c /etc/supervisor/supervisord.conf";
        for (const [name, verb] of [
            ["shop-quiesce-v1.5.0-stop", "stop"],
            ["shop-quiesce-v1.5.0-resume", "start"],
        ]) {
            const step = resource(release, "command:local:Command", name);
            assert.equal(step.inputs.create, `${SSH_EXEC} -- supervisorctl ${conf} ${verb} shop-worker-v1-4-2`, name);
            assert.equal(secretValue(step.inputs.environment)[SSH_KEY_ENV], KEY, name);
            assert.ok(step.additionalSecretOutputs.includes("environment"), name);
        }
    });

    it("archives the host's data directory from here over SSH into the local backup directory, the key only in its secret environment", () => {
        const backup = resource(release, "command:local:Command", "shop-backup-v1.5.0-directory");
        assert.equal(
            backup.inputs.create,
            "node ops/bin/safe-release-ops.js host-archive --host db1 --port 2222 --user deploy " +
                `--path ${root}/srv/data --store backups --app shop --version v1.5.0 --quiesced`,
        );
        assert.equal(secretValue(backup.inputs.environment)[SSH_KEY_ENV], KEY);
        assert.ok(backup.additionalSecretOutputs.includes("environment"));
    });

    it("restores a backup through host-restore, after the agent's copy, the key and the ledger's URL in its secret environment", async () => {
        const restored = await runProgram({
            config: hostConfig(root, {
                "release:version": "v1.4.2",
                "release:restoreFrom": "shop-v1.5.0-20261202T000000.000Z",
                "release:host": {
                    root: `${root}/srv`,
                    routerPort: 18080,
                    basePort: 19000,
                    address: "ssh://deploy@db1:2222",
                    privateKey: "config:sshKey",
                },
                "release:sshKey": KEY,
                "release:databaseUrl": "postgresql://ledger@127.0.0.1/shop",
                "release:backup": { directory: `${root}/srv/data` },
            }),
            secretKeys: ["release:sshKey", "release:databaseUrl"],
            preview: false,
            lastOutputs: {
                version: "v1.4.2",
                weights: { "v1.4.2": 100 },
                schemaHead: "v1.5.0",
                slots: { "v1.4.2": 1 },
                backups: [{ id: "shop-v1.5.0-20261202T000000.000Z", kind: "directory", schemaHead: "v1.4.2" }],
            },
        });
        const step = resource(restored, "command:local:Command", "shop-restore-shop-v1.5.0-20261202T000000.000Z-run");
        assert.equal(
            step.inputs.create,
            `node ops/bin/safe-release-ops.js host-restore --host db1 --port 2222 --user deploy --agent ${root}/srv/agent ` +
                "--id shop-v1.5.0-20261202T000000.000Z --store backups",
        );
        assert.deepEqual(Object.keys(secretValue(step.inputs.environment)).sort(), [
            "DATABASE_URL",
            "SAFE_RELEASE_LEDGER_URL",
            SSH_KEY_ENV,
        ]);
        assert.equal(secretValue(step.inputs.environment)[SSH_KEY_ENV], KEY);
        assert.ok(step.additionalSecretOutputs.includes("environment"));
        assert.ok(
            step.dependencies.some((urn: string) => urn.endsWith("::shop-host-agent")),
            JSON.stringify(step.dependencies),
        );
    });

    it("places the versions by the last `slots` output, and records them for the next update", () => {
        const port = (version: string) =>
            Number(/"PORT":"(\d+)"/.exec(resource(release, "command:remote:Command", `shop-host-${version}-api`).inputs.create)![1]);
        assert.deepEqual({ "v1.4.2": port("v1.4.2"), "v1.5.0": port("v1.5.0") }, { "v1.4.2": 19001, "v1.5.0": 19000 });
        assert.deepEqual(release.outputs.slots, { "v1.4.2": 1, "v1.5.0": 0 });
    });
});
