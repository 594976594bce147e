import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { spawn } from "child_process";
import { atTestEnd, freePort, run, tempDir } from "../../support/processes";

/** A private OpenSSH server on loopback, with throwaway host and user keys. */
export interface Sshd {
    readonly host: string;
    readonly port: number;
    readonly user: string;
    /** The user key's private half (OpenSSH format): a secret for the program under test. */
    readonly privateKey: string;
    /** The server's host key as `known_hosts` / `authorized_keys` prints it (`ssh-ed25519 AAAA…`). */
    readonly hostPublicKey: string;
    readonly dir: string;
    /** What sshd logged so far (`-e`: to stderr, kept here). */
    log(): string;
    stop(): Promise<void>;
}

export interface SshdOptions {
    /** Variable names the server accepts from a client's `setenv` (`AcceptEnv`). */
    readonly acceptEnv?: readonly string[];
}

const SSHD = "/usr/sbin/sshd";

/**
 * Starts `/usr/sbin/sshd -D -e -f <dir>/sshd_config` on a free loopback port:
 * its own host key, authorized keys and pid file in a temp dir, root login by
 * key only (the tests run as root and the "remote" is this machine, whose
 * supervisord and release root root owns). Stopped at the end of the run, also
 * when a test fails.
 */
export async function startSshd(options: SshdOptions = {}): Promise<Sshd> {
    if (!fs.existsSync(SSHD)) {
        throw new Error(`${SSHD} is missing; install the Debian package: apt-get install -y --no-install-recommends openssh-server`);
    }
    const dir = await tempDir("safe-release-sshd-");
    const hostKey = path.join(dir, "host_ed25519");
    const userKey = path.join(dir, "user_ed25519");
    await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "safe-release-test-host", "-f", hostKey]);
    await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "safe-release-test-user", "-f", userKey]);
    fs.copyFileSync(`${userKey}.pub`, path.join(dir, "authorized_keys"));
    const privateKey = fs.readFileSync(userKey, "utf8");
    // The private half lives only in memory from here on: the program under test gets it as a secret.
    fs.rmSync(userKey);
    // sshd refuses to start without its privilege-separation directory.
    fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
    const port = await freePort();
    const config = [
        `Port ${port}`,
        "ListenAddress 127.0.0.1",
        `HostKey ${hostKey}`,
        `PidFile ${dir}/sshd.pid`,
        `AuthorizedKeysFile ${dir}/authorized_keys`,
        "StrictModes no",
        "PermitRootLogin prohibit-password",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "LogLevel VERBOSE",
        "Subsystem sftp internal-sftp",
        ...(options.acceptEnv !== undefined && options.acceptEnv.length > 0 ? [`AcceptEnv ${options.acceptEnv.join(" ")}`] : []),
        "",
    ].join("\n");
    fs.writeFileSync(path.join(dir, "sshd_config"), config);
    const child = spawn(SSHD, ["-D", "-e", "-f", path.join(dir, "sshd_config")], { stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    child.stderr!.on("data", (chunk) => (log += chunk));
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const stop = async () => {
        if (child.exitCode === null && child.signalCode === null) {
            child.kill("SIGTERM");
            const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
            await exited;
            clearTimeout(timer);
        }
        fs.rmSync(dir, { recursive: true, force: true });
    };
    atTestEnd(stop);
    await waitForPort(port, 20000, () => (child.exitCode !== null ? `sshd exited ${child.exitCode}: ${log}` : undefined));
    return {
        host: "127.0.0.1",
        port,
        user: "root",
        privateKey,
        hostPublicKey: fs.readFileSync(`${hostKey}.pub`, "utf8").split(" ").slice(0, 2).join(" "),
        dir,
        log: () => log,
        stop,
    };
}

/** Waits (bounded) until the port accepts a connection; `dead` says why it never will. */
async function waitForPort(port: number, timeoutMs: number, dead: () => string | undefined): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const problem = dead();
        if (problem !== undefined) throw new Error(problem);
        const open = await new Promise<boolean>((resolve) => {
            const socket = net.connect(port, "127.0.0.1");
            socket.once("connect", () => (socket.destroy(), resolve(true)));
            socket.once("error", () => resolve(false));
        });
        if (open) return;
        if (Date.now() > deadline) throw new Error(`sshd did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
}
