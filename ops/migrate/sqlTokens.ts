/**
 * A PostgreSQL lexer just good enough to find statement boundaries and keywords:
 * comments, string literals and dollar-quoted bodies are consumed whole, so text
 * inside them can never look like a statement.
 */

export type TokenKind = "word" | "quoted" | "string" | "number" | "punct";

export interface SqlToken {
    readonly kind: TokenKind;
    /** Source text; for `word` tokens compare `upper` instead. */
    readonly text: string;
    /** `text` upper-cased for words, so keyword checks are case-insensitive; identical to `text` otherwise. */
    readonly upper: string;
    /** 1-based line of the token's first character. */
    readonly line: number;
    readonly start: number;
    readonly end: number;
}

export interface SqlStatement {
    readonly tokens: SqlToken[];
    /** 1-based line of the statement's first token. */
    readonly line: number;
    /** The statement's source text with whitespace runs collapsed (comments inside it kept). */
    readonly text: string;
}

const WORD_START = /[A-Za-z_\u0080-\uffff]/;
const WORD_PART = /[A-Za-z0-9_$\u0080-\uffff]/;
const DOLLAR_TAG = /^\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/;

export function tokenizeSql(sql: string): SqlToken[] {
    const tokens: SqlToken[] = [];
    let i = 0;
    let line = 1;
    const advanceTo = (end: number): void => {
        for (let j = i; j < end; j++) if (sql.charCodeAt(j) === 10) line++;
        i = end;
    };
    const push = (kind: TokenKind, end: number): void => {
        const text = sql.slice(i, end);
        tokens.push({ kind, text, upper: kind === "word" ? text.toUpperCase() : text, line, start: i, end });
        advanceTo(end);
    };
    while (i < sql.length) {
        const c = sql[i];
        const next = sql[i + 1];
        if (/\s/.test(c)) {
            advanceTo(i + 1);
        } else if (c === "-" && next === "-") {
            const newline = sql.indexOf("\n", i);
            advanceTo(newline < 0 ? sql.length : newline);
        } else if (c === "/" && next === "*") {
            advanceTo(endOfBlockComment(sql, i));
        } else if (c === "'") {
            push("string", endOfQuoted(sql, i, "'", false));
        } else if ((c === "E" || c === "e") && next === "'" && !isWordPart(sql[i - 1])) {
            push("string", endOfQuoted(sql, i + 1, "'", true));
        } else if (c === '"') {
            push("quoted", endOfQuoted(sql, i, '"', false));
        } else if (c === "$" && DOLLAR_TAG.test(sql.slice(i, i + 64))) {
            push("string", endOfDollarQuoted(sql, i));
        } else if (WORD_START.test(c)) {
            let end = i + 1;
            while (end < sql.length && WORD_PART.test(sql[end])) end++;
            push("word", end);
        } else if (/[0-9]/.test(c)) {
            let end = i + 1;
            while (end < sql.length && /[0-9.eE_]/.test(sql[end])) end++;
            push("number", end);
        } else {
            push("punct", i + 1);
        }
    }
    return tokens;
}

function isWordPart(c: string | undefined): boolean {
    return c !== undefined && WORD_PART.test(c);
}

/** PostgreSQL block comments nest, unlike the SQL standard's. */
function endOfBlockComment(sql: string, start: number): number {
    let depth = 0;
    let i = start;
    while (i < sql.length) {
        if (sql.startsWith("/*", i)) {
            depth++;
            i += 2;
        } else if (sql.startsWith("*/", i)) {
            depth--;
            i += 2;
            if (depth === 0) return i;
        } else {
            i++;
        }
    }
    return sql.length;
}

/** A doubled quote stays inside the literal; with `backslashEscapes` (E'…') so does `\'`. */
function endOfQuoted(sql: string, start: number, quote: string, backslashEscapes: boolean): number {
    let i = start + 1;
    while (i < sql.length) {
        if (backslashEscapes && sql[i] === "\\") {
            i += 2;
        } else if (sql[i] === quote) {
            if (sql[i + 1] === quote) i += 2;
            else return i + 1;
        } else {
            i++;
        }
    }
    return sql.length;
}

function endOfDollarQuoted(sql: string, start: number): number {
    const tag = DOLLAR_TAG.exec(sql.slice(start, start + 64))![0];
    const close = sql.indexOf(tag, start + tag.length);
    return close < 0 ? sql.length : close + tag.length;
}

/** Statements split at top-level semicolons; empty statements are dropped. */
export function splitStatements(sql: string): SqlStatement[] {
    const statements: SqlStatement[] = [];
    let current: SqlToken[] = [];
    const flush = (): void => {
        if (current.length === 0) return;
        const first = current[0];
        const last = current[current.length - 1];
        statements.push({
            tokens: current,
            line: first.line,
            text: sql.slice(first.start, last.end).replace(/\s+/g, " "),
        });
        current = [];
    };
    for (const token of tokenizeSql(sql)) {
        if (token.kind === "punct" && token.text === ";") flush();
        else current.push(token);
    }
    flush();
    return statements;
}

/** Splits tokens at commas that are not inside parentheses (ALTER TABLE actions, column lists). */
export function splitTopLevel(tokens: SqlToken[], separator = ","): SqlToken[][] {
    const parts: SqlToken[][] = [[]];
    let depth = 0;
    for (const token of tokens) {
        if (token.kind === "punct" && token.text === "(") depth++;
        if (token.kind === "punct" && token.text === ")") depth = Math.max(0, depth - 1);
        if (depth === 0 && token.kind === "punct" && token.text === separator) parts.push([]);
        else parts[parts.length - 1].push(token);
    }
    return parts.filter((part) => part.length > 0);
}

/** Tokens outside any parentheses, e.g. to tell a column's `NOT NULL` from one inside `CHECK (…)`. */
export function topLevelTokens(tokens: SqlToken[]): SqlToken[] {
    const result: SqlToken[] = [];
    let depth = 0;
    for (const token of tokens) {
        if (token.kind === "punct" && token.text === "(") depth++;
        else if (token.kind === "punct" && token.text === ")") depth = Math.max(0, depth - 1);
        else if (depth === 0) result.push(token);
    }
    return result;
}

/** True when the words at `index` are exactly `words` (keywords only: quoted identifiers never match). */
export function wordsAt(tokens: SqlToken[], index: number, ...words: string[]): boolean {
    return words.every((word, k) => tokens[index + k]?.kind === "word" && tokens[index + k].upper === word);
}
