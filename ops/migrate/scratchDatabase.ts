import { Client } from "pg";
import { connect, describeTarget, PgTarget, withDatabase } from "../pg/connection";
import { createDatabaseLike, databaseStamp, derivedDatabaseName, dropDatabase, maintenanceTarget } from "../pg/restore";

/** `shop_rehearse_20261202061500`, the live name cut so the whole fits PostgreSQL's 63-byte identifiers. */
export function scratchDatabaseName(live: string, role: "rehearse" | "drift", now: Date): string {
    return derivedDatabaseName(live, role, databaseStamp(now));
}

/** The same connection string naming another database; everything else (credentials, host, options) kept. */
export function urlNamingDatabase(url: string, database: string): string {
    const parsed = new URL(url);
    parsed.pathname = `/${encodeURIComponent(database)}`;
    return parsed.toString();
}

export interface ScratchDatabase {
    readonly name: string;
    readonly target: PgTarget;
}

/**
 * Creates an empty database beside `live` (its owner, encoding and collation), hands it to
 * `work`, and drops it afterwards whatever happened: a scratch copy of production data
 * must not outlive the check it was made for. `onDropped` says so (or why it could not).
 */
export async function withScratchDatabase<T>(
    live: PgTarget,
    name: string,
    env: NodeJS.ProcessEnv,
    onDropped: (error?: Error) => void,
    work: (scratch: ScratchDatabase) => Promise<T>,
): Promise<T> {
    const maintenance = maintenanceTarget(live, env);
    const admin: Client = await connect(maintenance).catch((err: Error) => {
        throw new Error(
            `could not connect to ${describeTarget(maintenance)}, where scratch databases are created ` +
                `(\`SAFE_RELEASE_PG_MAINTENANCE_DB\` names another): ${err.message}`,
        );
    });
    try {
        await createDatabaseLike(admin, live.database, name);
        try {
            return await work({ name, target: withDatabase(live, name) });
        } finally {
            try {
                await dropDatabase(admin, name);
                onDropped();
            } catch (err) {
                onDropped(err as Error);
            }
        }
    } finally {
        await admin.end().catch(() => undefined);
    }
}
