import { strict as assert } from "assert";
import { checkSchemaHead, SchemaHeadLog } from "../components/schemaHeadCheck";
import { renderReport } from "../plan/render";
import { freePort } from "./support/processes";
import { planOf, shopStack } from "./plan/stackFiles";

/** The shop stack without its database: no `release:databaseUrl`, `release:database` or `release:migrate`. */
function withoutDatabase(stack: string): string {
    return stack
        .split("\n")
        .filter(
            (line, i, lines) => !/release:(databaseUrl|database|migrate):/.test(line) && !/release:databaseUrl:/.test(lines[i - 1] ?? ""),
        )
        .join("\n");
}

describe("plan: the schema head is the recorded outputs' word, and the plan says so", function () {
    this.timeout(60000);
    const V142 = shopStack({ version: "v1.4.2" });
    const START = shopStack({ version: "v1.5.0", previous: "v1.4.2", canaryWeight: 0 });

    it("with `release:databaseUrl`: the line and the field say the preview checks the outputs against the ledger", async () => {
        const report = await planOf(START, V142);
        assert.deepEqual(report.schemaHeadSource, { from: "stack-outputs", ledger: "checked-at-preview" });
        const table = renderReport(report).split("\n").slice(3, 9);
        assert.deepEqual(table, [
            "  version      v1.4.2 → v1.5.0",
            "  previous     none → v1.4.2",
            "  weights      v1.4.2 100% → v1.5.0 0% / v1.4.2 100%",
            "  transition   release",
            "  schema head  v1.4.2 → v1.5.0",
            "  head source  the recorded stack outputs (the plan reads no database; `pulumi preview` checks them against the migration ledger)",
        ]);
        assert.equal(JSON.parse(JSON.stringify(report)).schemaHeadSource.ledger, "checked-at-preview");
    });

    it("without a database: the outputs are all there is, and the line says there is no ledger to check", async () => {
        const report = await planOf(withoutDatabase(START), withoutDatabase(V142));
        assert.deepEqual(report.schemaHeadSource, { from: "stack-outputs", ledger: "no-database-url" });
        const text = renderReport(report);
        assert.ok(
            text.includes(
                "  schema head  v1.4.2 → v1.5.0\n" +
                    "  head source  the recorded stack outputs (no `release:databaseUrl`, so no migration ledger to check them against)\n",
            ),
            text,
        );
    });

    it("the plan reads no database: after an offline evaluation the program's check is a no-op, with nothing said", async () => {
        await planOf(V142);
        const lines: string[] = [];
        const log: SchemaHeadLog = { info: (m) => void lines.push(m), warn: (m) => void lines.push(m) };
        const last = { version: "v1.4.2", schemaHead: "v1.4.2" };
        const databaseUrl = `postgresql://shop@127.0.0.1:${await freePort()}/shop`;
        assert.equal(await checkSchemaHead(last, { app: "shop", databaseUrl, log }), last);
        assert.deepEqual(lines, []);
    });
});
