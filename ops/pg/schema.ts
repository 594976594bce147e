import { ClientBase } from "pg";

/**
 * The schema the migrations own, read from the catalog: tables with their columns (type,
 * nullability, default, identity, generation), constraints and indexes, plus views and enum
 * types. Objects are keyed by name and their keys sorted, so two equal schemas are equal
 * (and serialize equally) whatever order their objects were created in; column positions
 * are left out for the same reason. The migration ledgers are not the migrations' schema.
 */

export const SCHEMA_FORMAT = 1;

/** Tables the migration tools own themselves: each tool creates and alters them outside the migrations. */
export const LEDGER_TABLE_NAMES: readonly string[] = [
    "_prisma_migrations",
    "django_migrations",
    "safe_release_migrations",
    "safe_release_schema",
];

export interface ColumnShape {
    /** `format_type` with only `pg_catalog` on the search path, e.g. `character varying(255)`, `public.status`. */
    readonly type: string;
    readonly nullable: boolean;
    readonly default: string | null;
    /** `always` / `by default` for identity columns, absent otherwise. */
    readonly identity?: string;
    /** The expression of a generated column, absent otherwise. */
    readonly generated?: string;
}

export interface TableShape {
    readonly columns: Record<string, ColumnShape>;
    /** Constraint name → `pg_get_constraintdef`, e.g. `FOREIGN KEY (owner) REFERENCES public.users(id)`. */
    readonly constraints: Record<string, string>;
    /** Index name → its definition without the name and table, e.g. `UNIQUE USING btree (email)`; constraint indexes are left out. */
    readonly indexes: Record<string, string>;
}

export interface SchemaShape {
    readonly format: typeof SCHEMA_FORMAT;
    /** Keyed by `table` in `public`, `schema.table` elsewhere. */
    readonly tables: Record<string, TableShape>;
    readonly views: Record<string, string>;
    readonly enums: Record<string, string[]>;
}

/** Schemas that are PostgreSQL's own, never a migration's. */
const SYSTEM_SCHEMAS = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'";
/** Objects an extension created belong to the extension, not to the migrations that ran CREATE EXTENSION. */
const NOT_EXTENSION_MEMBER = (catalog: string, oid: string) =>
    `NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '${catalog}'::regclass AND d.objid = ${oid} AND d.deptype = 'e')`;

const IDENTITY: Record<string, string> = { a: "always", d: "by default" };

/** Reads the schema in one read-only transaction, names rendered fully qualified so the session's search_path cannot change them. */
export async function readSchema(client: ClientBase): Promise<SchemaShape> {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    try {
        await client.query("SET LOCAL search_path TO pg_catalog");
        const schema = await readInTransaction(client);
        await client.query("COMMIT");
        return schema;
    } catch (err) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw err;
    }
}

async function readInTransaction(client: ClientBase): Promise<SchemaShape> {
    const relations = await client.query(
        `SELECT c.oid::int8 AS oid, n.nspname AS schema, c.relname AS name, c.relkind AS kind,
                CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid, true) END AS definition
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r', 'p', 'v', 'm') AND ${SYSTEM_SCHEMAS} AND ${NOT_EXTENSION_MEMBER("pg_class", "c.oid")}
            AND NOT (c.relname = ANY($1::text[]))`,
        [LEDGER_TABLE_NAMES],
    );
    const tableNames = new Map<string, string>();
    const views: Record<string, string> = {};
    for (const r of relations.rows) {
        const name = displayName(r.schema, r.name);
        if (r.kind === "v" || r.kind === "m") views[`${r.kind === "m" ? "materialized view" : "view"} ${name}`] = collapse(r.definition);
        else tableNames.set(String(r.oid), name);
    }
    const tables = new Map<
        string,
        { columns: Record<string, ColumnShape>; constraints: Record<string, string>; indexes: Record<string, string> }
    >();
    for (const name of tableNames.values()) tables.set(name, { columns: {}, constraints: {}, indexes: {} });
    const oids = [...tableNames.keys()];
    const tableOf = (oid: unknown) => tables.get(tableNames.get(String(oid))!)!;

    const columns = await client.query(
        `SELECT a.attrelid::int8 AS oid, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS notnull,
                a.attidentity AS identity, a.attgenerated AS generated, pg_get_expr(ad.adbin, ad.adrelid) AS expression
           FROM pg_attribute a LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
          WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped`,
        [oids],
    );
    for (const c of columns.rows) {
        const generated = c.generated !== "" ? (c.expression as string) : undefined;
        tableOf(c.oid).columns[c.name] = {
            type: c.type,
            nullable: !c.notnull,
            default: generated === undefined ? (c.expression ?? null) : null,
            ...(IDENTITY[c.identity] !== undefined ? { identity: IDENTITY[c.identity] } : {}),
            ...(generated !== undefined ? { generated } : {}),
        };
    }
    // NOT NULL is the column's nullability (PostgreSQL 18 also lists it as a constraint).
    const constraints = await client.query(
        `SELECT conrelid::int8 AS oid, conname AS name, pg_get_constraintdef(oid, true) AS definition
           FROM pg_constraint WHERE conrelid = ANY($1::oid[]) AND contype <> 'n'`,
        [oids],
    );
    for (const k of constraints.rows) tableOf(k.oid).constraints[k.name] = k.definition;
    const indexes = await client.query(
        `SELECT i.indrelid::int8 AS oid, ic.relname AS name, pg_get_indexdef(i.indexrelid) AS definition
           FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
          WHERE i.indrelid = ANY($1::oid[])
            AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = i.indrelid AND k.conindid = i.indexrelid)`,
        [oids],
    );
    for (const i of indexes.rows) tableOf(i.oid).indexes[i.name] = indexShape(i.definition);
    const enumRows = await client.query(
        `SELECT n.nspname AS schema, t.typname AS name, array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS labels
           FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_enum e ON e.enumtypid = t.oid
          WHERE ${SYSTEM_SCHEMAS} AND ${NOT_EXTENSION_MEMBER("pg_type", "t.oid")}
          GROUP BY n.nspname, t.typname`,
    );
    const enums: Record<string, string[]> = {};
    for (const e of enumRows.rows) enums[displayName(e.schema, e.name)] = e.labels;
    return normalizeSchema({ format: SCHEMA_FORMAT, tables: Object.fromEntries(tables), views, enums });
}

/** `orders` for public.orders, `billing.invoices` elsewhere: what a migration author calls the table. */
function displayName(schema: string, name: string): string {
    return schema === "public" ? name : `${schema}.${name}`;
}

function collapse(text: string): string {
    return text.replace(/\s+/g, " ").trim();
}

const IDENT = `(?:"(?:[^"]|"")*"|[^\\s".]+)`;
const INDEX_HEAD = new RegExp(`^CREATE (UNIQUE )?INDEX ${IDENT} ON (?:ONLY )?${IDENT}(?:\\.${IDENT})? `);

/** `CREATE UNIQUE INDEX users_email ON public.users USING btree (email)` → `UNIQUE USING btree (email)`. */
export function indexShape(definition: string): string {
    const match = INDEX_HEAD.exec(definition);
    return match === null ? definition : `${match[1] ?? ""}${definition.slice(match[0].length)}`;
}

/** The same schema with every object map's keys sorted: equal schemas serialize to equal JSON. */
export function normalizeSchema(schema: SchemaShape): SchemaShape {
    const tables: Record<string, TableShape> = {};
    for (const [name, table] of sortedEntries(schema.tables)) {
        tables[name] = {
            columns: Object.fromEntries(sortedEntries(table.columns)),
            constraints: Object.fromEntries(sortedEntries(table.constraints)),
            indexes: Object.fromEntries(sortedEntries(table.indexes)),
        };
    }
    return {
        format: SCHEMA_FORMAT,
        tables,
        views: Object.fromEntries(sortedEntries(schema.views ?? {})),
        enums: Object.fromEntries(sortedEntries(schema.enums ?? {})),
    };
}

function sortedEntries<T>(record: Record<string, T>): Array<[string, T]> {
    return Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
