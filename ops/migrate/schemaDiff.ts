import { ColumnShape, SchemaShape, TableShape } from "../pg/schema";

/** What the two schemas compared are called in the difference lines. */
export interface SchemaSides {
    readonly actual: string;
    readonly expected: string;
}

export const DRIFT_SIDES: SchemaSides = { actual: "the live database", expected: "the migrations' schema" };

/**
 * Every object that differs between two schemas, one line each, in a stable order (tables,
 * then within a table its columns, constraints and indexes; then views and enum types):
 * `column orders.note (text) exists in the live database, not in the migrations' schema`.
 */
export function diffSchemas(actual: SchemaShape, expected: SchemaShape, sides: SchemaSides = DRIFT_SIDES): string[] {
    const lines: string[] = [];
    const only = (what: string, inActual: boolean): string =>
        inActual
            ? `${what} exists in ${sides.actual}, not in ${sides.expected}`
            : `${what} exists in ${sides.expected}, not in ${sides.actual}`;
    const differs = (what: string, field: string, got: string, want: string): string =>
        `${what} differs: ${field} ${got} in ${sides.actual}, ${want} in ${sides.expected}`;
    for (const name of unionKeys(actual.tables, expected.tables)) {
        const got = actual.tables[name];
        const want = expected.tables[name];
        if (got === undefined || want === undefined) lines.push(only(`table ${name}`, got !== undefined));
        else lines.push(...diffTable(name, got, want, only, differs));
    }
    for (const name of unionKeys(actual.views, expected.views)) {
        const got = actual.views[name];
        const want = expected.views[name];
        if (got === undefined || want === undefined) lines.push(only(name, got !== undefined));
        else if (got !== want) lines.push(differs(name, "definition", `\`${got}\``, `\`${want}\``));
    }
    for (const name of unionKeys(actual.enums, expected.enums)) {
        const got = actual.enums[name];
        const want = expected.enums[name];
        if (got === undefined || want === undefined) lines.push(only(`enum type ${name}`, got !== undefined));
        else if (got.join("\u0000") !== want.join("\u0000")) lines.push(differs(`enum type ${name}`, "labels", labels(got), labels(want)));
    }
    return lines;
}

type Only = (what: string, inActual: boolean) => string;
type Differs = (what: string, field: string, got: string, want: string) => string;

function diffTable(table: string, actual: TableShape, expected: TableShape, only: Only, differs: Differs): string[] {
    const lines: string[] = [];
    for (const name of unionKeys(actual.columns, expected.columns)) {
        const got = actual.columns[name];
        const want = expected.columns[name];
        const what = `column ${table}.${name}`;
        if (got === undefined || want === undefined) {
            lines.push(only(`${what} (${(got ?? want).type})`, got !== undefined));
            continue;
        }
        for (const [field, show] of COLUMN_FIELDS) {
            if (show(got) !== show(want)) lines.push(differs(what, field, show(got), show(want)));
        }
    }
    for (const [kind, key] of [
        ["constraint", "constraints"],
        ["index", "indexes"],
    ] as const) {
        for (const name of unionKeys(actual[key], expected[key])) {
            const got = actual[key][name];
            const want = expected[key][name];
            const what = `${kind} ${name} on ${table}`;
            if (got === undefined || want === undefined) lines.push(only(`${what} (${got ?? want})`, got !== undefined));
            else if (got !== want) lines.push(differs(what, "definition", `\`${got}\``, `\`${want}\``));
        }
    }
    return lines;
}

const COLUMN_FIELDS: ReadonlyArray<[string, (column: ColumnShape) => string]> = [
    ["type", (c) => c.type],
    ["nullability", (c) => (c.nullable ? "NULL" : "NOT NULL")],
    ["default", (c) => (c.default === null ? "none" : `\`${c.default}\``)],
    ["identity", (c) => c.identity ?? "none"],
    ["generated expression", (c) => (c.generated === undefined ? "none" : `\`${c.generated}\``)],
];

function labels(values: readonly string[]): string {
    return `(${values.map((v) => `'${v}'`).join(", ")})`;
}

function unionKeys(a: Record<string, unknown> | undefined, b: Record<string, unknown> | undefined): string[] {
    return [...new Set([...Object.keys(a ?? {}), ...Object.keys(b ?? {})])].sort();
}
