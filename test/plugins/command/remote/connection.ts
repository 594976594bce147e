import { CheckFailure } from "@pulumi/pulumi/provider";
import { Client, ConnectConfig } from "ssh2";
import { isObject, isUnknown, reveal, WireValue } from "../wire";

/**
 * The `connection` input of `command:remote:*` v1.2.1. The SDK fills in
 * upstream's defaults (user root, port 22, dialErrorLimit 10, perDialTimeout 15)
 * and wraps the whole object as a secret. The SSH client is `ssh2` (pure
 * JavaScript): the private key stays in this process's memory, never in a file,
 * an argv or a log line, which the Debian `ssh` client could not promise.
 */
export interface Connection {
    readonly host: string;
    readonly port: number;
    readonly user: string;
    readonly privateKey?: string;
    readonly privateKeyPassword?: string;
    readonly password?: string;
    readonly hostKey?: string;
    /** -1: unlimited. */
    readonly dialErrorLimit: number;
    /** Seconds; 0: no maximum. */
    readonly perDialTimeout: number;
}

export const CONNECTION_FIELDS = [
    "agentSocketPath",
    "dialErrorLimit",
    "host",
    "hostKey",
    "password",
    "perDialTimeout",
    "port",
    "privateKey",
    "privateKeyPassword",
    "proxy",
    "user",
] as const;

/** Upstream's fields that the program never sets: refused rather than silently ignored. */
const NOT_SERVED: Record<string, string> = {
    proxy: "the program connects to its hosts directly",
    agentSocketPath: "the program passes its key as a secret, not through an SSH agent",
};

const STRING_FIELDS = ["host", "user", "password", "privateKey", "privateKeyPassword", "hostKey"];
const NUMBER_FIELDS = ["port", "dialErrorLimit", "perDialTimeout"];

export function checkConnection(wire: WireValue): CheckFailure[] {
    const value = reveal(wire);
    if (value === undefined || value === null)
        return [{ property: "connection", reason: "`connection` is required: { host, user, privateKey or password, … }" }];
    if (isUnknown(value)) return [];
    if (!isObject(value))
        return [{ property: "connection", reason: "`connection` must be an object ({ host, port, user, privateKey, … })" }];
    const failures: CheckFailure[] = [];
    for (const [name, field] of Object.entries(value)) {
        const property = `connection.${name}`;
        if (field === null || field === undefined || isUnknown(field)) continue;
        if (!(CONNECTION_FIELDS as readonly string[]).includes(name)) {
            failures.push({ property, reason: `\`${property}\` is not a connection field; valid fields: ${CONNECTION_FIELDS.join(", ")}` });
        } else if (NOT_SERVED[name] !== undefined) {
            failures.push({
                property,
                reason: `\`${property}\` is not served by the stand-in command provider (${NOT_SERVED[name]}); remove it, or install the real pulumi-resource-command`,
            });
        } else if (STRING_FIELDS.includes(name) && typeof field !== "string") {
            failures.push({ property, reason: `\`${property}\` must be a string` });
        } else if (NUMBER_FIELDS.includes(name) && (typeof field !== "number" || !Number.isInteger(field))) {
            failures.push({ property, reason: `\`${property}\` must be a whole number` });
        }
    }
    if (typeof value.host !== "string" && !isUnknown(value.host))
        failures.push({ property: "connection.host", reason: "`connection.host` is required" });
    return failures;
}

export function decodeConnection(wire: WireValue): Connection {
    const value = reveal(wire);
    // Check refuses such a connection first; this guards a direct call.
    if (!isObject(value) || typeof value.host !== "string")
        throw new Error("`connection` is required: { host, user, privateKey or password, … }");
    const pick = <T>(name: string): T | undefined => (value[name] === null ? undefined : (value[name] as T | undefined));
    return {
        host: value.host,
        port: pick<number>("port") ?? 22,
        user: pick<string>("user") ?? "root",
        ...optional("privateKey", pick<string>("privateKey")),
        ...optional("privateKeyPassword", pick<string>("privateKeyPassword")),
        ...optional("password", pick<string>("password")),
        ...optional("hostKey", pick<string>("hostKey")),
        dialErrorLimit: pick<number>("dialErrorLimit") ?? 10,
        perDialTimeout: pick<number>("perDialTimeout") ?? 15,
    };
}

function optional<K extends string>(name: K, value: string | undefined): Partial<Record<K, string>> {
    return value === undefined ? {} : ({ [name]: value } as Record<K, string>);
}

/** The connection's credentials: masked wherever a message could echo them. */
export function connectionSecrets(connection: Connection): string[] {
    const values = [connection.privateKey, connection.privateKeyPassword, connection.password].filter((v): v is string => v !== undefined);
    // A key is also masked line by line: a library quoting part of it must not leak the rest.
    return [...values, ...values.flatMap((v) => v.split("\n").filter((line) => line.length >= 16))];
}

/**
 * Dials as upstream does: up to `dialErrorLimit` retries after the first
 * failure, each logged as `Dial <n>/<limit> failed: retrying`, then
 * `after <n> failed attempts: <error>`. Errors read as Go's ssh package words them.
 */
export async function dial(connection: Connection, log: (line: string) => void): Promise<Client> {
    const limit = connection.dialErrorLimit;
    let delayMs = 100;
    for (let attempt = 0; ; attempt++) {
        try {
            return await dialOnce(connection);
        } catch (err) {
            const dials = attempt + 1;
            if (limit > -1 && dials > limit) throw new Error(`after ${attempt} failed attempts: ${(err as Error).message}`);
            log(`Dial ${dials}/${limit === -1 ? "inf" : limit} failed: retrying`);
            await new Promise((resolve) => setTimeout(resolve, delayMs));
            delayMs = Math.min(delayMs * 2, 5000);
        }
    }
}

function dialOnce(connection: Connection): Promise<Client> {
    const endpoint = `${connection.host}:${connection.port}`;
    let expectedHostKey: Buffer | undefined;
    if (connection.hostKey !== undefined) {
        const blob = connection.hostKey.trim().split(/\s+/)[1];
        if (blob === undefined || !/^[A-Za-z0-9+/=]+$/.test(blob)) {
            return Promise.reject(new Error("failed to parse host key: ssh: no key found"));
        }
        expectedHostKey = Buffer.from(blob, "base64");
    }
    return new Promise((resolve, reject) => {
        const client = new Client();
        let hostKeyMismatch = false;
        const config: ConnectConfig = {
            host: connection.host,
            port: connection.port,
            username: connection.user,
            // 0 means no maximum upstream; ssh2 needs a number, so a day stands in.
            readyTimeout: connection.perDialTimeout > 0 ? connection.perDialTimeout * 1000 : 86_400_000,
            hostVerifier: (key: Buffer) => {
                if (expectedHostKey === undefined) return true;
                hostKeyMismatch = !key.equals(expectedHostKey);
                return !hostKeyMismatch;
            },
            ...(connection.privateKey !== undefined ? { privateKey: connection.privateKey } : {}),
            ...(connection.privateKeyPassword !== undefined ? { passphrase: connection.privateKeyPassword } : {}),
            ...(connection.password !== undefined ? { password: connection.password, tryKeyboard: true } : {}),
        };
        client.once("ready", () => resolve(client));
        client.once("error", (err: Error & { level?: string; code?: string }) => {
            client.end();
            reject(new Error(goDialError(err, endpoint, hostKeyMismatch)));
        });
        client.on("keyboard-interactive", (_name, _instructions, _lang, prompts, finish) =>
            finish(prompts.map(() => connection.password ?? "")),
        );
        try {
            client.connect(config);
        } catch (err) {
            // ssh2 throws synchronously for a key it cannot parse; its message names the format, never the key.
            reject(new Error(`ssh: ${(err as Error).message.replace(/^Cannot parse privateKey: /, "cannot parse private key: ")}`));
        }
    });
}

function goDialError(err: Error & { level?: string; code?: string }, endpoint: string, hostKeyMismatch: boolean): string {
    if (err.code === "ECONNREFUSED") return `dial tcp ${endpoint}: connect: connection refused`;
    if (err.code === "ENOTFOUND" || err.code === "EAI_AGAIN") return `dial tcp: lookup ${endpoint.split(":")[0]}: no such host`;
    if (hostKeyMismatch) return "ssh: handshake failed: ssh: host key mismatch";
    if (err.level === "client-authentication") {
        return "ssh: handshake failed: ssh: unable to authenticate, attempted methods [none publickey], no supported methods remain";
    }
    if (err.level === "client-timeout") return `dial tcp ${endpoint}: i/o timeout`;
    return `ssh: handshake failed: ${err.message}`;
}
