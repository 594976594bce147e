/**
 * One measured process for `program.bench.ts`: either a bare
 * `require("@pulumi/pulumi")` (the SDK floor) or that plus one evaluation of the
 * program under mocks with N components. Prints one JSON line.
 */
const started = process.hrtime.bigint();
const pulumi = require("@pulumi/pulumi");
const mode = process.argv[2];

async function evaluate(components: number): Promise<number> {
    const { runProgram } = require("../test/support/mockEngine");
    const { benchConfig } = require("./programConfig");
    const run = await runProgram({ config: benchConfig(components, "v1.5.0", "v1.4.2", 10) });
    return run.resources.size;
}

void (async () => {
    const resources = mode === "sdk" ? 0 : await evaluate(Number(process.argv[3]));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    console.log(JSON.stringify({ seconds, maxRssMiB: process.resourceUsage().maxRSS / 1024, resources, sdk: typeof pulumi.Config }));
    process.exit(0);
})();
