import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as path from "path";
import { command as hostPrune } from "../../ops/commands/host-prune";

/** The agent a remote host runs: only the host steps, through the same dispatch as `safe-release-ops`. */
describe("the host agent (ops/hostAgent.ts)", function () {
    this.timeout(30_000);
    const agent = (args: string[]) =>
        spawnSync(
            process.execPath,
            ["-r", "ts-node/register/transpile-only", path.join(__dirname, "..", "..", "ops", "hostAgent.ts"), ...args],
            {
                encoding: "utf8",
            },
        );

    it("names the host steps it runs when asked for another command, exiting 2", () => {
        const result = agent(["backup"]);
        assert.deepEqual(
            [result.status, result.stderr],
            [2, "unknown command `backup`; valid commands: host-check, host-install, host-prune, host-router, host-service, host-unpack\n"],
        );
    });

    it("prints a host step's usage for --help, exiting 0", () => {
        const result = agent(["host-prune", "--help"]);
        assert.deepEqual([result.status, result.stderr], [0, hostPrune.usage.endsWith("\n") ? hostPrune.usage : `${hostPrune.usage}\n`]);
    });
});
