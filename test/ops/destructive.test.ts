import { strict as assert } from "assert";
import { excerpt, findDestructiveStatements, REASONS } from "../../ops/migrate/destructive";
import { splitStatements, tokenizeSql } from "../../ops/migrate/sqlTokens";

const reasonsOf = (sql: string): string[] => findDestructiveStatements(sql).map((f) => f.reason);

describe("findDestructiveStatements", () => {
    describe("destructive statements", () => {
        const cases: Array<[string, string, string[]]> = [
            ["DROP TABLE", 'DROP TABLE "User";', [REASONS.dropTable]],
            ["DROP TABLE IF EXISTS, lower case", "drop table if exists legacy cascade;", [REASONS.dropTable]],
            ["DROP SCHEMA", "DROP SCHEMA archive CASCADE;", [REASONS.dropSchema]],
            ["DROP DATABASE", "DROP DATABASE old;", [REASONS.dropDatabase]],
            ["TRUNCATE", "TRUNCATE TABLE sessions;", [REASONS.truncate]],
            ["TRUNCATE without TABLE", "truncate sessions, tokens RESTART IDENTITY;", [REASONS.truncate]],
            ["DELETE without WHERE", "DELETE FROM sessions;", [REASONS.deleteWithoutWhere]],
            [
                "DELETE in a CTE without WHERE",
                "WITH gone AS (DELETE FROM t RETURNING id) SELECT count(*) FROM gone;",
                [REASONS.deleteWithoutWhere],
            ],
            [
                "DELETE whose only WHERE is in a subquery",
                "DELETE FROM t USING (SELECT id FROM u WHERE u.x) s;",
                [REASONS.deleteWithoutWhere],
            ],
            ["DROP COLUMN", 'ALTER TABLE "Post" DROP COLUMN "title";', [REASONS.dropColumn]],
            ["DROP without COLUMN keyword", "ALTER TABLE post DROP IF EXISTS title;", [REASONS.dropColumn]],
            ["type change", 'ALTER TABLE "a" ALTER COLUMN "b" SET DATA TYPE VARCHAR(10);', [REASONS.typeChange]],
            ["type change, short form", "ALTER TABLE a ALTER b TYPE bigint USING b::bigint;", [REASONS.typeChange]],
            ["SET NOT NULL", "ALTER TABLE a ALTER COLUMN b SET NOT NULL;", [REASONS.setNotNull]],
            [
                "ADD COLUMN NOT NULL without default",
                'ALTER TABLE "Post" ADD COLUMN "slug" TEXT NOT NULL;',
                [REASONS.addNotNullWithoutDefault],
            ],
            [
                "ADD without COLUMN keyword",
                "ALTER TABLE post ADD IF NOT EXISTS slug text CONSTRAINT slug_nn NOT NULL;",
                [REASONS.addNotNullWithoutDefault],
            ],
            [
                "ADD COLUMN PRIMARY KEY without default",
                "ALTER TABLE post ADD COLUMN uid uuid PRIMARY KEY;",
                [REASONS.addNotNullWithoutDefault],
            ],
            ["rename table", "ALTER TABLE post RENAME TO article;", [REASONS.renameTable]],
            ["rename column", "ALTER TABLE ONLY public.post RENAME COLUMN title TO heading;", [REASONS.renameColumn]],
            ["rename column without COLUMN keyword", "ALTER TABLE IF EXISTS post RENAME title TO heading;", [REASONS.renameColumn]],
        ];
        for (const [name, sql, expected] of cases) {
            it(name, () => assert.deepEqual(reasonsOf(sql), expected));
        }
    });

    describe("not destructive", () => {
        const cases: Array<[string, string]> = [
            ["a column named drop_count", "ALTER TABLE stats ADD COLUMN drop_count integer DEFAULT 0; SELECT drop_count FROM stats;"],
            ["DROP TABLE inside a string literal", "INSERT INTO notes (body) VALUES ('DROP TABLE users; TRUNCATE x');"],
            ["DROP TABLE inside an escape string with \\'", "INSERT INTO notes VALUES (E'it\\'s; DROP TABLE users');"],
            ["doubled quotes inside a string", "INSERT INTO notes VALUES ('it''s; DROP TABLE users');"],
            [
                "DROP TABLE inside a dollar-quoted body",
                "CREATE FUNCTION f() RETURNS void AS $$ BEGIN DROP TABLE t; END $$ LANGUAGE plpgsql;",
            ],
            ["DROP TABLE inside a tagged dollar quote", "DO $body$ BEGIN EXECUTE 'DROP TABLE t'; TRUNCATE u; END $body$;"],
            ["DROP TABLE in a line comment", "-- DROP TABLE users;\nCREATE TABLE users (id int);"],
            ["DROP TABLE in a nested block comment", "/* outer /* DROP TABLE a; */ still comment; DELETE FROM b; */ SELECT 1;"],
            ["NOT NULL column WITH a default", 'ALTER TABLE "Post" ADD COLUMN "views" INTEGER NOT NULL DEFAULT 0;'],
            ["NOT NULL serial column", "ALTER TABLE post ADD COLUMN seq bigserial NOT NULL;"],
            ["NOT NULL identity column", "ALTER TABLE post ADD COLUMN n int NOT NULL GENERATED ALWAYS AS IDENTITY;"],
            ["NOT NULL only inside a CHECK", "ALTER TABLE post ADD COLUMN note text CHECK (note IS NOT NULL OR true);"],
            ["ADD CONSTRAINT … NOT NULL", "ALTER TABLE post ADD CONSTRAINT c CHECK (x IS NOT NULL);"],
            ["DROP CONSTRAINT", "ALTER TABLE post DROP CONSTRAINT post_pkey;"],
            ["DROP NOT NULL and DROP DEFAULT", "ALTER TABLE post ALTER COLUMN a DROP NOT NULL, ALTER COLUMN b DROP DEFAULT;"],
            ["a column named type", "ALTER TABLE post ALTER COLUMN type SET DEFAULT 'x';"],
            ["DROP INDEX", 'DROP INDEX IF EXISTS "Post_slug_key";'],
            ["DROP VIEW and DROP FUNCTION", "DROP VIEW v; DROP FUNCTION f();"],
            ["DELETE with WHERE", "DELETE FROM sessions WHERE expires_at < now();"],
            ["DELETE with WHERE after a USING subquery", "DELETE FROM t USING (SELECT id FROM u) s WHERE t.id = s.id;"],
            ["ON DELETE CASCADE", "ALTER TABLE post ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES u(id) ON DELETE CASCADE;"],
            ["RENAME CONSTRAINT", "ALTER TABLE post RENAME CONSTRAINT a TO b;"],
            ["a quoted identifier that reads DROP", 'SELECT "drop" FROM "table";'],
            ["CREATE TABLE with NOT NULL columns", "CREATE TABLE t (id serial PRIMARY KEY, name text NOT NULL);"],
            ["UPDATE backfill", "UPDATE post SET views = 0;"],
            ["empty input", ""],
            ["only comments", "-- nothing\n/* at all */"],
        ];
        for (const [name, sql] of cases) {
            it(name, () => assert.deepEqual(findDestructiveStatements(sql), []));
        }
    });

    it("judges each action of a multi-action ALTER TABLE on its own", () => {
        const sql = [
            "-- AlterTable",
            'ALTER TABLE "Post" DROP COLUMN "title",',
            'ADD COLUMN "views" INTEGER NOT NULL DEFAULT 0,',
            'ADD COLUMN "slug" TEXT NOT NULL,',
            'ALTER COLUMN "body" SET DATA TYPE VARCHAR(200),',
            'ADD COLUMN "price" NUMERIC(10, 2) NOT NULL;',
        ].join("\n");
        assert.deepEqual(reasonsOf(sql), [
            REASONS.dropColumn,
            REASONS.addNotNullWithoutDefault,
            REASONS.typeChange,
            REASONS.addNotNullWithoutDefault,
        ]);
    });

    it("reports the line where a multi-line statement starts and its collapsed text", () => {
        const sql =
            'CREATE TABLE a (id int);\n\n-- Django sqlmigrate output\nALTER TABLE\n    "shop_item"\n    DROP COLUMN "sku" CASCADE;\nCOMMIT;';
        assert.deepEqual(findDestructiveStatements(sql), [
            { statement: 'ALTER TABLE "shop_item" DROP COLUMN "sku" CASCADE', line: 4, reason: REASONS.dropColumn },
        ]);
    });

    it("counts lines inside strings and comments it skipped", () => {
        const sql = "INSERT INTO t VALUES ('a\nb\nc');\n/* x\ny */\nTRUNCATE t;";
        assert.deepEqual(findDestructiveStatements(sql), [{ statement: "TRUNCATE t", line: 6, reason: REASONS.truncate }]);
    });

    it("finds every destructive statement in order", () => {
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

    it("keeps scanning after an unterminated string without throwing", () => {
        assert.deepEqual(findDestructiveStatements("SELECT 'open; DROP TABLE t;"), []);
    });

    it("cuts long statements to an excerpt", () => {
        const long = `DROP TABLE ${"x".repeat(300)};`;
        const [finding] = findDestructiveStatements(long);
        assert.equal(finding.statement.length, 160);
        assert.ok(finding.statement.endsWith("…"));
        assert.equal(excerpt("short"), "short");
    });
});

describe("tokenizeSql", () => {
    it("keeps $1 parameters and identifiers with $ out of dollar quoting", () => {
        const tokens = tokenizeSql("SELECT a$b FROM t WHERE x = $1; DROP TABLE t;");
        assert.deepEqual(
            tokens.map((t) => t.text),
            ["SELECT", "a$b", "FROM", "t", "WHERE", "x", "=", "$", "1", ";", "DROP", "TABLE", "t", ";"],
        );
    });

    it("splits statements at top-level semicolons only", () => {
        const statements = splitStatements("CREATE FUNCTION f() AS $$ a; b; $$;\nSELECT ';';");
        assert.deepEqual(
            statements.map((s) => [s.line, s.text]),
            [
                [1, "CREATE FUNCTION f() AS $$ a; b; $$"],
                [2, "SELECT ';'"],
            ],
        );
    });
});
