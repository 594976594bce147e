import * as tls from "tls";
import { Client, ClientBase, ClientConfig } from "pg";
import { parse as parseConnectionString } from "pg-connection-string";
import { isReleaseTag, newestTag } from "./releaseTags";

/**
 * The schema head as the migration ledger records it: the truth of what ran on the
 * database, where the stack outputs only cache what the last successful update saw.
 * A read only: it opens no lock and writes nothing, so a preview may run it anywhere.
 */

/** safe-release's record of every migration run (created and written by `safe-release-ops migrate`). */
export const MIGRATION_LEDGER = "safe_release_migrations";

/** How long a preview waits for the database to accept a connection before it plans on the stack outputs. */
export const LEDGER_CONNECT_TIMEOUT_MS = 3000;
/** How long the two reads of the ledger may take once connected (a lock held by a running migration, a slow server). */
export const LEDGER_QUERY_TIMEOUT_MS = 5000;

export type LedgerHead =
    /** The table does not exist: nothing ever migrated in this database (or the URL names another one). */
    | { readonly state: "no-ledger" }
    /** The table exists but holds no standing succeeded run of the app. */
    | { readonly state: "no-run" }
    | { readonly state: "head"; readonly version: string };

/** A ledger row as far as the head is concerned; `restored_by` is absent in a ledger older than restore marks. */
export interface LedgerHeadRow {
    readonly version: string;
    readonly status: string;
    readonly restored_by?: string | null;
}

/**
 * The newest version with a succeeded run that no restore undid. Rows of another
 * spelling than a release tag can only come from a hand edit, and cannot be ordered.
 */
export function headOfRows(rows: readonly LedgerHeadRow[]): string | undefined {
    const standing = rows.filter((r) => r.status === "succeeded" && (r.restored_by ?? null) === null && isReleaseTag(r.version));
    return newestTag(standing.map((r) => r.version));
}

/** The app's head on an open connection. */
export async function queryLedgerHead(client: ClientBase, app: string): Promise<LedgerHead> {
    const { rows: present } = await client.query("SELECT to_regclass($1) IS NOT NULL AS present", [MIGRATION_LEDGER]);
    if (present[0]?.present !== true) return { state: "no-ledger" };
    // `*`, so a ledger that predates `restored_by` reads too (every row of it stands).
    const { rows } = await client.query(`SELECT * FROM ${MIGRATION_LEDGER} WHERE app = $1 AND status = 'succeeded'`, [app]);
    const version = headOfRows(rows as LedgerHeadRow[]);
    return version === undefined ? { state: "no-run" } : { state: "head", version };
}

/** Why the ledger could not be read; `where` and `cause` never hold the password. */
export class LedgerReadError extends Error {
    constructor(
        /** `unreachable`: no answer (refused, DNS, timeout); `url`: not a usable URL; `failed`: the server answered with an error. */
        public readonly kind: "unreachable" | "url" | "failed",
        public readonly where: string,
        public readonly cause: string,
    ) {
        super(`the migration ledger at ${where} could not be read (${cause})`);
    }
}

/** A connection to the ledger's database, and how messages name it. */
export interface LedgerConnection {
    readonly config: ClientConfig;
    /** `host:port/database`: no user, no password. */
    readonly where: string;
    /** Removes the password from text a server or the driver produced. */
    readonly redact: (text: string) => string;
}

/**
 * Parses a `postgresql://` URL with libpq's meaning of `sslmode` (as the ops programs
 * do), so the preview connects as the migration will. Throws `LedgerReadError("url")`.
 */
export function ledgerConnection(url: string, connectTimeoutMs = LEDGER_CONNECT_TIMEOUT_MS): LedgerConnection {
    const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
    if (scheme !== "postgresql" && scheme !== "postgres") {
        throw new LedgerReadError("url", "`release:databaseUrl`", "it is not a postgresql:// connection string; value not shown");
    }
    let options: ReturnType<typeof parseConnectionString>;
    try {
        options = parseConnectionString(url, { useLibpqCompat: true });
    } catch (err) {
        throw new LedgerReadError("url", "`release:databaseUrl`", redactor(passwordOf(url))((err as Error).message));
    }
    const host = options.host || "localhost";
    const port = options.port ? Number(options.port) : 5432;
    const database = options.database || options.user || "postgres";
    const sslmode = typeof options.sslmode === "string" ? options.sslmode : undefined;
    const config: ClientConfig = {
        host,
        port,
        user: options.user || undefined,
        password: options.password || undefined,
        database,
        application_name: "safe-release-preview",
        connectionTimeoutMillis: connectTimeoutMs,
        query_timeout: LEDGER_QUERY_TIMEOUT_MS,
    };
    if (sslmode !== undefined)
        config.ssl = withHostCheck(sslmode === "allow" ? false : (options.ssl as ClientConfig["ssl"]), sslmode, host);
    return { config, where: `${host}:${port}/${database}`, redact: redactor(options.password || undefined) };
}

/**
 * Reads the app's head from the database `url` names, bounded: at most
 * `connectTimeoutMs` to connect, then `LEDGER_QUERY_TIMEOUT_MS` for the reads.
 */
export async function readLedgerHead(url: string, app: string, connectTimeoutMs = LEDGER_CONNECT_TIMEOUT_MS): Promise<LedgerHead> {
    const target = ledgerConnection(url, connectTimeoutMs);
    const client = new Client(target.config);
    // A server that drops the connection later raises 'error' on the client: without a listener that would crash the program.
    client.on("error", () => undefined);
    try {
        await client.connect();
    } catch (err) {
        void client.end().catch(() => undefined);
        throw new LedgerReadError(
            isUnreachable(err) ? "unreachable" : "failed",
            target.where,
            describeCause(err, target, connectTimeoutMs),
        );
    }
    try {
        await client.query("BEGIN READ ONLY");
        // The server gives up too, rather than wait on a migration's lock after the client has left.
        await client.query(`SET LOCAL statement_timeout = ${LEDGER_QUERY_TIMEOUT_MS}`);
        return await queryLedgerHead(client, app);
    } catch (err) {
        throw new LedgerReadError(
            isUnreachable(err) ? "unreachable" : "failed",
            target.where,
            describeCause(err, target, connectTimeoutMs),
        );
    } finally {
        await client.end().catch(() => undefined);
    }
}

const UNREACHABLE_CODES = ["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ECONNRESET"];

function isUnreachable(err: unknown): boolean {
    const { code, message } = err as { code?: string; message?: string };
    return (code !== undefined && UNREACHABLE_CODES.includes(code)) || isTimeout(message) || message === "Query read timeout";
}

function isTimeout(message: string | undefined): boolean {
    return message === "timeout expired" || message === "Connection terminated due to connection timeout";
}

function describeCause(err: unknown, target: LedgerConnection, connectTimeoutMs: number): string {
    const { code, message = String(err) } = err as { code?: string; message?: string };
    if (code === "ECONNREFUSED") return "connection refused";
    if (code === "ENOTFOUND" || code === "EAI_AGAIN") return `host ${String(target.config.host)} not found`;
    if (isTimeout(message) || code === "ETIMEDOUT") return `no answer within ${connectTimeoutMs / 1000} s`;
    if (message === "Query read timeout") return `the ledger read took longer than ${LEDGER_QUERY_TIMEOUT_MS / 1000} s`;
    return target.redact(message);
}

function passwordOf(url: string): string | undefined {
    const match = /^[a-z][a-z0-9+.-]*:\/\/[^:@/]*:(.*)@/i.exec(url);
    if (match === null) return undefined;
    try {
        return decodeURIComponent(match[1]);
    } catch {
        return match[1];
    }
}

/** Over-masking is harmless; a password in a message is not. */
function redactor(password: string | undefined): (text: string) => string {
    if (!password) return (text) => text;
    return (text) => text.split(password).join("***").split(encodeURIComponent(password)).join("***");
}

/**
 * verify-full checks the certificate against the URL's host: node-postgres sends no
 * server name for an IP address, and Node would then check against `localhost`.
 */
function withHostCheck(ssl: ClientConfig["ssl"], sslmode: string, host: string): ClientConfig["ssl"] {
    if (sslmode !== "verify-full" || typeof ssl !== "object") return ssl;
    return { ...ssl, checkServerIdentity: (_name: string, cert: tls.PeerCertificate) => tls.checkServerIdentity(host, cert) };
}
