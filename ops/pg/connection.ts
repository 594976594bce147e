import * as path from "path";
import { Client, ClientConfig } from "pg";
import { UsageError } from "../command";

/** Where a database lives, from `DATABASE_URL`; the password never leaves this object except as PGPASSWORD. */
export interface PgTarget {
    readonly host?: string;
    readonly port?: number;
    readonly user?: string;
    readonly password?: string;
    readonly database: string;
    readonly sslmode?: string;
}

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
    const database = decodeURIComponent(parsed.pathname.replace(/^\//, ""));
    if (database === "") {
        throw new UsageError(`\`${variable}\` must name a database (postgresql://host/<database>); got ${maskUrl(url)}`);
    }
    return {
        // `?host=/var/run/postgresql` (a Unix socket directory) as libpq accepts it.
        host:
            parsed.hostname === ""
                ? (parsed.searchParams.get("host") ?? undefined)
                : decodeURIComponent(parsed.hostname.replace(/^\[|\]$/g, "")),
        port: parsed.port === "" ? undefined : Number(parsed.port),
        user: parsed.username === "" ? undefined : decodeURIComponent(parsed.username),
        password: parsed.password === "" ? undefined : decodeURIComponent(parsed.password),
        database,
        sslmode: parsed.searchParams.get("sslmode") ?? undefined,
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
    for (const key of ["DATABASE_URL", "PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "PGSSLMODE", "PGSERVICE"]) {
        delete env[key];
    }
    if (target.host !== undefined) env.PGHOST = target.host;
    if (target.port !== undefined) env.PGPORT = String(target.port);
    if (target.user !== undefined) env.PGUSER = target.user;
    if (target.password !== undefined) env.PGPASSWORD = target.password;
    if (target.sslmode !== undefined) env.PGSSLMODE = target.sslmode;
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
    if (target.sslmode !== undefined && target.sslmode !== "disable") {
        config.ssl = { rejectUnauthorized: target.sslmode === "verify-full" || target.sslmode === "verify-ca" };
    }
    const client = new Client(config);
    await client.connect();
    return client;
}

/** A quoted identifier; `schema.table` becomes `"schema"."table"`. */
export function quoteIdent(name: string): string {
    return name
        .split(".")
        .map((part) => `"${part.replace(/"/g, '""')}"`)
        .join(".");
}
