import { splitStatements, splitTopLevel, SqlToken, topLevelTokens, wordsAt } from "./sqlTokens";

/**
 * Why a statement is refused without `--allow-destructive`. "Destructive" means it loses
 * data or breaks the previous version, which stays warm during a canary and must keep
 * working against the new schema.
 *
 * Deliberately not destructive: DROP INDEX / VIEW / FUNCTION / SEQUENCE / CONSTRAINT
 * (no table rows are lost; an index or view is rebuilt from the tables), ALTER COLUMN
 * … DROP NOT NULL / SET DEFAULT (they only relax), UPDATE (backfills are routine data
 * migrations), and anything inside a function body or DO block (dynamic SQL is not scanned).
 */
export const REASONS = {
    dropTable: "DROP TABLE deletes the table and every row in it",
    dropSchema: "DROP SCHEMA deletes the schema (and with CASCADE every table in it)",
    dropDatabase: "DROP DATABASE deletes the whole database",
    truncate: "TRUNCATE deletes every row of the table",
    deleteWithoutWhere: "DELETE without WHERE deletes every row of the table",
    dropColumn: "DROP COLUMN deletes the column and its data",
    typeChange: "ALTER COLUMN … TYPE rewrites the column's values and can truncate or reject existing data",
    setNotNull: "ALTER COLUMN … SET NOT NULL fails on existing NULLs and breaks a previous version that writes NULL",
    addNotNullWithoutDefault: "ADD COLUMN … NOT NULL without DEFAULT fails on a non-empty table and breaks the previous version's inserts",
    renameTable: "RENAME TO renames the table, so the previous version's queries fail",
    renameColumn: "RENAME COLUMN renames the column, so the previous version's queries fail",
} as const;

export interface Finding {
    /** The statement's text, whitespace collapsed, cut to `EXCERPT_LENGTH` characters. */
    readonly statement: string;
    /** 1-based line where the statement starts. */
    readonly line: number;
    readonly reason: string;
}

export const EXCERPT_LENGTH = 160;

/** Every destructive statement (or ALTER TABLE action) in `sql`, in source order. */
export function findDestructiveStatements(sql: string): Finding[] {
    const findings: Finding[] = [];
    for (const statement of splitStatements(sql)) {
        for (const reason of destructiveReasons(statement.tokens)) {
            findings.push({ statement: excerpt(statement.text), line: statement.line, reason });
        }
    }
    return findings;
}

export function excerpt(text: string): string {
    return text.length <= EXCERPT_LENGTH ? text : `${text.slice(0, EXCERPT_LENGTH - 1)}…`;
}

/** Reasons found in one statement, one per offending action. */
export function destructiveReasons(tokens: SqlToken[]): string[] {
    if (wordsAt(tokens, 0, "DROP", "TABLE")) return [REASONS.dropTable];
    if (wordsAt(tokens, 0, "DROP", "SCHEMA")) return [REASONS.dropSchema];
    if (wordsAt(tokens, 0, "DROP", "DATABASE")) return [REASONS.dropDatabase];
    if (wordsAt(tokens, 0, "TRUNCATE")) return [REASONS.truncate];
    if (wordsAt(tokens, 0, "ALTER", "TABLE")) return alterTableReasons(tokens);
    return hasDeleteWithoutWhere(tokens) ? [REASONS.deleteWithoutWhere] : [];
}

const isName = (token: SqlToken | undefined): boolean => token?.kind === "word" || token?.kind === "quoted";
const isPunct = (token: SqlToken | undefined, text: string): boolean => token?.kind === "punct" && token.text === text;

/** ALTER TABLE [IF EXISTS] [ONLY] name [*] action [, action …]: each action judged on its own. */
function alterTableReasons(tokens: SqlToken[]): string[] {
    let i = 2;
    if (wordsAt(tokens, i, "IF", "EXISTS")) i += 2;
    if (wordsAt(tokens, i, "ONLY")) i++;
    if (!isName(tokens[i])) return [];
    i++;
    while (isPunct(tokens[i], ".") && isName(tokens[i + 1])) i += 2;
    if (isPunct(tokens[i], "*")) i++;
    return splitTopLevel(tokens.slice(i)).flatMap((action) => {
        const reason = alterActionReason(action);
        return reason ? [reason] : [];
    });
}

const CONSTRAINT_STARTS = new Set(["CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN", "EXCLUDE"]);
/** Types whose columns get a value from a sequence, so NOT NULL needs no DEFAULT. */
const SERIAL_TYPES = new Set(["SERIAL", "BIGSERIAL", "SMALLSERIAL", "SERIAL2", "SERIAL4", "SERIAL8"]);

export function alterActionReason(action: SqlToken[]): string | undefined {
    if (wordsAt(action, 0, "DROP")) {
        return wordsAt(action, 1, "CONSTRAINT") ? undefined : REASONS.dropColumn;
    }
    if (wordsAt(action, 0, "RENAME")) {
        if (wordsAt(action, 1, "TO")) return REASONS.renameTable;
        if (wordsAt(action, 1, "CONSTRAINT")) return undefined;
        return REASONS.renameColumn;
    }
    if (wordsAt(action, 0, "ALTER")) {
        // The column name sits right after ALTER [COLUMN], so a column called `type` is skipped.
        const rest = action.slice(wordsAt(action, 1, "COLUMN") ? 3 : 2);
        if (wordsAt(rest, 0, "TYPE") || wordsAt(rest, 0, "SET", "DATA", "TYPE")) return REASONS.typeChange;
        if (wordsAt(rest, 0, "SET", "NOT", "NULL")) return REASONS.setNotNull;
        return undefined;
    }
    if (wordsAt(action, 0, "ADD")) return addColumnReason(action);
    return undefined;
}

function addColumnReason(action: SqlToken[]): string | undefined {
    let i = 1;
    if (action[i]?.kind === "word" && CONSTRAINT_STARTS.has(action[i].upper)) return undefined;
    if (wordsAt(action, i, "COLUMN")) i++;
    if (wordsAt(action, i, "IF", "NOT", "EXISTS")) i += 3;
    i++; // the column name
    const definition = topLevelTokens(action.slice(i));
    const type = definition[0];
    if (type?.kind === "word" && SERIAL_TYPES.has(type.upper)) return undefined;
    const words = definition.filter((t) => t.kind === "word").map((t) => t.upper);
    const hasValue = words.includes("DEFAULT") || words.includes("GENERATED");
    const notNull = definition.some((_, k) => wordsAt(definition, k, "NOT", "NULL") || wordsAt(definition, k, "PRIMARY", "KEY"));
    return notNull && !hasValue ? REASONS.addNotNullWithoutDefault : undefined;
}

/**
 * DELETE FROM … anywhere in the statement (also inside a CTE); it is harmless only with
 * a WHERE at its own parenthesis depth, before that depth closes.
 */
function hasDeleteWithoutWhere(tokens: SqlToken[]): boolean {
    return tokens.some((_, i) => wordsAt(tokens, i, "DELETE", "FROM") && !whereFollows(tokens, i + 2));
}

function whereFollows(tokens: SqlToken[], from: number): boolean {
    let depth = 0;
    for (let i = from; i < tokens.length; i++) {
        if (isPunct(tokens[i], "(")) depth++;
        else if (isPunct(tokens[i], ")")) {
            depth--;
            if (depth < 0) return false;
        } else if (depth === 0 && wordsAt(tokens, i, "WHERE")) {
            return true;
        }
    }
    return false;
}
