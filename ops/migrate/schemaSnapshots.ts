import { ClientBase } from "pg";
import { MigrationKey, readToolLedger, tableExists } from "../pg/ledgers";
import { normalizeSchema, readSchema, SchemaShape } from "../pg/schema";
import { standingRows } from "./plan";

/**
 * The schema each successful migration left, beside the ledger: `drift` compares the live
 * database with the one of the schema head. Kept per ledger key, so a restore's marks on
 * the ledger also decide which snapshot stands, and a restore of the database brings the
 * snapshots back as of the backup together with the ledger.
 */
export const SCHEMA_SNAPSHOTS = "safe_release_schema";

/** Any fixed number: it only serializes concurrent CREATE TABLE IF NOT EXISTS across apps. */
const CREATE_SNAPSHOTS_LOCK = 0x5afe_5c4;

async function ensureSnapshotTable(client: ClientBase): Promise<void> {
    await client.query("BEGIN");
    try {
        await client.query("SELECT pg_advisory_xact_lock($1)", [CREATE_SNAPSHOTS_LOCK]);
        await client.query(`CREATE TABLE IF NOT EXISTS ${SCHEMA_SNAPSHOTS} (
            app text NOT NULL,
            version text NOT NULL,
            image_digest text NOT NULL,
            recorded_at timestamptz NOT NULL DEFAULT now(),
            schema jsonb NOT NULL,
            PRIMARY KEY (app, version, image_digest)
        )`);
        await client.query("COMMIT");
    } catch (err) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw err;
    }
}

/** Reads the schema through `client` and keeps it as `key`'s, replacing an earlier run's of the same key. */
export async function recordSchemaSnapshot(client: ClientBase, key: MigrationKey): Promise<void> {
    const schema = await readSchema(client);
    await ensureSnapshotTable(client);
    await client.query(
        `INSERT INTO ${SCHEMA_SNAPSHOTS} (app, version, image_digest, schema) VALUES ($1, $2, $3, $4::jsonb)
         ON CONFLICT (app, version, image_digest) DO UPDATE SET schema = EXCLUDED.schema, recorded_at = now()`,
        [key.app, key.version, key.digest, JSON.stringify(schema)],
    );
}

export interface HeadSnapshot extends MigrationKey {
    readonly recordedAt: string;
    readonly schema: SchemaShape;
}

export type HeadLookup =
    | { readonly found: true; readonly snapshot: HeadSnapshot }
    /** `why`: one sentence on why there is no reference, for the message that asks for `--migrations-dir`. */
    | { readonly found: false; readonly why: string };

/**
 * The snapshot of the app's schema head: the newest standing succeeded run in the ledger.
 * An older snapshot would not do: the head's migration changed the schema after it.
 */
export async function readHeadSnapshot(client: ClientBase, app: string): Promise<HeadLookup> {
    const succeeded = standingRows(await readToolLedger(client, app)).filter((r) => r.status === "succeeded");
    const head = succeeded.sort((a, b) => (a.finishedAt ?? a.startedAt).getTime() - (b.finishedAt ?? b.startedAt).getTime()).at(-1);
    if (head === undefined) return { found: false, why: `\`safe_release_migrations\` records no succeeded migration of \`${app}\`` };
    const what = `the schema head ${head.version} (${head.digest})`;
    if (!(await tableExists(client, SCHEMA_SNAPSHOTS))) {
        return { found: false, why: `no schema was recorded after the migration of ${what} (no \`${SCHEMA_SNAPSHOTS}\` table)` };
    }
    const { rows } = await client.query(
        `SELECT recorded_at, schema FROM ${SCHEMA_SNAPSHOTS} WHERE app = $1 AND version = $2 AND image_digest = $3 AND recorded_at >= $4`,
        [app, head.version, head.digest, head.startedAt],
    );
    if (rows.length === 0) return { found: false, why: `no schema was recorded after the migration of ${what}` };
    return {
        found: true,
        snapshot: {
            app,
            version: head.version,
            digest: head.digest,
            recordedAt: (rows[0].recorded_at as Date).toISOString(),
            schema: normalizeSchema(rows[0].schema as SchemaShape),
        },
    };
}
