import type {
    AlterTableCmd,
    AlterTableStmt,
    ColumnDef,
    Constraint,
    DefElem,
    DropStmt,
    IndexStmt,
    Node,
    ObjectType,
    RenameStmt,
    ReindexStmt,
    VacuumStmt,
} from "libpg-query";

/**
 * Why a statement is refused without `--allow-destructive`: it loses data, rewrites it,
 * removes or renames a schema object the previous version (warm during a canary) still
 * uses, or holds a lock long enough to stall the running version.
 *
 * Deliberately not reported: CREATE TABLE / INDEX CONCURRENTLY / VIEW, INSERT, ADD COLUMN
 * that is nullable or has a constant or stable DEFAULT (PostgreSQL stores it without a
 * rewrite), DROP NOT NULL / SET or DROP DEFAULT (they only relax), constraints added NOT
 * VALID, and renames of constraints, indexes, triggers, rules and policies (queries never
 * name them).
 */
export const REASONS = {
    dropTable: "DROP TABLE deletes the table and every row in it",
    dropSchema: "DROP SCHEMA deletes the schema, so the previous version's queries on its objects fail",
    dropDatabase: "DROP DATABASE deletes the whole database",
    dropType: "DROP TYPE deletes the type, so the previous version's casts and inserts using it fail",
    dropView: "DROP VIEW deletes the view, so the previous version's queries on it fail",
    dropMaterializedView: "DROP MATERIALIZED VIEW deletes the view and its stored rows, so the previous version's queries on it fail",
    dropSequence: "DROP SEQUENCE deletes the sequence, so inserts that take their ids from it fail",
    dropIndex:
        "DROP INDEX without CONCURRENTLY locks the table against reads and writes, and removes an index (and a unique index's guarantee) the previous version may rely on",
    dropIndexConcurrently: "DROP INDEX CONCURRENTLY removes an index (and a unique index's guarantee) the previous version may rely on",
    dropFunction: "DROP FUNCTION deletes the routine, so the previous version's calls, triggers and defaults using it fail",
    dropExtension: "DROP EXTENSION deletes the extension's types and functions, so everything using them fails",
    dropOwned: "DROP OWNED deletes every object the role owns, tables and their rows included",
    cascade: "; CASCADE also drops every object that depends on it, columns and their data included",
    truncate: "TRUNCATE deletes every row of the table",
    deleteWithoutWhere: "DELETE without WHERE deletes every row of the table",
    updateWithoutWhere: "UPDATE without WHERE rewrites every row of the table, overwriting what the previous version wrote",
    dropColumn: "DROP COLUMN deletes the column and its data",
    dropConstraint: "DROP CONSTRAINT removes a guarantee (key, foreign key, check) that the data and the previous version rely on",
    typeChange: "ALTER COLUMN … TYPE rewrites the table under an ACCESS EXCLUSIVE lock and can truncate or reject existing values",
    setNotNull:
        "ALTER COLUMN … SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock, fails on existing NULLs and breaks a previous version that writes NULL",
    addNotNullWithoutDefault: "ADD COLUMN … NOT NULL without DEFAULT fails on a non-empty table and breaks the previous version's inserts",
    addVolatileDefault:
        "ADD COLUMN … DEFAULT with a volatile or unknown function (random(), gen_random_uuid(), clock_timestamp(), nextval() …) rewrites the whole table under an ACCESS EXCLUSIVE lock",
    addFilledColumn:
        "ADD COLUMN … serial, IDENTITY or GENERATED … STORED fills every row, rewriting the whole table under an ACCESS EXCLUSIVE lock",
    addValidatedConstraint:
        "ADD CONSTRAINT … CHECK / FOREIGN KEY without NOT VALID scans the whole table under a lock that blocks writes; add it NOT VALID, then VALIDATE CONSTRAINT",
    addIndexConstraint:
        "ADD PRIMARY KEY / UNIQUE / EXCLUDE builds an index under an ACCESS EXCLUSIVE lock; CREATE UNIQUE INDEX CONCURRENTLY first, then ADD CONSTRAINT … USING INDEX",
    tableRewrite: "SET TABLESPACE / LOGGED / UNLOGGED / ACCESS METHOD rewrites the whole table under an ACCESS EXCLUSIVE lock",
    detachPartition: "DETACH PARTITION removes the partition's rows from the table",
    renameTable: "RENAME TO renames the table, so the previous version's queries fail",
    renameColumn: "RENAME COLUMN renames the column, so the previous version's queries fail",
    setSchema: "SET SCHEMA moves the object to another schema, so the previous version's queries that name it fail",
    createIndex: "CREATE INDEX without CONCURRENTLY blocks writes to the table while the index builds",
    reindex: "REINDEX without CONCURRENTLY blocks writes to the table, and reads that use the index, while it rebuilds",
    vacuumFull: "VACUUM FULL rewrites the table under an ACCESS EXCLUSIVE lock, blocking reads and writes",
    cluster: "CLUSTER rewrites the table under an ACCESS EXCLUSIVE lock, blocking reads and writes",
    lockTable: "LOCK TABLE holds a table lock until the transaction ends, blocking the running version's conflicting queries",
    refreshMaterializedView: "REFRESH MATERIALIZED VIEW without CONCURRENTLY blocks reads of the view while it rebuilds",
    dynamicSql:
        "EXECUTE runs SQL built while the migration runs, which cannot be analysed beforehand; write the statement out, or review it and pass `--allow-destructive`",
    dropOther: (object: string): string => `DROP ${object} deletes a database object the previous version may rely on`,
    renameOther: (object: string): string => `RENAME renames the ${object}, so the previous version's queries that name it fail`,
    otherLanguage: (language: string): string =>
        `a LANGUAGE ${language} body is not analysed (only SQL and PL/pgSQL are); review what it does and pass \`--allow-destructive\``,
    syntaxError: (message: string): string => `does not parse as PostgreSQL (${message}), so nothing in this source was analysed`,
    bodySyntaxError: (message: string): string => `its PL/pgSQL body does not parse (${message}), so the body was not analysed`,
} as const;

/** `OBJECT_FOREIGN_TABLE` → `FOREIGN TABLE`. */
const objectWords = (type: ObjectType | undefined): string => (type ?? "OBJECT").replace(/^OBJECT_/, "").replace(/_/g, " ");

const DROP_REASONS: Partial<Record<ObjectType, string>> = {
    OBJECT_TABLE: REASONS.dropTable,
    OBJECT_FOREIGN_TABLE: REASONS.dropTable,
    OBJECT_SCHEMA: REASONS.dropSchema,
    OBJECT_TYPE: REASONS.dropType,
    OBJECT_DOMAIN: REASONS.dropType,
    OBJECT_VIEW: REASONS.dropView,
    OBJECT_MATVIEW: REASONS.dropMaterializedView,
    OBJECT_SEQUENCE: REASONS.dropSequence,
    OBJECT_FUNCTION: REASONS.dropFunction,
    OBJECT_PROCEDURE: REASONS.dropFunction,
    OBJECT_ROUTINE: REASONS.dropFunction,
    OBJECT_AGGREGATE: REASONS.dropFunction,
    OBJECT_EXTENSION: REASONS.dropExtension,
};

function dropReasons(drop: DropStmt): string[] {
    const base =
        drop.removeType === "OBJECT_INDEX"
            ? drop.concurrent
                ? REASONS.dropIndexConcurrently
                : REASONS.dropIndex
            : (DROP_REASONS[drop.removeType ?? "OBJECT_TABLE"] ?? REASONS.dropOther(objectWords(drop.removeType)));
    return [drop.behavior === "DROP_CASCADE" ? `${base}${REASONS.cascade}` : base];
}

/** Renames whose old name no query of the previous version uses. */
const HARMLESS_RENAMES = new Set<ObjectType>([
    "OBJECT_TABCONSTRAINT",
    "OBJECT_DOMCONSTRAINT",
    "OBJECT_INDEX",
    "OBJECT_TRIGGER",
    "OBJECT_RULE",
    "OBJECT_POLICY",
    "OBJECT_STATISTIC_EXT",
]);

function renameReasons(rename: RenameStmt): string[] {
    const type = rename.renameType ?? "OBJECT_TABLE";
    if (HARMLESS_RENAMES.has(type)) return [];
    if (type === "OBJECT_TABLE") return [REASONS.renameTable];
    if (type === "OBJECT_COLUMN" || type === "OBJECT_ATTRIBUTE") return [REASONS.renameColumn];
    return [REASONS.renameOther(objectWords(type).toLowerCase())];
}

const option = (options: Node[] | undefined, name: string): boolean =>
    (options ?? []).some((o) => {
        const def = (o as { DefElem?: DefElem }).DefElem;
        return def?.defname === name && !isFalse(def.arg);
    });
const isFalse = (arg: Node | undefined): boolean => {
    const value = arg as { Boolean?: { boolval?: boolean }; String?: { sval?: string } } | undefined;
    return value?.Boolean?.boolval === false || /^(false|off|0)$/i.test(value?.String?.sval ?? "");
};

/** Rules for statement nodes, wherever they sit (top level, a CTE, a PREPARE, a BEGIN ATOMIC body). */
const RULES: Record<string, (body: never) => string[]> = {
    DropStmt: dropReasons,
    DropdbStmt: () => [REASONS.dropDatabase],
    DropOwnedStmt: () => [REASONS.dropOwned],
    TruncateStmt: () => [REASONS.truncate],
    DeleteStmt: (d: { whereClause?: Node }) => (d.whereClause === undefined ? [REASONS.deleteWithoutWhere] : []),
    UpdateStmt: (u: { whereClause?: Node }) => (u.whereClause === undefined ? [REASONS.updateWithoutWhere] : []),
    AlterTableStmt: (a: AlterTableStmt) =>
        (a.cmds ?? []).flatMap((c) => alterCommandReasons((c as { AlterTableCmd: AlterTableCmd }).AlterTableCmd)),
    RenameStmt: renameReasons,
    AlterObjectSchemaStmt: () => [REASONS.setSchema],
    AlterEnumStmt: (e: { oldVal?: string }) => (e.oldVal === undefined ? [] : [REASONS.renameOther("enum value")]),
    IndexStmt: (i: IndexStmt) => (i.concurrent ? [] : [REASONS.createIndex]),
    ReindexStmt: (r: ReindexStmt) => (option(r.params, "concurrently") ? [] : [REASONS.reindex]),
    VacuumStmt: (v: VacuumStmt) => (v.is_vacuumcmd && option(v.options, "full") ? [REASONS.vacuumFull] : []),
    ClusterStmt: () => [REASONS.cluster],
    LockStmt: () => [REASONS.lockTable],
    RefreshMatViewStmt: (r: { concurrent?: boolean }) => (r.concurrent ? [] : [REASONS.refreshMaterializedView]),
};

/** Reasons of one statement, one per offending part, also for DML nested in CTEs or PREPARE. */
export function statementReasons(node: unknown): string[] {
    if (Array.isArray(node)) return node.flatMap(statementReasons);
    if (node === null || typeof node !== "object") return [];
    return Object.entries(node).flatMap(([key, value]) => {
        const rule = RULES[key];
        if (rule !== undefined) return [...rule(value as never), ...statementReasons(value)];
        if (/^Drop\w*Stmt$/.test(key))
            return [
                REASONS.dropOther(
                    key
                        .slice(4, -4)
                        .replace(/([a-z])([A-Z])/g, "$1 $2")
                        .toUpperCase(),
                ),
            ];
        return statementReasons(value);
    });
}

const REWRITING_COMMANDS = new Set(["AT_SetTableSpace", "AT_SetLogged", "AT_SetUnLogged", "AT_SetAccessMethod"]);

function alterCommandReasons(cmd: AlterTableCmd): string[] {
    switch (cmd.subtype) {
        case "AT_DropColumn":
            return [REASONS.dropColumn];
        case "AT_DropConstraint":
            return [REASONS.dropConstraint];
        case "AT_AlterColumnType":
            return [REASONS.typeChange];
        case "AT_SetNotNull":
            return [REASONS.setNotNull];
        case "AT_DetachPartition":
            return [REASONS.detachPartition];
        case "AT_AddColumn":
            return addColumnReasons((cmd.def as { ColumnDef: ColumnDef }).ColumnDef);
        case "AT_AddConstraint":
            return constraintReasons((cmd.def as { Constraint: Constraint }).Constraint);
        default:
            return REWRITING_COMMANDS.has(cmd.subtype ?? "") ? [REASONS.tableRewrite] : [];
    }
}

function constraintReasons(constraint: Constraint): string[] {
    switch (constraint.contype) {
        case "CONSTR_CHECK":
        case "CONSTR_FOREIGN":
            return constraint.skip_validation ? [] : [REASONS.addValidatedConstraint];
        case "CONSTR_PRIMARY":
        case "CONSTR_UNIQUE":
        case "CONSTR_EXCLUSION":
            return constraint.indexname === undefined ? [REASONS.addIndexConstraint] : [];
        default:
            return [];
    }
}

const SERIAL_TYPES = new Set(["serial", "bigserial", "smallserial", "serial2", "serial4", "serial8"]);

/**
 * Functions PostgreSQL evaluates once for ADD COLUMN … DEFAULT (immutable or stable), so
 * the value is stored in the catalog and no row is rewritten. Any other function may be
 * volatile, and a volatile default is computed for every existing row.
 */
const NON_VOLATILE_FUNCTIONS = new Set([
    "now",
    "statement_timestamp",
    "transaction_timestamp",
    "current_setting",
    "to_timestamp",
    "to_date",
    "make_interval",
    "make_date",
    "lower",
    "upper",
    "concat",
    "json_build_object",
    "jsonb_build_object",
    "json_build_array",
    "jsonb_build_array",
]);

function addColumnReasons(column: ColumnDef): string[] {
    const constraints = (column.constraints ?? []).map((c) => (c as { Constraint: Constraint }).Constraint);
    const has = (...types: string[]) => constraints.some((c) => types.includes(c.contype ?? ""));
    const typeName = (column.typeName?.names ?? []).map((n) => (n as { String?: { sval?: string } }).String?.sval ?? "").pop();
    const filled =
        SERIAL_TYPES.has(typeName ?? "") ||
        has("CONSTR_IDENTITY") ||
        constraints.some((c) => c.contype === "CONSTR_GENERATED" && c.generated_kind !== "v");
    const defaults = constraints.filter((c) => c.contype === "CONSTR_DEFAULT");
    const reasons: string[] = [];
    if (filled) reasons.push(REASONS.addFilledColumn);
    if (defaults.some((d) => callsUnknownFunction(d.raw_expr))) reasons.push(REASONS.addVolatileDefault);
    if (!filled && defaults.length === 0 && has("CONSTR_NOTNULL", "CONSTR_PRIMARY")) reasons.push(REASONS.addNotNullWithoutDefault);
    if (has("CONSTR_PRIMARY", "CONSTR_UNIQUE", "CONSTR_EXCLUSION")) reasons.push(REASONS.addIndexConstraint);
    return reasons;
}

function callsUnknownFunction(expr: unknown): boolean {
    if (Array.isArray(expr)) return expr.some(callsUnknownFunction);
    if (expr === null || typeof expr !== "object") return false;
    return Object.entries(expr).some(([key, value]) => {
        if (key === "SubLink") return true;
        if (key === "FuncCall") {
            const names = ((value as { funcname?: Node[] }).funcname ?? []).map((n) => (n as { String?: { sval?: string } }).String?.sval);
            const name = names[names.length - 1] ?? "";
            const schema = names.length > 1 ? names[0] : "pg_catalog";
            if (schema !== "pg_catalog" || !NON_VOLATILE_FUNCTIONS.has(name)) return true;
        }
        return callsUnknownFunction(value);
    });
}
