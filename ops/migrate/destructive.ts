import { REASONS, statementReasons } from "./destructiveRules";
import { constantSql, embeddedSql, routineBody, RoutineBody } from "./routineBodies";
import { parseStatements, ParsedStatement, SqlSyntaxError } from "./sqlParser";

export { REASONS } from "./destructiveRules";
export { loadSqlParser } from "./sqlParser";

export interface Finding {
    /** The statement's text, whitespace collapsed, cut to `EXCERPT_LENGTH` characters. */
    readonly statement: string;
    /** 1-based line of the source where the statement starts. */
    readonly line: number;
    readonly reason: string;
    /** For a statement inside a routine body, where: "the DO block at line 3", "function `f` created at line 9". */
    readonly within?: string;
}

export const EXCERPT_LENGTH = 160;

export function excerpt(text: string): string {
    const collapsed = text.replace(/\s+/g, " ").trim();
    return collapsed.length <= EXCERPT_LENGTH ? collapsed : `${collapsed.slice(0, EXCERPT_LENGTH - 1)}…`;
}

/** "file:line: reason: statement (in …)", the one line the preflight prints per finding. */
export function describeFinding(label: string, finding: Finding): string {
    const within = finding.within === undefined ? "" : ` (in ${finding.within})`;
    return `${label}:${finding.line}: ${finding.reason}: ${finding.statement}${within}`;
}

/**
 * Every destructive statement (or ALTER TABLE action) in `sql`, in source order, also
 * inside DO blocks and routine bodies. What cannot be judged — a file that does not
 * parse, dynamic EXECUTE, a body in another language — is a finding too, never a pass.
 * Needs `await loadSqlParser()` first.
 */
export function findDestructiveStatements(sql: string): Finding[] {
    return analyseSource(sql, 1, undefined, new Set());
}

/**
 * `firstLine`: the line of the enclosing source where `sql` starts. `created`: tables
 * created earlier in the same file; nothing done to them can lose old data, lock out the
 * running version or break its queries, since that version never knew them (so Prisma's
 * CREATE TABLE, then CREATE INDEX and ADD FOREIGN KEY on it, is not reported).
 */
function analyseSource(sql: string, firstLine: number, within: string | undefined, created: Set<string>): Finding[] {
    let statements: ParsedStatement[];
    try {
        statements = parseStatements(sql);
    } catch (err) {
        if (!(err instanceof SqlSyntaxError)) throw err;
        return [finding(err.lineText, firstLine + err.line - 1, REASONS.syntaxError(err.message), within)];
    }
    return statements.flatMap((statement) => analyseStatement(statement, firstLine + statement.line - 1, within, created));
}

function analyseStatement(statement: ParsedStatement, line: number, within: string | undefined, created: Set<string>): Finding[] {
    const newTable = createdTable(statement.node);
    if (newTable !== undefined) created.add(newTable);
    const targets = targetTables(statement.node);
    const onNewTables = targets.length > 0 && targets.every((t) => created.has(t));
    const own = onNewTables ? [] : statementReasons(statement.node).map((reason) => finding(statement.text, line, reason, within));
    const routine = routineBody(statement, line);
    return routine === undefined ? own : [...own, ...analyseBody(statement, routine, line, within, created)];
}

type RangeVar = { relname?: string };
type Body = { relation?: RangeVar; relations?: Array<{ RangeVar?: RangeVar }>; rels?: Array<{ VacuumRelation?: { relation?: RangeVar } }> };

/** DML is left out: a CTE of an INSERT into a new table can still DELETE from an old one. */
const SINGLE_TARGET_STATEMENTS = new Set([
    "AlterTableStmt",
    "IndexStmt",
    "RenameStmt",
    "ReindexStmt",
    "VacuumStmt",
    "ClusterStmt",
    "LockStmt",
    "TruncateStmt",
]);

/** The tables a DDL statement works on (ALTER TABLE, CREATE INDEX, TRUNCATE …), by name. */
function targetTables(node: unknown): string[] {
    const [kind, body = {}] = Object.entries(node as Record<string, Body>)[0] ?? [];
    if (kind === undefined || !SINGLE_TARGET_STATEMENTS.has(kind)) return [];
    const vars = [
        body.relation,
        ...(body.relations ?? []).map((r) => r.RangeVar),
        ...(body.rels ?? []).map((r) => r.VacuumRelation?.relation),
    ];
    return vars.flatMap((v) => (v?.relname === undefined ? [] : [v.relname]));
}

function createdTable(node: unknown): string | undefined {
    const n = node as { CreateStmt?: { relation?: RangeVar }; CreateTableAsStmt?: { into?: { rel?: RangeVar } } };
    return n.CreateStmt?.relation?.relname ?? n.CreateTableAsStmt?.into?.rel?.relname;
}

function analyseBody(
    statement: ParsedStatement,
    routine: RoutineBody,
    line: number,
    outer: string | undefined,
    created: Set<string>,
): Finding[] {
    const within = outer === undefined ? routine.description : `${routine.description}, in ${outer}`;
    const bodyLine = line + routine.bodyLine - 1;
    if (routine.language === "sql") return analyseSource(routine.body, bodyLine, within, created);
    if (routine.language !== "plpgsql") return [finding(statement.text, line, REASONS.otherLanguage(routine.language), outer)];
    let embedded;
    try {
        embedded = embeddedSql(statement.text);
    } catch (err) {
        if (!(err instanceof SqlSyntaxError)) throw err;
        return [finding(statement.text, line, REASONS.bodySyntaxError(err.message), outer)];
    }
    return embedded.flatMap((sql) => {
        const at = bodyLine + sql.lineno - 1;
        if (!sql.dynamic) return analyseSource(sql.query, at, within, created);
        const constant = constantSql(sql.query);
        return constant === undefined
            ? [finding(`EXECUTE ${sql.query}`, at, REASONS.dynamicSql, within)]
            : analyseSource(constant, at, `EXECUTE of a constant string in ${within}`, created);
    });
}

function finding(text: string, line: number, reason: string, within: string | undefined): Finding {
    const statement = excerpt(text);
    return within === undefined ? { statement, line, reason } : { statement, line, reason, within };
}
