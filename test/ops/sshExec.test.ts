import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import { SSH_KEY_ENV, command } from "../../ops/commands/ssh-exec";
import { Sshd, startSshd } from "../e2e/support/sshd";
import { runCommand } from "../support/opsRun";

/** Runs `safe-release-ops ssh-exec` in this process, its output kept. */
const sshExec = (args: string[], env: NodeJS.ProcessEnv) => runCommand(command, args, env);

const keyDirs = () => fs.readdirSync(os.tmpdir()).filter((name) => name.startsWith("safe-release-ssh-"));

describe("safe-release-ops ssh-exec against a real sshd (ops/commands/ssh-exec.ts)", function () {
    this.timeout(60000);
    let sshd: Sshd;
    let target: string[];
    let env: NodeJS.ProcessEnv;

    before(async () => {
        if (!fs.existsSync("/usr/bin/ssh"))
            throw new Error("/usr/bin/ssh is missing: apt-get install -y --no-install-recommends openssh-client");
        sshd = await startSshd({ acceptEnv: ["MIGRATE_TOKEN"] });
        target = ["--host", sshd.host, "--port", String(sshd.port), "--user", sshd.user];
        env = { PATH: process.env.PATH, [SSH_KEY_ENV]: sshd.privateKey.trimEnd() };
    });
    after(() => sshd?.stop());

    it("runs the argv word for word on the remote and exits with its code", async () => {
        const before = keyDirs();
        const printed = await sshExec([...target, "--", "printf", "%s|", "two words", "it's", "$HOME"], env);
        assert.deepEqual(printed, { code: 0, stdout: "two words|it's|$HOME|", stderr: "" });
        const failed = await sshExec([...target, "--", "sh", "-c", "echo migrating >&2; exit 7"], env);
        assert.deepEqual(failed, { code: 7, stdout: "", stderr: "migrating\n" });
        assert.deepEqual(keyDirs(), before, "the key's temp directory is removed");
    });

    it("passes the named variables (AcceptEnv on the server), never the key", async () => {
        const sent = await sshExec([...target, "--send-env", "MIGRATE_TOKEN", "--", "printenv", "MIGRATE_TOKEN"], {
            ...env,
            MIGRATE_TOKEN: "t0ken",
        });
        assert.deepEqual(sent, { code: 0, stdout: "t0ken\n", stderr: "" });
        const key = await sshExec([...target, "--", "sh", "-c", `printenv ${SSH_KEY_ENV} || echo absent`], env);
        assert.deepEqual(key, { code: 0, stdout: "absent\n", stderr: "" });
    });

    it("fails naming the sshd_config line when the server drops a variable to send", async () => {
        const strict = await startSshd();
        try {
            const result = await sshExec(
                [
                    "--host",
                    strict.host,
                    "--port",
                    String(strict.port),
                    "--user",
                    strict.user,
                    "--send-env",
                    "MIGRATE_TOKEN",
                    "--",
                    "echo",
                    "ran",
                ],
                { PATH: process.env.PATH, [SSH_KEY_ENV]: strict.privateKey, MIGRATE_TOKEN: "t0ken" },
            );
            assert.deepEqual(result, {
                code: 3,
                stdout: "",
                stderr: "ssh-exec: MIGRATE_TOKEN did not reach 127.0.0.1: add `AcceptEnv MIGRATE_TOKEN` to its sshd_config and reload sshd\n",
            });
        } finally {
            await strict.stop();
        }
    });

    it("says which host it could not reach, with ssh's exit code 255, and shows no key", async () => {
        const result = await sshExec(["--host", "127.0.0.1", "--port", String(sshd.port), "--user", "nosuchuser", "--", "true"], env);
        assert.equal(result.code, 255);
        assert.match(result.stderr, new RegExp(`ssh-exec: ssh to nosuchuser@127\\.0\\.0\\.1:${sshd.port} failed \\(exit 255\\)\\n$`));
        for (const line of sshd.privateKey.split("\n").filter((l) => l.length > 20)) assert.ok(!result.stderr.includes(line));
    });

    it("refuses to run without the key, or with a variable to send that it does not have", async () => {
        await assert.rejects(sshExec([...target, "--", "true"], { PATH: process.env.PATH }), {
            message: `ssh-exec reads the SSH private key from ${SSH_KEY_ENV}, which is not set (the stack secret \`release:host.privateKey\` names)`,
        });
        await assert.rejects(sshExec([...target, "--send-env", "MIGRATE_TOKEN", "--", "true"], env), {
            message: "`--send-env` names MIGRATE_TOKEN, which this environment does not have",
        });
    });
});
