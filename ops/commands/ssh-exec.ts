import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { shellQuote } from "../../core/shell";
import { SSH_KEY_ENV } from "../../core/sshExec";
import { OpsCommand, OpsIO, UsageError } from "../command";
import { parseFlags, requireValue } from "../flags";

export { SSH_KEY_ENV };

const usage = `usage: safe-release-ops ssh-exec --host <host> --user <user> [--port 22] [--send-env NAME,…] -- <argv…>

Runs <argv…> on <user>@<host> over SSH with the Debian \`ssh\` client and exits with its exit
code (255: the connection failed). The private key is read from ${SSH_KEY_ENV}, written to a
0600 file in a private temp directory for the client and removed when it exits. --send-env
names variables of this environment to pass on (SSH SendEnv: the server's sshd_config needs
\`AcceptEnv\` for each). Like a \`command.remote.Command\` without \`hostKey\`, the host key is
not checked. This is how the local \`migrate\` runs a remote host's migration command under its
lock, and how writers are stopped and started there.
`;

async function run(args: string[], io: OpsIO): Promise<number> {
    const flags = parseFlags(args, { host: "value", port: "value", user: "value", "send-env": "value" });
    const host = requireValue(flags, "host", "the remote host");
    const user = requireValue(flags, "user", "the remote user");
    const portText = flags.values.get("port") ?? "22";
    const port = Number(portText);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`\`--port\` must be a port 1–65535; got \`${portText}\``);
    const sendEnv = (flags.values.get("send-env") ?? "").split(",").filter((name) => name !== "");
    if (flags.rest.length === 0) throw new UsageError("give the command to run after `--`");
    const key = io.env[SSH_KEY_ENV];
    if (key === undefined || key.trim() === "") {
        throw new UsageError(
            `ssh-exec reads the SSH private key from ${SSH_KEY_ENV}, which is not set (the stack secret \`release:host.privateKey\` names)`,
        );
    }
    const missing = sendEnv.filter((name) => io.env[name] === undefined);
    if (missing.length > 0) throw new UsageError(`\`--send-env\` names ${missing.join(", ")}, which this environment does not have`);

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "safe-release-ssh-"));
    try {
        const keyFile = path.join(dir, "key");
        // OpenSSH refuses a key file without its final newline; a secret set from a file may have lost it.
        fs.writeFileSync(keyFile, key.endsWith("\n") ? key : `${key}\n`, { mode: 0o600 });
        const { [SSH_KEY_ENV]: _key, ...env } = io.env;
        const argv = [
            ...["-F", "/dev/null", "-n", "-T", "-i", keyFile, "-p", String(port), "-l", user],
            ...["-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-o", "ConnectTimeout=15"],
            ...["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"],
            ...sendEnv.flatMap((name) => ["-o", `SendEnv=${name}`]),
            "--",
            host,
            acceptEnvGuard(sendEnv, host) + shellQuote(flags.rest),
        ];
        return await new Promise<number>((resolve) => {
            const child = spawn("ssh", argv, { env, stdio: ["ignore", "pipe", "pipe"] });
            child.stdout.pipe(io.stdout, { end: false });
            child.stderr.pipe(io.stderr, { end: false });
            const forward = (signal: NodeJS.Signals) => child.kill(signal);
            process.once("SIGTERM", forward).once("SIGINT", forward);
            child.once("error", (err: NodeJS.ErrnoException) => {
                io.stderr.write(
                    err.code === "ENOENT"
                        ? "ssh-exec: `ssh` is not installed on this machine: install the Debian package `openssh-client`\n"
                        : `ssh-exec: could not start ssh: ${err.message}\n`,
                );
                resolve(127);
            });
            child.once("close", (code, signal) => {
                process.off("SIGTERM", forward).off("SIGINT", forward);
                if (code === 255) io.stderr.write(`ssh-exec: ssh to ${user}@${host}:${port} failed (exit 255)\n`);
                resolve(code ?? (signal !== null ? 128 + (os.constants.signals[signal] ?? 0) : 1));
            });
        });
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/**
 * sshd drops a variable its `AcceptEnv` does not name, without a word: the
 * command would then run without its secret. The remote shell checks first.
 */
function acceptEnvGuard(names: string[], host: string): string {
    if (names.length === 0) return "";
    const format = `ssh-exec: %s did not reach ${host}: add \`AcceptEnv ${names.join(" ")}\` to its sshd_config and reload sshd\n`;
    return `for v in ${names.join(" ")}; do printenv "$v" >/dev/null || { printf ${shellQuote([format])} "$v" >&2; exit 3; }; done; `;
}

export const command: OpsCommand = {
    name: "ssh-exec",
    summary: "run a command on a remote host over SSH, the key from the environment (a remote host's migration, writers)",
    usage,
    run,
};
