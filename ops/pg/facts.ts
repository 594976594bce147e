import { Client } from "pg";
import { UsageError } from "../command";
import { quoteIdent } from "./connection";

/**
 * What a restore must reproduce, read in the same snapshot as the dump: the
 * migration ledgers (Prisma, Django, safe-release's own) and exact row counts of
 * the critical tables. The runbook's "verify restoration by checking migration
 * table state & row counts of critical tables", made checkable.
 */
export interface Facts {
    readonly database: string;
    /** The exported snapshot the dump was taken from; absent for facts read from a restored copy. */
    readonly snapshot?: string;
    readonly takenAt: string;
    /** Ledger table → its rows as canonical JSON text, in a deterministic order. */
    readonly ledgers: Record<string, string[]>;
    /** Critical table → exact `count(*)`. */
    readonly rowCounts: Record<string, number>;
}

export const LEDGER_TABLES = ["_prisma_migrations", "django_migrations", "safe_release_migrations"] as const;

const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$/;

/** `--critical-tables a,b,public.c` → ["a", "b", "public.c"], each a plain or schema-qualified name. */
export function parseCriticalTables(value: string | undefined): string[] {
    if (value === undefined || value.trim() === "") return [];
    const tables = value.split(",").map((t) => t.trim());
    for (const table of tables) {
        if (!TABLE_NAME.test(table)) {
            throw new UsageError(
                `\`--critical-tables\` must be a comma-separated list of table names like users or public.users; got \`${table}\``,
            );
        }
    }
    return [...new Set(tables)];
}

/** Fails naming the first critical table that does not exist. */
export async function assertTablesExist(client: Client, database: string, tables: string[]): Promise<void> {
    for (const table of tables) {
        const { rows } = await client.query("SELECT to_regclass($1) IS NOT NULL AS present", [quoteIdent(table)]);
        if (!rows[0].present) {
            throw new UsageError(`\`--critical-tables\` names \`${table}\`, which does not exist in database \`${database}\``);
        }
    }
}

/**
 * Reads the facts through `client`, inside whatever transaction it has open
 * (the backup's REPEATABLE READ snapshot). A missing critical table is an error:
 * a count of a table that does not exist cannot be verified later.
 */
export async function readFacts(
    client: Client,
    database: string,
    criticalTables: string[],
    snapshot?: string,
    /** A restored copy reports a missing table as a difference (by omitting its count) instead of failing. */
    missingTable: "fail" | "omit" = "fail",
): Promise<Facts> {
    // Timestamps render in the session's zone; a restored copy may not inherit a database-level zone.
    await client.query("SET TIME ZONE 'UTC'");
    const ledgers: Record<string, string[]> = {};
    for (const table of LEDGER_TABLES) {
        const { rows } = await client.query("SELECT to_regclass($1) IS NOT NULL AS present", [table]);
        if (!rows[0].present) continue;
        // Ordering by the row's JSON text (byte order) is deterministic whatever the ledger's columns are.
        const result = await client.query(
            `SELECT row_to_json(t)::text AS row FROM ${quoteIdent(table)} t ORDER BY row_to_json(t)::text COLLATE "C"`,
        );
        ledgers[table] = result.rows.map((r) => r.row as string);
    }
    const rowCounts: Record<string, number> = {};
    for (const table of criticalTables) {
        const { rows } = await client.query("SELECT to_regclass($1) IS NOT NULL AS present", [quoteIdent(table)]);
        if (!rows[0].present && missingTable === "omit") continue;
        if (!rows[0].present) {
            throw new UsageError(`\`--critical-tables\` names \`${table}\`, which does not exist in database \`${database}\``);
        }
        const count = await client.query(`SELECT count(*) AS n FROM ${quoteIdent(table)}`);
        rowCounts[table] = Number(count.rows[0].n);
    }
    return { database, snapshot, takenAt: new Date().toISOString(), ledgers, rowCounts };
}

/** Every way `actual` differs from `expected`, one readable line each; empty when they agree. */
export function compareFacts(expected: Facts, actual: Facts): string[] {
    const differences: string[] = [];
    const ledgerNames = [...new Set([...Object.keys(expected.ledgers), ...Object.keys(actual.ledgers)])].sort();
    for (const ledger of ledgerNames) {
        const want = expected.ledgers[ledger];
        const got = actual.ledgers[ledger];
        if (want === undefined) {
            differences.push(`ledger \`${ledger}\` exists but the backup had no such table`);
            continue;
        }
        if (got === undefined) {
            differences.push(`ledger \`${ledger}\` is missing (the backup had ${want.length} rows)`);
            continue;
        }
        for (const row of multisetMinus(want, got)) differences.push(`ledger \`${ledger}\`: row missing: ${row}`);
        for (const row of multisetMinus(got, want)) differences.push(`ledger \`${ledger}\`: unexpected row: ${row}`);
    }
    const tables = [...new Set([...Object.keys(expected.rowCounts), ...Object.keys(actual.rowCounts)])].sort();
    for (const table of tables) {
        const want = expected.rowCounts[table];
        const got = actual.rowCounts[table];
        if (want === undefined) differences.push(`row count of \`${table}\` was not recorded in the backup facts`);
        else if (got === undefined) differences.push(`row count of \`${table}\`: expected ${want}, table is missing`);
        else if (want !== got) differences.push(`row count of \`${table}\`: expected ${want}, got ${got}`);
    }
    return differences;
}

function multisetMinus(from: string[], remove: string[]): string[] {
    const left = new Map<string, number>();
    for (const row of remove) left.set(row, (left.get(row) ?? 0) + 1);
    const rest: string[] = [];
    for (const row of from) {
        const n = left.get(row) ?? 0;
        if (n > 0) left.set(row, n - 1);
        else rest.push(row);
    }
    return rest;
}

/** The short form printed in results: ledger row counts and table row counts. */
export function summarizeFacts(facts: Facts): { ledgers: Record<string, number>; rowCounts: Record<string, number> } {
    const ledgers: Record<string, number> = {};
    for (const [name, rows] of Object.entries(facts.ledgers)) ledgers[name] = rows.length;
    return { ledgers, rowCounts: { ...facts.rowCounts } };
}

/** Parses a `.facts.json` file's text, naming the file when it is not facts. */
export function parseFacts(text: string, file: string): Facts {
    let value: unknown;
    try {
        value = JSON.parse(text);
    } catch {
        throw new Error(`\`${file}\` must be a facts file written by backup; it is not valid JSON`);
    }
    const facts = value as Partial<Facts>;
    if (typeof facts !== "object" || facts === null || typeof facts.ledgers !== "object" || typeof facts.rowCounts !== "object") {
        throw new Error(`\`${file}\` must be a facts file written by backup with \`ledgers\` and \`rowCounts\``);
    }
    return facts as Facts;
}
