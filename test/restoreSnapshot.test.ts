import { strict as assert } from "assert";
import { ecsConfig } from "./support/fixtures";
import { resource } from "./support/inspect";
import { ProgramRun, runProgram } from "./support/mockEngine";
import { StackConfig } from "./support/mockProviders";

/** `release:restoreFrom` naming a pre-upgrade RDS or Aurora snapshot: `rds-restore` puts it back under the live identifier. */

const DATABASE_URL = "postgres://shop:s3cr3t-pw@db.internal:5432/shop";
const secretKeys = ["release:databaseUrl"];
const SNAPSHOT = "shop-v1-5-0-pre-upgrade";

function config(database: Record<string, unknown>, overrides: StackConfig = {}): StackConfig {
    return ecsConfig({
        "release:databaseUrl": DATABASE_URL,
        "release:database": { ledger: "prisma", ...database },
        "release:migrate": { command: "npx prisma migrate deploy", component: "api", quiesce: ["worker"] },
        ...overrides,
    });
}

/** v1.4.2, then v1.5.0 started (its pre-upgrade snapshot taken), then a restore of that snapshot back to v1.4.2. */
async function restoreAfterStart(database: Record<string, unknown>, restoreWith = database): Promise<ProgramRun> {
    const first = await runProgram({ config: config(database, { "release:version": "v1.4.2" }), secretKeys });
    const started = await runProgram({
        config: config(database, { "release:version": "v1.5.0", "release:previous": "v1.4.2", "release:canaryWeight": 0 }),
        secretKeys,
        lastOutputs: first.outputs,
    });
    assert.ok(
        (started.outputs.backups as Array<{ id: string }>).some((b) => b.id === SNAPSHOT),
        "the started release lists its snapshot",
    );
    return runProgram({
        config: config(restoreWith, { "release:version": "v1.4.2", "release:restoreFrom": SNAPSHOT }),
        secretKeys,
        lastOutputs: started.outputs,
    });
}

describe("restoreFrom a pre-upgrade snapshot (aws-ecs)", () => {
    it("an Aurora snapshot: rds-restore into the cluster", async () => {
        const run = await restoreAfterStart({ auroraCluster: "shop-aurora" });
        const restore = resource(run, "command:local:Command", `shop-restore-${SNAPSHOT}-run`);
        assert.equal(restore.inputs.create, `node ops/bin/safe-release-ops.js rds-restore --snapshot ${SNAPSHOT} --cluster shop-aurora`);
    });

    it("refuses at preview when the stack no longer names the instance the snapshot replaces", async () => {
        await assert.rejects(
            restoreAfterStart({ rdsInstance: "shop-db" }, {}),
            (err: Error) =>
                err.message ===
                `\`release:restoreFrom\` names ${SNAPSHOT}, an rds-snapshot backup, but \`release:database.rdsInstance\` is not set: ` +
                    "set it to the instance the snapshot replaces",
        );
    });
});
