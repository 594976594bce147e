import { strict as assert } from "assert";
import { findDestructiveStatements, loadSqlParser, REASONS } from "../../ops/migrate/destructive";

const reasonsOf = (sql: string): string[] => findDestructiveStatements(sql).map((f) => f.reason);
const cascade = (reason: string): string => `${reason}${REASONS.cascade}`;

/** [name, one statement without its `;`, the exact reasons it is refused for]. */
const DESTRUCTIVE: Array<[string, string, string[]]> = [
    ["DROP TABLE", 'DROP TABLE "User"', [REASONS.dropTable]],
    ["DROP TABLE IF EXISTS … CASCADE, lower case", "drop table if exists legacy cascade", [cascade(REASONS.dropTable)]],
    ["DROP SCHEMA", "DROP SCHEMA archive", [REASONS.dropSchema]],
    ["DROP SCHEMA CASCADE", "DROP SCHEMA archive CASCADE", [cascade(REASONS.dropSchema)]],
    ["DROP DATABASE", "DROP DATABASE old", [REASONS.dropDatabase]],
    ["DROP DATABASE WITH (FORCE)", "DROP DATABASE IF EXISTS old WITH (FORCE)", [REASONS.dropDatabase]],
    ["DROP TYPE", "DROP TYPE mood", [REASONS.dropType]],
    ["DROP TYPE CASCADE", "DROP TYPE mood CASCADE", [cascade(REASONS.dropType)]],
    ["DROP DOMAIN", "DROP DOMAIN email", [REASONS.dropType]],
    ["DROP VIEW", "DROP VIEW active_users", [REASONS.dropView]],
    ["DROP VIEW CASCADE", "DROP VIEW active_users CASCADE", [cascade(REASONS.dropView)]],
    ["DROP MATERIALIZED VIEW", "DROP MATERIALIZED VIEW totals", [REASONS.dropMaterializedView]],
    ["DROP MATERIALIZED VIEW CASCADE", "DROP MATERIALIZED VIEW totals CASCADE", [cascade(REASONS.dropMaterializedView)]],
    ["DROP SEQUENCE", "DROP SEQUENCE order_no", [REASONS.dropSequence]],
    ["DROP SEQUENCE CASCADE", "DROP SEQUENCE order_no CASCADE", [cascade(REASONS.dropSequence)]],
    ["DROP INDEX", 'DROP INDEX IF EXISTS "Post_slug_key"', [REASONS.dropIndex]],
    ["DROP INDEX CASCADE", "DROP INDEX post_slug CASCADE", [cascade(REASONS.dropIndex)]],
    ["DROP INDEX CONCURRENTLY", "DROP INDEX CONCURRENTLY post_slug", [REASONS.dropIndexConcurrently]],
    ["DROP FUNCTION", "DROP FUNCTION slugify(text)", [REASONS.dropFunction]],
    ["DROP FUNCTION CASCADE", "DROP FUNCTION slugify(text) CASCADE", [cascade(REASONS.dropFunction)]],
    ["DROP PROCEDURE", "DROP PROCEDURE archive_all()", [REASONS.dropFunction]],
    ["DROP EXTENSION", "DROP EXTENSION pg_trgm", [REASONS.dropExtension]],
    ["DROP EXTENSION CASCADE", "DROP EXTENSION pg_trgm CASCADE", [cascade(REASONS.dropExtension)]],
    ["DROP TRIGGER (any other object)", "DROP TRIGGER audit ON post", [REASONS.dropOther("TRIGGER")]],
    ["DROP OWNED", "DROP OWNED BY legacy_app", [REASONS.dropOwned]],
    ["TRUNCATE", "TRUNCATE TABLE sessions", [REASONS.truncate]],
    ["TRUNCATE of two tables", "truncate sessions, tokens RESTART IDENTITY", [REASONS.truncate]],
    ["DELETE without WHERE", "DELETE FROM sessions", [REASONS.deleteWithoutWhere]],
    ["DELETE in a CTE", "WITH gone AS (DELETE FROM t RETURNING id) SELECT count(*) FROM gone", [REASONS.deleteWithoutWhere]],
    ["DELETE whose only WHERE is in a subquery", "DELETE FROM t USING (SELECT id FROM u WHERE u.x) s", [REASONS.deleteWithoutWhere]],
    ["UPDATE without WHERE", "UPDATE t SET c = NULL", [REASONS.updateWithoutWhere]],
    ["UPDATE … FROM without WHERE", "UPDATE t SET c = u.c FROM u", [REASONS.updateWithoutWhere]],
    ["DROP COLUMN", 'ALTER TABLE "Post" DROP COLUMN "title"', [REASONS.dropColumn]],
    ["DROP without COLUMN keyword", "ALTER TABLE post DROP IF EXISTS title", [REASONS.dropColumn]],
    ["DROP CONSTRAINT", "ALTER TABLE post DROP CONSTRAINT post_author_fkey", [REASONS.dropConstraint]],
    ["ALTER COLUMN TYPE", 'ALTER TABLE "a" ALTER COLUMN "b" SET DATA TYPE VARCHAR(10)', [REASONS.typeChange]],
    ["ALTER COLUMN TYPE, short form", "ALTER TABLE a ALTER b TYPE bigint USING b::bigint", [REASONS.typeChange]],
    ["SET NOT NULL", "ALTER TABLE a ALTER COLUMN b SET NOT NULL", [REASONS.setNotNull]],
    ["ADD COLUMN DEFAULT random()", "ALTER TABLE a ADD COLUMN r float8 DEFAULT random()", [REASONS.addVolatileDefault]],
    [
        "ADD COLUMN DEFAULT gen_random_uuid()",
        "ALTER TABLE a ADD COLUMN u uuid NOT NULL DEFAULT gen_random_uuid()",
        [REASONS.addVolatileDefault],
    ],
    [
        "ADD COLUMN DEFAULT clock_timestamp()",
        "ALTER TABLE a ADD COLUMN t timestamptz DEFAULT clock_timestamp()",
        [REASONS.addVolatileDefault],
    ],
    ["ADD COLUMN DEFAULT an unknown function", "ALTER TABLE a ADD COLUMN s text DEFAULT app.next_code()", [REASONS.addVolatileDefault]],
    ["ADD COLUMN bigserial", "ALTER TABLE a ADD COLUMN seq bigserial", [REASONS.addFilledColumn]],
    ["ADD COLUMN IDENTITY", "ALTER TABLE a ADD COLUMN n int NOT NULL GENERATED ALWAYS AS IDENTITY", [REASONS.addFilledColumn]],
    ["ADD COLUMN GENERATED STORED", "ALTER TABLE a ADD COLUMN d int GENERATED ALWAYS AS (n * 2) STORED", [REASONS.addFilledColumn]],
    ["ADD COLUMN NOT NULL without DEFAULT", 'ALTER TABLE "Post" ADD COLUMN "slug" TEXT NOT NULL', [REASONS.addNotNullWithoutDefault]],
    [
        "ADD COLUMN PRIMARY KEY",
        "ALTER TABLE post ADD COLUMN uid uuid PRIMARY KEY",
        [REASONS.addNotNullWithoutDefault, REASONS.addIndexConstraint],
    ],
    ["ADD FOREIGN KEY validated", "ALTER TABLE post ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES u (id)", [REASONS.addValidatedConstraint]],
    ["ADD CHECK validated", "ALTER TABLE post ADD CHECK (views >= 0)", [REASONS.addValidatedConstraint]],
    ["ADD UNIQUE building its index", "ALTER TABLE post ADD CONSTRAINT slug_key UNIQUE (slug)", [REASONS.addIndexConstraint]],
    ["SET TABLESPACE", "ALTER TABLE post SET TABLESPACE fast", [REASONS.tableRewrite]],
    ["DETACH PARTITION", "ALTER TABLE events DETACH PARTITION events_2023", [REASONS.detachPartition]],
    ["RENAME TO (table)", "ALTER TABLE post RENAME TO article", [REASONS.renameTable]],
    ["RENAME COLUMN", "ALTER TABLE ONLY public.post RENAME COLUMN title TO heading", [REASONS.renameColumn]],
    ["RENAME without COLUMN keyword", "ALTER TABLE IF EXISTS post RENAME title TO heading", [REASONS.renameColumn]],
    ["RENAME a view", "ALTER VIEW active RENAME TO current_users", [REASONS.renameOther("view")]],
    ["RENAME a schema", "ALTER SCHEMA shop RENAME TO store", [REASONS.renameOther("schema")]],
    ["RENAME an enum value", "ALTER TYPE mood RENAME VALUE 'sad' TO 'blue'", [REASONS.renameOther("enum value")]],
    ["SET SCHEMA", "ALTER TABLE post SET SCHEMA archive", [REASONS.setSchema]],
    ["CREATE INDEX without CONCURRENTLY", "CREATE INDEX post_slug ON post (slug)", [REASONS.createIndex]],
    ["CREATE UNIQUE INDEX without CONCURRENTLY", "CREATE UNIQUE INDEX IF NOT EXISTS k ON post (slug)", [REASONS.createIndex]],
    ["REINDEX", "REINDEX TABLE post", [REASONS.reindex]],
    ["VACUUM FULL", "VACUUM FULL post", [REASONS.vacuumFull]],
    ["VACUUM (FULL, ANALYZE)", "VACUUM (FULL, ANALYZE) post", [REASONS.vacuumFull]],
    ["CLUSTER", "CLUSTER post USING post_pkey", [REASONS.cluster]],
    ["LOCK TABLE", "LOCK TABLE post", [REASONS.lockTable]],
    ["LOCK TABLE IN SHARE MODE", "LOCK post IN SHARE MODE", [REASONS.lockTable]],
    ["REFRESH MATERIALIZED VIEW", "REFRESH MATERIALIZED VIEW totals", [REASONS.refreshMaterializedView]],
];

const HARMLESS: Array<[string, string]> = [
    ["CREATE TABLE with NOT NULL columns", "CREATE TABLE t (id serial PRIMARY KEY, name text NOT NULL, CHECK (name <> ''))"],
    ["ADD COLUMN nullable", 'ALTER TABLE "Post" ADD COLUMN "subtitle" TEXT'],
    ["ADD COLUMN NOT NULL with a constant DEFAULT", 'ALTER TABLE "Post" ADD COLUMN "views" INTEGER NOT NULL DEFAULT 0'],
    ["ADD COLUMN DEFAULT now()", "ALTER TABLE post ADD COLUMN created_at timestamptz NOT NULL DEFAULT now()"],
    [
        "ADD COLUMN DEFAULT CURRENT_TIMESTAMP and a cast",
        "ALTER TABLE post ADD COLUMN a timestamptz DEFAULT CURRENT_TIMESTAMP, ADD b text[] DEFAULT '{}'::text[]",
    ],
    ["ADD COLUMN GENERATED VIRTUAL", "ALTER TABLE a ADD COLUMN d int GENERATED ALWAYS AS (n * 2) VIRTUAL"],
    ["CREATE INDEX CONCURRENTLY", "CREATE INDEX CONCURRENTLY post_slug ON post (slug)"],
    ["INSERT", "INSERT INTO notes (body) VALUES ('DROP TABLE users; TRUNCATE x')"],
    ["INSERT … SELECT", "INSERT INTO archive SELECT * FROM post WHERE created_at < now() - interval '1 year'"],
    ["DELETE with WHERE", "DELETE FROM sessions WHERE expires_at < now()"],
    ["DELETE with WHERE after a USING subquery", "DELETE FROM t USING (SELECT id FROM u) s WHERE t.id = s.id"],
    ["UPDATE with WHERE (a batched backfill)", "UPDATE post SET views = 0 WHERE id BETWEEN 1 AND 1000 AND views IS NULL"],
    ["ADD FOREIGN KEY NOT VALID", "ALTER TABLE post ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES u (id) ON DELETE CASCADE NOT VALID"],
    ["VALIDATE CONSTRAINT", "ALTER TABLE post VALIDATE CONSTRAINT fk"],
    ["ADD UNIQUE USING INDEX", "ALTER TABLE post ADD CONSTRAINT slug_key UNIQUE USING INDEX post_slug"],
    ["DROP NOT NULL and DROP DEFAULT", "ALTER TABLE post ALTER COLUMN a DROP NOT NULL, ALTER COLUMN b DROP DEFAULT"],
    ["SET DEFAULT on a column named type", "ALTER TABLE post ALTER COLUMN type SET DEFAULT 'x'"],
    ["RENAME CONSTRAINT and an index", "ALTER TABLE post RENAME CONSTRAINT a TO b; ALTER INDEX i RENAME TO j"],
    ["REINDEX CONCURRENTLY", "REINDEX (CONCURRENTLY) INDEX post_slug; REINDEX TABLE CONCURRENTLY post"],
    ["VACUUM and ANALYZE", "VACUUM (ANALYZE) post; ANALYZE post"],
    ["REFRESH MATERIALIZED VIEW CONCURRENTLY", "REFRESH MATERIALIZED VIEW CONCURRENTLY totals"],
    ["CREATE VIEW, TYPE, EXTENSION", "CREATE VIEW v AS SELECT 1; CREATE TYPE mood AS ENUM ('ok'); CREATE EXTENSION IF NOT EXISTS pg_trgm"],
    ["ALTER TYPE ADD VALUE", "ALTER TYPE mood ADD VALUE 'meh'"],
    ["DROP TABLE in comments", "-- DROP TABLE users;\n/* outer /* DROP TABLE a; */ still; DELETE FROM b; */ SELECT 1"],
    ["quoted identifiers that read like keywords", 'SELECT "drop" FROM "table"'],
    ["a transaction around the migration", "BEGIN; CREATE TABLE t (id int); COMMIT"],
    ["empty input", ""],
];

describe("findDestructiveStatements (PostgreSQL's parser)", () => {
    before(loadSqlParser);

    describe("each destructive statement, with its exact reasons", () => {
        for (const [name, sql, expected] of DESTRUCTIVE) {
            it(name, () => assert.deepEqual(reasonsOf(`${sql};`), expected));
        }
    });

    describe("the same statements inside a DO block", () => {
        for (const [name, sql, expected] of DESTRUCTIVE) {
            it(name, () => {
                const findings = findDestructiveStatements(`SELECT 1;\nDO $$\nBEGIN\n    ${sql};\nEND\n$$;`);
                assert.deepEqual(
                    findings.map((f) => [f.line, f.reason, f.within]),
                    expected.map((reason) => [4, reason, "the DO block at line 2"]),
                );
            });
        }
    });

    describe("the same statements inside a PL/pgSQL function the migration calls", () => {
        for (const [name, sql, expected] of DESTRUCTIVE) {
            it(name, () => {
                const migration = [
                    "CREATE OR REPLACE FUNCTION app.migrate_v2() RETURNS void",
                    "LANGUAGE plpgsql AS $body$",
                    "DECLARE n integer;",
                    "BEGIN",
                    "    IF n IS NULL THEN",
                    `        ${sql};`,
                    "    END IF;",
                    "END",
                    "$body$;",
                    "SELECT app.migrate_v2();",
                ].join("\n");
                assert.deepEqual(
                    findDestructiveStatements(migration).map((f) => [f.line, f.reason, f.within]),
                    expected.map((reason) => [6, reason, "function `app.migrate_v2` created at line 1"]),
                );
            });
        }
    });

    it("statements inside a LANGUAGE sql function and a BEGIN ATOMIC procedure", () => {
        const sql = [
            "CREATE FUNCTION purge() RETURNS void LANGUAGE sql AS $$",
            "    DELETE FROM sessions;",
            "    TRUNCATE tokens;",
            "$$;",
            "CREATE PROCEDURE reset() LANGUAGE sql BEGIN ATOMIC UPDATE counters SET n = 0; END;",
            "CALL reset();",
        ].join("\n");
        assert.deepEqual(
            findDestructiveStatements(sql).map((f) => [f.line, f.reason, f.within ?? ""]),
            [
                [2, REASONS.deleteWithoutWhere, "function `purge` created at line 1"],
                [3, REASONS.truncate, "function `purge` created at line 1"],
                [5, REASONS.updateWithoutWhere, ""],
            ],
        );
    });

    describe("harmless migrations are reported as nothing", () => {
        for (const [name, sql] of HARMLESS) {
            it(name, () => assert.deepEqual(findDestructiveStatements(sql), []));
        }
        it("a harmless DO block", () => {
            const sql =
                "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM t) THEN INSERT INTO t VALUES (1); END IF; RAISE NOTICE 'DROP TABLE t'; END $$;";
            assert.deepEqual(findDestructiveStatements(sql), []);
        });
    });

    it("does not report work on a table created earlier in the same file, only on tables that existed", () => {
        const sql = [
            'CREATE TABLE "Post" (id serial, "authorId" int NOT NULL);',
            'CREATE UNIQUE INDEX "Post_id_key" ON "Post" (id);',
            'ALTER TABLE "Post" ADD CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("authorId") REFERENCES "User" (id);',
            'CREATE INDEX "User_email_idx" ON "User" (email);',
            'WITH moved AS (DELETE FROM "User" RETURNING id) INSERT INTO "Post" (id) SELECT id FROM moved;',
        ].join("\n");
        assert.deepEqual(
            findDestructiveStatements(sql).map((f) => [f.line, f.reason]),
            [
                [4, REASONS.createIndex],
                [5, REASONS.deleteWithoutWhere],
            ],
        );
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
});
