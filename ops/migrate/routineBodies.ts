import type { CreateFunctionStmt, DefElem, DoStmt, Node } from "libpg-query";
import { lineAt, parsePlPgSql, parseStatements, ParsedStatement } from "./sqlParser";

/**
 * The code inside DO blocks and CREATE FUNCTION / PROCEDURE bodies: a migration that
 * defines a routine usually calls it, so whatever the body would do is judged when the
 * routine is created, as if it ran there.
 */

export interface RoutineBody {
    /** How a finding names where it sits, e.g. "the DO block at line 3". */
    readonly description: string;
    /** Lower-case language name; PostgreSQL's default for DO blocks is plpgsql. */
    readonly language: string;
    readonly body: string;
    /** 1-based line, within the statement's source, where the body text starts. */
    readonly bodyLine: number;
}

const defElems = (nodes: Node[] | undefined): DefElem[] =>
    (nodes ?? []).flatMap((n) => {
        const def = (n as { DefElem?: DefElem }).DefElem;
        return def === undefined ? [] : [def];
    });

const sval = (node: Node | undefined): string | undefined => (node as { String?: { sval?: string } } | undefined)?.String?.sval;

/** The body of a DO or CREATE FUNCTION statement; undefined for every other statement (and BEGIN ATOMIC bodies, already parsed). */
export function routineBody(statement: ParsedStatement, line: number): RoutineBody | undefined {
    const node = statement.node as { DoStmt?: DoStmt; CreateFunctionStmt?: CreateFunctionStmt };
    let options: DefElem[];
    let description: string;
    let defaultLanguage: string;
    if (node.DoStmt !== undefined) {
        options = defElems(node.DoStmt.args);
        description = `the DO block at line ${line}`;
        defaultLanguage = "plpgsql";
    } else if (node.CreateFunctionStmt !== undefined) {
        const fn = node.CreateFunctionStmt;
        options = defElems(fn.options);
        const name = (fn.funcname ?? []).map(sval).join(".");
        description = `${fn.is_procedure ? "procedure" : "function"} \`${name}\` created at line ${line}`;
        defaultLanguage = "sql";
    } else {
        return undefined;
    }
    const as = options.find((o) => o.defname === "as");
    // CREATE FUNCTION's AS holds a list (source, or object file and symbol); DO's a string.
    const body = sval(as?.arg) ?? sval((as?.arg as { List?: { items?: Node[] } } | undefined)?.List?.items?.[0]);
    if (as === undefined || body === undefined) return undefined;
    const language = (sval(options.find((o) => o.defname === "language")?.arg) ?? defaultLanguage).toLowerCase();
    return { description, language, body, bodyLine: lineAt(statement.text, bodyStart(statement, as, body)) };
}

/** Where the body's text starts: at the dollar-quoted literal after AS, when it appears verbatim. */
function bodyStart(statement: ParsedStatement, as: DefElem, body: string): number {
    const bytes = Buffer.from(statement.text, "utf8");
    // The DefElem's location counts bytes from the start of the whole source, not the statement.
    const asByte = Math.max(0, (as.location ?? 0) - statement.byteOffset);
    const asChar = bytes.subarray(0, asByte).toString("utf8").length;
    const found = statement.text.indexOf(body, asChar);
    return found < 0 ? asChar : found;
}

/** One SQL statement (or dynamic EXECUTE) found in a PL/pgSQL body. */
export interface EmbeddedSql {
    readonly dynamic: boolean;
    /** The statement's text, or for a dynamic EXECUTE the expression that builds it. */
    readonly query: string;
    /** 1-based line within the body. */
    readonly lineno: number;
}

const DYNAMIC_STATEMENTS: Record<string, string> = {
    PLpgSQL_stmt_dynexecute: "query",
    PLpgSQL_stmt_dynfors: "query",
    PLpgSQL_stmt_return_query: "dynquery",
    PLpgSQL_stmt_open: "dynquery",
};

/** Every embedded statement of the PL/pgSQL routines that `statementText` defines, in source order. */
export function embeddedSql(statementText: string): EmbeddedSql[] {
    const found: EmbeddedSql[] = [];
    const walk = (node: unknown, lineno: number): void => {
        if (Array.isArray(node)) {
            for (const item of node) walk(item, lineno);
            return;
        }
        if (node === null || typeof node !== "object") return;
        const record = node as Record<string, unknown>;
        const here = typeof record.lineno === "number" ? record.lineno : lineno;
        for (const [key, value] of Object.entries(record)) {
            const dynamicKey = DYNAMIC_STATEMENTS[key];
            const stmt = value as Record<string, unknown>;
            const dynamic = dynamicKey === undefined ? undefined : exprText(stmt[dynamicKey]);
            if (dynamic !== undefined) found.push({ dynamic: true, query: dynamic, lineno: (stmt.lineno as number) ?? here });
            if (key === "PLpgSQL_expr") {
                const expr = value as { query?: string; parseMode?: number };
                // Mode 0 is a whole SQL statement; the others are expressions and assignments.
                if ((expr.parseMode ?? 0) === 0 && expr.query !== undefined)
                    found.push({ dynamic: false, query: expr.query, lineno: here });
                continue;
            }
            walk(value, here);
        }
    };
    walk(parsePlPgSql(statementText), 1);
    return found;
}

const exprText = (node: unknown): string | undefined => (node as { PLpgSQL_expr?: { query?: string } } | undefined)?.PLpgSQL_expr?.query;

/** The SQL of `EXECUTE 'a constant string'`, which can be analysed like any other; undefined when it is built at run time. */
export function constantSql(expression: string): string | undefined {
    let statements;
    try {
        statements = parseStatements(`SELECT ${expression}`);
    } catch {
        return undefined;
    }
    const select = (statements[0]?.node as { SelectStmt?: { targetList?: Node[] } } | undefined)?.SelectStmt;
    if (statements.length !== 1 || select?.targetList?.length !== 1) return undefined;
    const target = select.targetList[0] as { ResTarget?: { val?: { A_Const?: { sval?: { sval?: string } } } } };
    return target.ResTarget?.val?.A_Const?.sval?.sval;
}
