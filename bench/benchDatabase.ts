import { TestPostgres } from "../test/support/postgres";

/** Rows of `events` that make about 1 GiB with the other tables. */
const EVENTS_PER_GB = 7_000_000;

/**
 * The benches' database of about `gb` GiB: mixed columns (integers, numerics, short
 * repeated words, and hex text that compresses about 2:1), and a Prisma ledger with one
 * applied migration. Returns its size in bytes.
 */
export async function generateBenchDatabase(pg: TestPostgres, db: string, gb: number): Promise<number> {
    const events = Math.round(EVENTS_PER_GB * gb);
    await pg.psql(
        db,
        `CREATE TABLE accounts (id int PRIMARY KEY, name text, plan text, balance numeric(14,2));
         INSERT INTO accounts SELECT g, 'account ' || g, (ARRAY['free','pro','team'])[1 + g % 3], g * 3.17 FROM generate_series(1, 100000) g;
         CREATE TABLE events (id bigint, account int, amount numeric(12,2), kind text, payload text, created timestamptz);
         INSERT INTO events
             SELECT g, 1 + g % 100000, (g % 100000) / 7.0,
                    (ARRAY['login','purchase','refund','message','upload'])[1 + g % 5],
                    md5(g::text) || md5((g * 31)::text) || ' status=' || (g % 13) || ' region=eu-' || (g % 4),
                    '2026-01-01'::timestamptz + g * interval '1 second'
               FROM generate_series(1, ${events}) g;
         CREATE TABLE _prisma_migrations (id text PRIMARY KEY, migration_name text, started_at timestamptz, finished_at timestamptz);
         INSERT INTO _prisma_migrations VALUES ('m0', '20260101_init', '2026-01-01', '2026-01-01');
         VACUUM ANALYZE;`,
    );
    return Number(await pg.psql(db, `SELECT pg_database_size('${db}');`));
}
