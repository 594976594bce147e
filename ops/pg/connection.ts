import * as fs from "fs";
import * as path from "path";
import * as tls from "tls";
import { Client, ClientConfig } from "pg";
import { parse as parseConnectionString } from "pg-connection-string";
import { UsageError } from "../command";

/** Where a database lives, from `DATABASE_URL`; the password never leaves this object except as PGPASSWORD. */
export interface PgTarget {
    readonly host?: string;
    readonly port?: number;
    readonly user?: string;
    readonly password?: string;
    readonly database: string;
    readonly sslmode?: string;
    /** `sslrootcert`, `sslcert`, `sslkey`: files, handed to pg_dump as PGSSLROOTCERT… and read for the driver. */
    readonly sslFiles?: { readonly sslrootcert?: string; readonly sslcert?: string; readonly sslkey?: string };
    /** The driver's TLS settings with libpq's meaning of `sslmode` (pg-connection-string's libpq mode). */
    readonly clientSsl?: ClientConfig["ssl"];
}

const SSL_MODES = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"];
const SSL_FILES = ["sslrootcert", "sslcert", "sslkey"] as const;

/** `variable` names where the URL came from, for the error messages. */
export function parseDatabaseUrl(url: string | undefined, variable = "DATABASE_URL"): PgTarget {
    if (url === undefined || url === "") {
        throw new UsageError(`\`${variable}\` must be set to a postgresql:// connection string; got nothing`);
    }
    let parsed: URL;
    try {
        parsed = new URL(url);
    } catch {
        throw new UsageError(
            `\`${variable}\` must be a postgresql:// connection string; got a value that is not a URL (not shown: it may hold a password)`,
        );
    }
    if (parsed.protocol !== "postgresql:" && parsed.protocol !== "postgres:") {
        throw new UsageError(`\`${variable}\` must start with postgresql:// or postgres://; got ${parsed.protocol}//…`);
    }
    const sslmode = parsed.searchParams.get("sslmode") ?? undefined;
    if (sslmode !== undefined && !SSL_MODES.includes(sslmode)) {
        throw new UsageError(`\`${variable}\`'s sslmode must be one of ${SSL_MODES.join(", ")}; got ${JSON.stringify(sslmode)}`);
    }
    const sslFiles = Object.fromEntries(
        SSL_FILES.flatMap((key) => (parsed.searchParams.has(key) ? [[key, parsed.searchParams.get(key)!]] : [])),
    );
    for (const [key, file] of Object.entries(sslFiles)) {
        if (!fs.existsSync(file)) throw new UsageError(`\`${variable}\`'s ${key} names ${file}, which does not exist`);
    }
    if (sslmode === "verify-ca" && sslFiles.sslrootcert === undefined) {
        throw new UsageError(
            `\`${variable}\` has sslmode=verify-ca without sslrootcert: name the CA bundle that signs the server's certificate`,
        );
    }
    const options = parseConnectionString(url, { useLibpqCompat: true });
    if (!options.database) {
        throw new UsageError(`\`${variable}\` must name a database (postgresql://host/<database>); got ${maskUrl(url)}`);
    }
    return {
        // `?host=/var/run/postgresql` or a percent-encoded socket directory as the host, as libpq accepts them.
        host: options.host || undefined,
        port: options.port ? Number(options.port) : undefined,
        user: options.user || undefined,
        password: options.password || undefined,
        database: options.database,
        sslmode,
        ...(Object.keys(sslFiles).length > 0 ? { sslFiles } : {}),
        ...(sslmode !== undefined ? { clientSsl: sslmode === "allow" ? false : (options.ssl as ClientConfig["ssl"]) } : {}),
    };
}

/**
 * `postgresql://user:***@host/db`: safe to print. Masks up to the last `@`, so an
 * unencoded `@` or `/` inside a password cannot leak its tail (over-masking is harmless).
 */
export function maskUrl(url: string): string {
    return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/]*):.*@/i, "$1:***@");
}

export function describeTarget(target: PgTarget): string {
    const credentials = target.user ? `${target.user}${target.password ? ":***" : ""}@` : "";
    return `postgresql://${credentials}${target.host ?? ""}${target.port ? `:${target.port}` : ""}/${target.database}`;
}

/** Removes the password from text a server or a program printed (it may quote its input). */
export function redactor(target: PgTarget): (text: string) => string {
    const secret = target.password;
    if (!secret) return (text) => text;
    return (text) => text.split(secret).join("***").split(encodeURIComponent(secret)).join("***");
}

export function withDatabase(target: PgTarget, database: string): PgTarget {
    return { ...target, database };
}

/** libpq environment for pg_dump / pg_restore: the password travels as PGPASSWORD, never as an argument. */
export function pgEnv(target: PgTarget, base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...base };
    for (const key of [
        "DATABASE_URL",
        "PGHOST",
        "PGPORT",
        "PGUSER",
        "PGPASSWORD",
        "PGDATABASE",
        "PGSSLMODE",
        "PGSSLROOTCERT",
        "PGSSLCERT",
        "PGSSLKEY",
        "PGSERVICE",
    ]) {
        delete env[key];
    }
    if (target.host !== undefined) env.PGHOST = target.host;
    if (target.port !== undefined) env.PGPORT = String(target.port);
    if (target.user !== undefined) env.PGUSER = target.user;
    if (target.password !== undefined) env.PGPASSWORD = target.password;
    if (target.sslmode !== undefined) env.PGSSLMODE = target.sslmode;
    for (const [key, file] of Object.entries(target.sslFiles ?? {})) env[`PG${key.toUpperCase()}`] = file;
    env.PGDATABASE = target.database;
    return env;
}

/** `SAFE_RELEASE_PG_BIN/<name>` when set (to match the server's major version), else `<name>` from PATH. */
export function pgBinary(name: "pg_dump" | "pg_restore", env: NodeJS.ProcessEnv): string {
    const dir = env.SAFE_RELEASE_PG_BIN;
    return dir ? path.join(dir, name) : name;
}

export async function connect(target: PgTarget): Promise<Client> {
    const config: ClientConfig = {
        host: target.host,
        port: target.port,
        user: target.user,
        password: target.password,
        database: target.database,
        application_name: "safe-release-ops",
    };
    if (target.clientSsl !== undefined) config.ssl = withHostCheck(target);
    const client = new Client(config);
    await client.connect();
    return client;
}

/**
 * verify-full checks the certificate against the host the URL names. node-postgres
 * sends no server name for an IP address, and Node then checks the certificate
 * against `localhost`: a certificate for localhost would pass for 127.0.0.1 where
 * libpq (pg_dump) refuses it. So the check is made against the URL's host here.
 */
function withHostCheck(target: PgTarget): ClientConfig["ssl"] {
    const ssl = target.clientSsl;
    if (target.sslmode !== "verify-full" || typeof ssl !== "object" || target.host === undefined) return ssl;
    const host = target.host;
    return { ...ssl, checkServerIdentity: (_servername: string, cert: tls.PeerCertificate) => tls.checkServerIdentity(host, cert) };
}

/** A quoted identifier; `schema.table` becomes `"schema"."table"`. */
export function quoteIdent(name: string): string {
    return name
        .split(".")
        .map((part) => `"${part.replace(/"/g, '""')}"`)
        .join(".");
}
