import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { describeFinding, excerpt, findDestructiveStatements, loadSqlParser, REASONS } from "../../ops/migrate/destructive";

const PRISMA_DIR = path.join(__dirname, "..", "fixtures", "migrations", "prisma");
const inDo = (body: string): string => `DO $$\nDECLARE n text := 'post'; r record; c refcursor;\nBEGIN\n    ${body}\nEND\n$$;`;
const IN_DO = "the DO block at line 1";

describe("findDestructiveStatements: what cannot be analysed is reported, never passed", () => {
    before(loadSqlParser);

    describe("dynamic EXECUTE in PL/pgSQL", () => {
        const cases: Array<[string, string, string]> = [
            ["EXECUTE of a concatenation", "EXECUTE 'DROP TABLE ' || quote_ident(n);", "EXECUTE 'DROP TABLE ' || quote_ident(n)"],
            [
                "EXECUTE format(…) USING",
                "EXECUTE format('DELETE FROM %I WHERE id = $1', n) USING 1;",
                "EXECUTE format('DELETE FROM %I WHERE id = $1', n)",
            ],
            ["EXECUTE of a variable", "EXECUTE n;", "EXECUTE n"],
            ["FOR … IN EXECUTE", "FOR r IN EXECUTE 'SELECT * FROM ' || n LOOP END LOOP;", "EXECUTE 'SELECT * FROM ' || n"],
            ["OPEN … FOR EXECUTE", "OPEN c FOR EXECUTE 'SELECT ' || n;", "EXECUTE 'SELECT ' || n"],
        ];
        for (const [name, body, statement] of cases) {
            it(name, () => {
                assert.deepEqual(findDestructiveStatements(inDo(body)), [
                    { statement, line: 4, reason: REASONS.dynamicSql, within: IN_DO },
                ]);
            });
        }

        it("RETURN QUERY EXECUTE in a set-returning function", () => {
            const sql =
                "CREATE FUNCTION rows_of(n text) RETURNS SETOF record LANGUAGE plpgsql AS $$\nBEGIN\n  RETURN QUERY EXECUTE 'SELECT * FROM ' || n;\nEND $$;";
            assert.deepEqual(findDestructiveStatements(sql), [
                {
                    statement: "EXECUTE 'SELECT * FROM ' || n",
                    line: 3,
                    reason: REASONS.dynamicSql,
                    within: "function `rows_of` created at line 1",
                },
            ]);
        });

        it("analyses EXECUTE of a constant string like any statement", () => {
            assert.deepEqual(findDestructiveStatements(inDo("EXECUTE 'ALTER TABLE post DROP COLUMN title';")), [
                {
                    statement: "ALTER TABLE post DROP COLUMN title",
                    line: 4,
                    reason: REASONS.dropColumn,
                    within: `EXECUTE of a constant string in ${IN_DO}`,
                },
            ]);
            assert.deepEqual(findDestructiveStatements(inDo("EXECUTE 'SELECT 1'; EXECUTE E'INSERT INTO t VALUES (''it''''s'')';")), []);
        });

        it("a DO block inside a function body: both places are named", () => {
            const sql = "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $f$\nBEGIN\n  DO $d$ BEGIN EXECUTE n; END $d$;\nEND $f$;";
            assert.deepEqual(findDestructiveStatements(sql), [
                {
                    statement: "EXECUTE n",
                    line: 3,
                    reason: REASONS.dynamicSql,
                    within: "the DO block at line 3, in function `f` created at line 1",
                },
            ]);
        });
    });

    describe("bodies and files that do not parse", () => {
        it("a file with a syntax error is one finding at the error's line, even after multi-byte text", () => {
            const sql = "-- Überschrift ✓ 😀\nCREATE TABLE t (name text DEFAULT 'naïve');\nALTER TABLE t DROPP COLUMN name;\nDROP TABLE t;";
            assert.deepEqual(findDestructiveStatements(sql), [
                {
                    statement: "ALTER TABLE t DROPP COLUMN name;",
                    line: 3,
                    reason: REASONS.syntaxError('syntax error at or near "DROPP"'),
                },
            ]);
        });

        it("an unterminated string is a syntax error, not a pass", () => {
            assert.deepEqual(reasonsOf("SELECT 'open; DROP TABLE t;"), [
                REASONS.syntaxError('unterminated quoted string at or near "\'open; DROP TABLE t;"'),
            ]);
        });

        it("a PL/pgSQL body that does not parse", () => {
            assert.deepEqual(findDestructiveStatements("SELECT 1;\nDO $$ BEGIN DROP TABLE t END $$;"), [
                {
                    statement: "DO $$ BEGIN DROP TABLE t END $$",
                    line: 2,
                    reason: REASONS.bodySyntaxError("unexpected end of function definition at end of input"),
                },
            ]);
        });

        it("a body in another language", () => {
            assert.deepEqual(reasonsOf("DO LANGUAGE plpython3u $$ plpy.execute('DROP TABLE t') $$;"), [
                REASONS.otherLanguage("plpython3u"),
            ]);
            assert.deepEqual(reasonsOf("CREATE FUNCTION f() RETURNS void LANGUAGE plperl AS $$ 1; $$;"), [REASONS.otherLanguage("plperl")]);
        });
    });

    describe("where a finding points", () => {
        it("the line where a multi-line statement starts and its collapsed text", () => {
            const sql =
                'CREATE TABLE a (id int);\n\n-- Django sqlmigrate output\nALTER TABLE\n    "shop_item"\n    DROP COLUMN "sku" CASCADE;\nCOMMIT;';
            assert.deepEqual(findDestructiveStatements(sql), [
                { statement: 'ALTER TABLE "shop_item" DROP COLUMN "sku" CASCADE', line: 4, reason: REASONS.dropColumn },
            ]);
        });

        it("counts lines inside strings and comments, with multi-byte characters before the statement", () => {
            const sql = "INSERT INTO t VALUES ('日本\nb\nc');\n/* ✓ x\ny */\nTRUNCATE t;\nDO $$\nBEGIN\n  -- ü\n  DELETE FROM t;\nEND $$;";
            assert.deepEqual(
                findDestructiveStatements(sql).map((f) => [f.line, f.statement, f.within ?? ""]),
                [
                    [6, "TRUNCATE t", ""],
                    [10, "DELETE FROM t", "the DO block at line 7"],
                ],
            );
        });

        it("every finding in source order", () => {
            const sql = "DELETE FROM a;\nselect 1;\ndrop table b;\nTruncate c;";
            assert.deepEqual(
                findDestructiveStatements(sql).map((f) => [f.line, f.reason]),
                [
                    [1, REASONS.deleteWithoutWhere],
                    [3, REASONS.dropTable],
                    [4, REASONS.truncate],
                ],
            );
        });

        it("cuts long statements to an excerpt and prints a finding on one line", () => {
            const [finding] = findDestructiveStatements(`DROP TABLE ${"x".repeat(300)};`);
            assert.equal(finding.statement.length, 160);
            assert.ok(finding.statement.endsWith("…"));
            assert.equal(excerpt("  short\n  text "), "short text");
            assert.equal(
                describeFinding("m.sql", { statement: "DELETE FROM t", line: 4, reason: REASONS.deleteWithoutWhere, within: IN_DO }),
                `m.sql:4: ${REASONS.deleteWithoutWhere}: DELETE FROM t (in ${IN_DO})`,
            );
        });
    });

    it("reads a Prisma migration.sql as Prisma writes it (warning comment, multi-action ALTER)", () => {
        const sql = fs.readFileSync(path.join(PRISMA_DIR, "20240301000000_drop_legacy", "migration.sql"), "utf8");
        assert.deepEqual(findDestructiveStatements(sql), [
            {
                statement: 'ALTER TABLE "Post" DROP COLUMN "title", ADD COLUMN "slug" TEXT NOT NULL DEFAULT \'\'',
                line: 9,
                reason: REASONS.dropColumn,
            },
            { statement: 'DROP TABLE "Legacy"', line: 13, reason: REASONS.dropTable },
        ]);
        for (const name of ["20240101000000_init", "20240201000000_add_posts"]) {
            const additive = fs.readFileSync(path.join(PRISMA_DIR, name, "migration.sql"), "utf8");
            assert.deepEqual(findDestructiveStatements(additive), [], name);
        }
    });
});

function reasonsOf(sql: string): string[] {
    return findDestructiveStatements(sql).map((f) => f.reason);
}
