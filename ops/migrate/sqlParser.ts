import { loadModule, Node, parsePlPgSQLSync, parseSync } from "libpg-query";

/**
 * PostgreSQL's own parser (libpg_query, compiled to WASM), so the destructive-migration
 * check reads SQL exactly as the server will: no hand lexer to disagree with it about
 * quoting, comments or dollar-quoted bodies.
 */

let loaded: Promise<void> | undefined;
let ready = false;

/** Loads the WASM parser once; every parse function below needs it to have resolved. */
export async function loadSqlParser(): Promise<void> {
    loaded ??= loadModule().then(() => {
        ready = true;
    });
    await loaded;
}

function requireLoaded(): void {
    if (!ready) throw new Error("the PostgreSQL parser is not loaded: `await loadSqlParser()` before analysing SQL");
}

/** One top-level statement of a source text. */
export interface ParsedStatement {
    /** The statement's AST, e.g. `{ DropStmt: {...} }`. */
    readonly node: Node;
    /** The statement's exact source text (without its `;`). */
    readonly text: string;
    /** 1-based line of the statement's first character within the source text. */
    readonly line: number;
    /** Byte offset of the statement within the UTF-8 source, as the parser's locations count. */
    readonly byteOffset: number;
}

/** A source text that does not parse: PostgreSQL's message and the 1-based line it points at. */
export class SqlSyntaxError extends Error {
    constructor(
        message: string,
        readonly line: number,
        readonly lineText: string,
    ) {
        super(message);
    }
}

/**
 * The statements of `sql`. Locations from the parser are byte offsets into the UTF-8
 * text, so they are mapped back through the bytes rather than used as string indexes.
 */
export function parseStatements(sql: string): ParsedStatement[] {
    requireLoaded();
    // The binding refuses an empty string, which PostgreSQL itself accepts as no statement.
    if (sql === "") return [];
    let result;
    try {
        result = parseSync(sql);
    } catch (err) {
        throw syntaxError(sql, err);
    }
    const bytes = Buffer.from(sql, "utf8");
    return (result.stmts ?? []).flatMap((raw) => {
        if (raw.stmt === undefined) return [];
        // Zero-valued fields are left out of the parser's JSON; a length of 0 means "to the end".
        const start = raw.stmt_location ?? 0;
        const end = raw.stmt_len ? start + raw.stmt_len : bytes.length;
        const offset = bytes.subarray(0, start).toString("utf8").length;
        return [{ node: raw.stmt, text: bytes.subarray(start, end).toString("utf8"), line: lineAt(sql, offset), byteOffset: start }];
    });
}

/** 1-based line of the character at `offset`. */
export function lineAt(text: string, offset: number): number {
    let line = 1;
    for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
    return line;
}

/** The PL/pgSQL functions (AST as JSON) of one DO or CREATE FUNCTION statement's text. */
export function parsePlPgSql(statementText: string): unknown[] {
    requireLoaded();
    try {
        return (parsePlPgSQLSync(statementText) as { plpgsql_funcs?: unknown[] }).plpgsql_funcs ?? [];
    } catch (err) {
        throw syntaxError(statementText, err);
    }
}

/** Anything the parser throws means PostgreSQL would not accept the text either. */
function syntaxError(sql: string, err: unknown): SqlSyntaxError {
    const details = (err as { sqlDetails?: { cursorPosition?: number } }).sqlDetails;
    // The cursor counts code points from 0; a JavaScript string index counts UTF-16 units.
    const offset = details?.cursorPosition === undefined ? 0 : [...sql].slice(0, details.cursorPosition).join("").length;
    const line = lineAt(sql, offset);
    return new SqlSyntaxError(err instanceof Error ? err.message : String(err), line, sql.split("\n")[line - 1] ?? "");
}
