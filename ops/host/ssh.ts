import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { SSH_KEY_ENV } from "../../core/sshExec";
import { UsageError } from "../command";
import { ParsedFlags, requireValue } from "../flags";

/**
 * The Debian `ssh` client as the ops commands that reach a remote host use it
 * (`ssh-exec`, `host-archive`, `host-restore`): the private key from
 * ${SSH_KEY_ENV} in a 0600 file of a private temp directory for the run's
 * length (never an argument, never printed), no config file, agent or prompt.
 */

export interface SshTarget {
    readonly host: string;
    readonly port: number;
    readonly user: string;
}

/** The flags every such command takes: `--host`, `--user`, `--port` (default 22). */
export const SSH_FLAGS = { host: "value", port: "value", user: "value" } as const;

export function sshTarget(flags: ParsedFlags): SshTarget {
    const host = requireValue(flags, "host", "the remote host");
    const user = requireValue(flags, "user", "the remote user");
    const portText = flags.values.get("port") ?? "22";
    const port = Number(portText);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`\`--port\` must be a port 1–65535; got \`${portText}\``);
    return { host, port, user };
}

/** `user@host:port`: how a backup record names the machine its data directory is on. */
export function describeTarget(target: SshTarget): string {
    return `${target.user}@${target.host}:${target.port}`;
}

export interface SshSession {
    /** The `ssh` arguments that run `remoteCommand` (one shell line) on the target. */
    argv(remoteCommand: string, options?: { stdin?: boolean; sendEnv?: readonly string[] }): string[];
    /** The environment for `ssh`: this one without the key. */
    readonly env: NodeJS.ProcessEnv;
}

/** Runs `work` with the key in its file; the file and its directory are removed when `work` settles. */
export async function withSshKey<T>(
    command: string,
    target: SshTarget,
    env: NodeJS.ProcessEnv,
    work: (session: SshSession) => Promise<T>,
): Promise<T> {
    const key = env[SSH_KEY_ENV];
    if (key === undefined || key.trim() === "") {
        throw new UsageError(
            `${command} reads the SSH private key from ${SSH_KEY_ENV}, which is not set (the stack secret \`release:host.privateKey\` names)`,
        );
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "safe-release-ssh-"));
    try {
        const keyFile = path.join(dir, "key");
        // OpenSSH refuses a key file without its final newline; a secret set from a file may have lost it.
        fs.writeFileSync(keyFile, key.endsWith("\n") ? key : `${key}\n`, { mode: 0o600 });
        const { [SSH_KEY_ENV]: _key, ...rest } = env;
        return await work({
            env: rest,
            argv: (remoteCommand, options = {}) => [
                ...(options.stdin === true ? [] : ["-n"]),
                ...["-F", "/dev/null", "-T", "-i", keyFile, "-p", String(target.port), "-l", target.user],
                ...["-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-o", "ConnectTimeout=15"],
                // Like a `command.remote.Command` without `hostKey`: the host key is not checked.
                ...["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"],
                ...(options.sendEnv ?? []).flatMap((name) => ["-o", `SendEnv=${name}`]),
                "--",
                target.host,
                remoteCommand,
            ],
        });
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** The one message for a machine without the client. */
export const SSH_MISSING = "`ssh` is not installed on this machine: install the Debian package `openssh-client`";

/** What an exit code of `ssh` means when it is not the remote command's own. */
export function sshFailure(target: SshTarget, code: number): string | undefined {
    if (code === 255) return `ssh to ${describeTarget(target)} failed (exit 255)`;
    if (code === 127) return `a program the command needs is missing on ${target.host} (exit 127)`;
    return undefined;
}
