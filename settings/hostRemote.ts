import { ConfigError, fail, isObject } from "./checks";
import type { HostSettings } from "./host";

/*
 * A `host` platform on another machine, reached over SSH: the address, the key's
 * secret (never quoted in an error: a pasted key must not reach a message), and
 * what cannot be done from the machine running Pulumi.
 */

/** A machine reached over SSH (`ssh://user@host[:port]`), with the key from a stack secret. */
export interface RemoteHost {
    readonly user: string;
    readonly host: string;
    readonly port: number;
    /** The `release:<key>` secret holding the private key (from `privateKey: config:<key>`). */
    readonly privateKeyConfig: string;
}

const LOOPBACK = /^(127\.|localhost$)/;

/**
 * The smoke tests and the `url` output reach the router from the machine running
 * Pulumi: a router on a remote host's loopback address is out of their reach.
 */
export function checkRouterReach(settings: HostSettings): void {
    const remote = settings.remote;
    if (remote === undefined || !LOOPBACK.test(settings.routerAddress) || LOOPBACK.test(remote.host)) return;
    fail(
        "release:host.routerAddress",
        `an address of ${remote.host} that the machine running Pulumi reaches, or \`0.0.0.0\` (the smoke tests and the \`url\` output call the router from here)`,
        settings.routerAddress,
    );
}

const SSH_ADDRESS = /^ssh:\/\/([a-z_][a-z0-9_.-]*)@([A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::(\d{1,5}))?$/;
const KEY_REFERENCE =
    "`config:<key>`, naming the stack secret that holds the SSH private key (`pulumi config set --secret <key> < <key file>`)";

/** The key's reference is checked without ever quoting it: a pasted key must not reach an error message. */
export function parseRemote(address: unknown, privateKey: unknown): { remote?: RemoteHost } {
    const key = "release:host.address";
    if (address === undefined) {
        if (privateKey !== undefined)
            throw new ConfigError("`release:host.privateKey` applies only with `release:host.address`; set the address or remove the key");
        return {};
    }
    const match = typeof address === "string" ? SSH_ADDRESS.exec(address) : null;
    const port = match?.[3] !== undefined ? Number(match[3]) : 22;
    if (match === null || port < 1 || port > 65535) {
        fail(key, "`ssh://user@host` or `ssh://user@host:port` (a user name, a host name or IPv4 address, a port 1–65535)", address);
    }
    if (privateKey === undefined) throw new ConfigError(`\`release:host.privateKey\` is required with \`${key}\`: ${KEY_REFERENCE}`);
    if (typeof privateKey !== "string" || !/^config:[A-Za-z][A-Za-z0-9_-]*$/.test(privateKey)) {
        throw new ConfigError(
            `\`release:host.privateKey\` must be ${KEY_REFERENCE}, never the key itself; got a value that is not such a reference (not shown)`,
        );
    }
    return { remote: { user: match[1], host: match[2], port, privateKeyConfig: privateKey.slice("config:".length) } };
}

/** The `release:` keys `release:host` refers to: the private key's secret. */
export function hostSecretKeys(host: unknown): string[] {
    const ref = isObject(host) ? host.privateKey : undefined;
    return typeof ref === "string" && /^config:[A-Za-z][A-Za-z0-9_-]*$/.test(ref) ? [ref.slice("config:".length)] : [];
}

/** The key's secret must be set, and set as a secret: a private key never sits in a stack file in plain text. */
export function checkHostKeySecret(
    settings: HostSettings | undefined,
    present: (key: string) => boolean,
    isSecret: (key: string) => boolean,
): void {
    const name = settings?.remote?.privateKeyConfig;
    if (name === undefined) return;
    if (!present(name)) {
        throw new ConfigError(
            `\`release:${name}\` is missing: \`release:host.privateKey\` refers to it; set the SSH private key with \`pulumi config set --secret ${name} < <key file>\``,
        );
    }
    if (!isSecret(name)) {
        throw new ConfigError(
            `\`release:${name}\` must be a secret: \`release:host.privateKey\` refers to it, and a private key is never stored in plain text; ` +
                `set it again with \`pulumi config set --secret ${name} < <key file>\` (and rotate the key, since the stack file held it)`,
        );
    }
}

/**
 * A remote host's data directory is archived there and the archive streamed
 * here (`host-archive`); a restore swaps the directory on the host. A directory
 * that holds the host's root would carry the agent, the release directories and
 * the service manager's socket with it, and its restore would move them away
 * under every running program (the agent that unpacks it among them).
 */
export function checkRemoteBackup(settings: HostSettings, backup: unknown): void {
    const directory = isObject(backup) ? backup.directory : undefined;
    if (settings.remote === undefined || typeof directory !== "string") return;
    const trimmed = directory.replace(/\/+$/, "");
    if (trimmed === "" || settings.root === trimmed || settings.root.startsWith(`${trimmed}/`)) {
        fail(
            "release:backup.directory",
            `a data directory of ${settings.remote.host} that is neither \`release:host.root\` (${settings.root}) nor above it ` +
                "(its archive and restore would take the agent, the releases and the service manager's socket with them)",
            directory,
        );
    }
}
