import { strict as assert } from "assert";
import { testPostgres } from "./postgres";

describe("test PostgreSQL cluster", () => {
    it("starts on loopback and runs SQL in a fresh database", async function () {
        this.timeout(60000);
        const pg = await testPostgres();
        const db = await pg.createDatabase("harness");
        await pg.psql(db, "CREATE TABLE t (n int); INSERT INTO t VALUES (1), (2), (3);");
        assert.equal(await pg.psql(db, "SELECT sum(n) FROM t;"), "6");
        assert.equal(pg.host, "127.0.0.1");
    });
});
