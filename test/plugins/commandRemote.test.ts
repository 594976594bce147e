import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { commandProvider } from "./command/provider";
import { checkConnection } from "./command/remote/connection";
import { commandUrn, recordingLog } from "./command/testing";
import { secret, UNKNOWN, WireMap } from "./command/wire";
import { startSshd, Sshd } from "../e2e/support/sshd";
import { atTestEnd, freePort, run, tempDir } from "../support/processes";

const ASSET = { "4dabf18193072939515e22adb298388d": "c44067f5952c0a294b673a41bacd8c17" };
const ARCHIVE = { "4dabf18193072939515e22adb298388d": "0def7320c3a5731c473e5ecbe6d01bc7" };

describe("stand-in command provider: command:remote:* through a real sshd", function () {
    this.timeout(60000);
    let sshd: Sshd;
    let dir: string;
    const log = recordingLog();
    const provider = commandProvider(log);
    const urn = commandUrn("shop-host-v1.1.0-api", "command:remote:Command");
    const copyUrn = commandUrn("shop-host-agent", "command:remote:CopyToRemote");
    /** The connection as the SDK sends it: upstream's defaults filled in, the whole object secret. */
    const connection = (extra: Record<string, unknown> = {}) =>
        secret({
            host: sshd.host,
            port: sshd.port,
            user: sshd.user,
            privateKey: sshd.privateKey,
            dialErrorLimit: 0,
            perDialTimeout: 15,
            ...extra,
        });
    const allLogged = () => log.lines.map((l) => l.message).join("\n") + sshd.log();

    before(async () => {
        sshd = await startSshd({ acceptEnv: ["GREETING", "PULUMI_COMMAND_*"] });
        dir = await tempDir("safe-release-remote-");
        atTestEnd(async () => fs.rmSync(dir, { recursive: true, force: true }));
    });
    beforeEach(() => log.lines.splice(0));
    after(() => {
        // The key's body, line by line: no part of it may reach a log.
        for (const line of sshd.privateKey.split("\n").filter((l) => l.length > 20))
            assert.ok(!allLogged().includes(line), "the private key reached a log");
    });

    it("creates: runs `create` over SSH with stdin and the accepted environment; outputs trimmed stdout and stderr", async () => {
        const news = {
            connection: connection(),
            create: 'cat; echo " as $(id -un) with $GREETING"; echo warn >&2',
            stdin: "hello",
            environment: { GREETING: "hi" },
        };
        const result = await provider.create!(urn, news);
        assert.match(result.id, /^shop-host-v1\.1\.0-api[0-9a-f]{8}$/);
        assert.deepStrictEqual(result.outs, { ...news, stdout: "hello as root with hi", stderr: "warn" });
        assert.deepStrictEqual(log.lines.map((l) => l.message).sort(), ["hello as root with hi", "warn"]);
    });

    it("sends `environment` with setenv: a name the server's AcceptEnv does not list never arrives", async () => {
        const { outs } = await provider.create!(urn, {
            connection: connection(),
            create: 'echo "${GREETING:-unset} ${REFUSED:-unset}"',
            environment: { GREETING: "hi", REFUSED: "x" },
        });
        assert.strictEqual(outs.stdout, "hi unset");
    });

    it("updates: runs `update` with the previous stdout as PULUMI_COMMAND_STDOUT, keeps outputs when nothing runs; deletes with `delete`", async () => {
        const olds = { connection: connection(), create: "echo first", stdout: "first", stderr: "" };
        const updated = await provider.update!("id", urn, olds, {
            connection: connection(),
            create: "echo first",
            update: 'echo "was $PULUMI_COMMAND_STDOUT"',
        });
        assert.strictEqual(updated.outs!.stdout, "was first");
        const kept = await provider.update!("id", urn, olds, { connection: connection() });
        assert.deepStrictEqual([kept.outs!.stdout, kept.outs!.stderr], ["first", ""]);
        const marker = path.join(dir, "deleted");
        await provider.delete!("id", urn, {
            connection: connection(),
            delete: `echo "$PULUMI_COMMAND_STDOUT" > ${marker}`,
            stdout: "last",
            stderr: "",
        });
        assert.strictEqual(fs.readFileSync(marker, "utf8"), "last\n");
    });

    it("runs nothing while an input is unknown (a preview), and nothing without `create`", async () => {
        const news = { connection: connection(), create: `touch ${dir}/preview-ran`, environment: { URL: UNKNOWN } };
        assert.deepStrictEqual((await provider.create!(urn, news)).outs, { ...news, stdout: UNKNOWN, stderr: UNKNOWN });
        assert.strictEqual(fs.existsSync(`${dir}/preview-ran`), false);
        assert.deepStrictEqual((await provider.create!(urn, { connection: connection() })).outs, {
            connection: connection(),
            stdout: "",
            stderr: "",
        });
    });

    it("fails a non-zero exit with upstream's message, secrets masked, the log as `logging` says", async () => {
        const command = 'echo "token $TOKEN"; exit 3';
        await assert.rejects(
            provider.create!(urn, {
                connection: connection({}),
                create: command,
                environment: { GREETING: secret("s3cr3t-greeting") },
                logging: "none",
            }),
            { message: `Process exited with status 3: running ${JSON.stringify(command)}:\ntoken \n` },
        );
        await assert.rejects(
            provider.create!(urn, {
                connection: connection(),
                create: 'echo "$GREETING"; exit 1',
                environment: { GREETING: secret("s3cr3t-greeting") },
            }),
            {
                message: 'Process exited with status 1: running "echo \\"$GREETING\\"; exit 1":\n[secret]\n',
            },
        );
        assert.deepStrictEqual(
            log.lines.map((l) => l.message),
            ["[secret]"],
        );
    });

    it("retries a refused dial `dialErrorLimit` times, logging each, then fails as upstream words it", async () => {
        const closed = await freePort();
        await assert.rejects(provider.create!(urn, { connection: connection({ port: closed, dialErrorLimit: 2 }), create: "true" }), {
            message: `after 2 failed attempts: dial tcp 127.0.0.1:${closed}: connect: connection refused`,
        });
        assert.deepStrictEqual(
            log.lines.map((l) => l.message),
            ["Dial 1/2 failed: retrying", "Dial 2/2 failed: retrying"],
        );
    });

    it("fails authentication with a key the server does not know, naming no part of either key", async () => {
        const other = path.join(dir, "other_key");
        await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", other]);
        const otherKey = fs.readFileSync(other, "utf8");
        fs.rmSync(other);
        await assert.rejects(provider.create!(urn, { connection: connection({ privateKey: otherKey }), create: "true" }), (err: Error) => {
            assert.strictEqual(
                err.message,
                "after 0 failed attempts: ssh: handshake failed: ssh: unable to authenticate, attempted methods [none publickey], no supported methods remain",
            );
            return true;
        });
        await assert.rejects(
            provider.create!(urn, { connection: connection({ privateKey: "not a key" }), create: "true" }),
            (err: Error) => {
                assert.match(err.message, /^after 0 failed attempts: ssh: cannot parse private key: /);
                assert.ok(!err.message.includes("not a key"));
                return true;
            },
        );
    });

    it("checks the host key when `hostKey` is given", async () => {
        const { outs } = await provider.create!(urn, { connection: connection({ hostKey: sshd.hostPublicKey }), create: "echo trusted" });
        assert.strictEqual(outs.stdout, "trusted");
        const wrong = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOkW0B3z5Q3m8m8m8m8m8m8m8m8m8m8m8m8m8m8m8m8m";
        await assert.rejects(provider.create!(urn, { connection: connection({ hostKey: wrong }), create: "true" }), {
            message: "after 0 failed attempts: ssh: handshake failed: ssh: host key mismatch",
        });
    });

    it("refuses inputs and connection fields it does not serve, saying what is valid", async () => {
        assert.deepStrictEqual(
            (await provider.check!(urn, {}, { connection: connection({ proxy: { host: "bastion" } }), create: "true", dir: "/tmp" }))
                .failures,
            [
                {
                    property: "dir",
                    reason: "`dir` is not an input of command:remote:Command; valid inputs: addPreviousOutputInEnv, connection, create, delete, environment, logging, stdin, triggers, update",
                },
                {
                    property: "connection.proxy",
                    reason: "`connection.proxy` is not served by the stand-in command provider (the program connects to its hosts directly); remove it, or install the real pulumi-resource-command",
                },
            ],
        );
        assert.deepStrictEqual(checkConnection(undefined), [
            { property: "connection", reason: "`connection` is required: { host, user, privateKey or password, … }" },
        ]);
        assert.deepStrictEqual(checkConnection(secret({ port: "22", privateKey: 1 })), [
            { property: "connection.port", reason: "`connection.port` must be a whole number" },
            { property: "connection.privateKey", reason: "`connection.privateKey` must be a string" },
            { property: "connection.host", reason: "`connection.host` is required" },
        ]);
        const diff = await provider.diff!(
            "id",
            urn,
            { connection: connection(), create: "a", triggers: ["1"], stdout: "x" },
            { connection: connection(), create: "a", triggers: ["2"] },
        );
        assert.deepStrictEqual([diff.changes, diff.replaces], [true, ["triggers"]]);
    });

    it("CopyToRemote: a file into new parent directories, a directory's contents (trailing /), text; copies again only when the hash changes", async () => {
        const local = path.join(dir, "agent");
        fs.mkdirSync(path.join(local, "ops"), { recursive: true });
        fs.writeFileSync(path.join(local, "ops", "hostAgent.js"), "console.log(1)\n");
        fs.writeFileSync(path.join(dir, "artifact.tar.gz"), "bytes");
        const remote = path.join(dir, "remote");
        const file = {
            connection: connection(),
            source: { ...ASSET, path: path.join(dir, "artifact.tar.gz"), hash: "h1" },
            remotePath: `${remote}/artifacts/v1/api.tar.gz`,
        };
        const created = await provider.create!(copyUrn, file);
        assert.match(created.id, /^[0-9a-f]{8}$/);
        assert.deepStrictEqual(created.outs, file);
        assert.strictEqual(fs.readFileSync(`${remote}/artifacts/v1/api.tar.gz`, "utf8"), "bytes");

        const tree: WireMap = {
            connection: connection(),
            source: { ...ARCHIVE, path: `${local}/`, hash: "h2" },
            remotePath: `${remote}/agent`,
        };
        await provider.create!(copyUrn, tree);
        assert.strictEqual(fs.readFileSync(`${remote}/agent/ops/hostAgent.js`, "utf8"), "console.log(1)\n");
        await provider.create!(copyUrn, { ...tree, source: { ...ARCHIVE, path: local, hash: "h2" } });
        assert.strictEqual(fs.existsSync(`${remote}/agent/agent/ops/hostAgent.js`), true);

        fs.writeFileSync(path.join(local, "ops", "hostAgent.js"), "console.log(2)\n");
        await provider.update!("id", copyUrn, tree, { ...tree });
        assert.strictEqual(fs.readFileSync(`${remote}/agent/ops/hostAgent.js`, "utf8"), "console.log(1)\n", "same hash: nothing copied");
        await provider.update!("id", copyUrn, tree, { ...tree, source: { ...ARCHIVE, path: `${local}/`, hash: "h3" } });
        assert.strictEqual(fs.readFileSync(`${remote}/agent/ops/hostAgent.js`, "utf8"), "console.log(2)\n");

        await provider.create!(copyUrn, {
            connection: connection(),
            source: { ...ASSET, text: "k=v\n", hash: "h4" },
            remotePath: `${remote}/env/a.env`,
        });
        assert.strictEqual(fs.readFileSync(`${remote}/env/a.env`, "utf8"), "k=v\n");
        await assert.rejects(
            provider.create!(copyUrn, {
                connection: connection(),
                source: { ...ASSET, text: "x", hash: "h5" },
                remotePath: `${remote}/env`,
            }),
            {
                message: `remote path ${remote}/env is a directory; when using a text asset, remotePath must be a file path`,
            },
        );
        assert.deepStrictEqual(
            (await provider.check!(copyUrn, {}, { connection: connection(), source: { ...ARCHIVE, uri: "https://x" }, remotePath: "/x" }))
                .failures,
            [{ property: "archive", reason: "archive must be a path to a file or directory" }],
        );
    });
});
