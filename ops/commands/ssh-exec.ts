import { spawn } from "child_process";
import * as os from "os";
import { shellQuote } from "../../core/shell";
import { SSH_KEY_ENV } from "../../core/sshExec";
import { OpsCommand, OpsIO, UsageError } from "../command";
import { parseFlags } from "../flags";
import { SSH_FLAGS, SSH_MISSING, sshFailure, sshTarget, withSshKey } from "../host/ssh";

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
    const flags = parseFlags(args, { ...SSH_FLAGS, "send-env": "value" });
    const target = sshTarget(flags);
    const sendEnv = (flags.values.get("send-env") ?? "").split(",").filter((name) => name !== "");
    if (flags.rest.length === 0) throw new UsageError("give the command to run after `--`");
    return withSshKey("ssh-exec", target, io.env, async (session) => {
        const missing = sendEnv.filter((name) => io.env[name] === undefined);
        if (missing.length > 0) throw new UsageError(`\`--send-env\` names ${missing.join(", ")}, which this environment does not have`);
        const argv = session.argv(acceptEnvGuard(sendEnv, target.host) + shellQuote(flags.rest), { sendEnv });
        return await new Promise<number>((resolve) => {
            const child = spawn("ssh", argv, { env: session.env, stdio: ["ignore", "pipe", "pipe"] });
            child.stdout.pipe(io.stdout, { end: false });
            child.stderr.pipe(io.stderr, { end: false });
            const forward = (signal: NodeJS.Signals) => child.kill(signal);
            process.once("SIGTERM", forward).once("SIGINT", forward);
            child.once("error", (err: NodeJS.ErrnoException) => {
                io.stderr.write(err.code === "ENOENT" ? `ssh-exec: ${SSH_MISSING}\n` : `ssh-exec: could not start ssh: ${err.message}\n`);
                resolve(127);
            });
            child.once("close", (code, signal) => {
                process.off("SIGTERM", forward).off("SIGINT", forward);
                if (code === 255) io.stderr.write(`ssh-exec: ${sshFailure(target, 255)}\n`);
                resolve(code ?? (signal !== null ? 128 + (os.constants.signals[signal] ?? 0) : 1));
            });
        });
    });
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
