import { Client } from "pg";
import { connect, describeTarget, PgTarget, withDatabase } from "../pg/connection";
import { createDatabaseLike, databaseStamp, derivedDatabaseName, dropDatabase, maintenanceTarget } from "../pg/restore";

/** `shop_rehearse_20261202061500`, the live name cut so the whole fits PostgreSQL's 63-byte identifiers. */
export function scratchDatabaseName(live: string, role: "rehearse" | "drift", now: Date): string {
    return derivedDatabaseName(live, role, databaseStamp(now));
}

export { urlNamingDatabase } from "../../core/rehearsalDatabase";

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
    /** Set for a fixed name: a database of that name is dropped before it is made again, and this told whether one was there. */
    onLeftover: ((existed: boolean) => void) | undefined,
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
        if (onLeftover !== undefined) {
            const { rowCount } = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
            if (rowCount !== 0) await dropDatabase(admin, name);
            onLeftover(rowCount !== 0);
        }
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
