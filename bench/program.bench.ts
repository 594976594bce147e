import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { planDiff } from "../test/support/planDiff";
import { benchConfig } from "./programConfig";

const RUNS = 5;
const ROOT = path.join(__dirname, "..");

interface Sample {
    seconds: number;
    maxRssMiB: number;
    resources: number;
}

/**
 * The project compiled to JavaScript in a scratch directory, as `npm run build`
 * would compile the program for Pulumi: samples then time the program, not ts-node.
 */
function compile(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "safe-release-bench-"));
    const tsc = spawnSync(
        process.execPath,
        [require.resolve("typescript/bin/tsc"), "-p", "tsconfig.json", "--noEmit", "false", "--outDir", dir],
        {
            cwd: ROOT,
            encoding: "utf8",
        },
    );
    if (tsc.status !== 0) throw new Error(`compiling for the benchmark failed: ${tsc.stdout}${tsc.stderr}`);
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
    return dir;
}

/** A fresh node process per sample. */
function sample(compiled: string, args: string[]): Sample {
    const child = spawnSync(process.execPath, [path.join(compiled, "bench", "programChild.js"), ...args], {
        cwd: compiled,
        encoding: "utf8",
    });
    if (child.status !== 0) throw new Error(`bench child ${args.join(" ")} failed: ${child.stderr}`);
    return JSON.parse(child.stdout.trim().split("\n").pop()!);
}

function median(values: number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
}

/**
 * Cost of evaluating the program under mocks for 1, 10 and 50 components, next
 * to the floor of loading the SDK alone, sampled alternately in one run so
 * machine noise hits both; and the resources a warm rollback changes.
 */
export async function run(): Promise<void> {
    const compiled = compile();
    const sizes = [1, 10, 50];
    const floor: Sample[] = [];
    const program = new Map<number, Sample[]>(sizes.map((n) => [n, []]));
    for (let i = 0; i < RUNS; i++) {
        floor.push(sample(compiled, ["sdk"]));
        for (const n of sizes) program.get(n)!.push(sample(compiled, ["program", String(n)]));
    }
    const floorSeconds = median(floor.map((s) => s.seconds));
    const floorRss = median(floor.map((s) => s.maxRssMiB));
    fs.rmSync(compiled, { recursive: true, force: true });
    console.log(`median of ${RUNS} fresh node processes each, program compiled to JavaScript (live set: 2 versions)`);
    console.log("components  resources  seconds  over SDK floor  peak RSS MiB  over floor");
    console.log(
        `SDK only    ${"-".padStart(9)}  ${floorSeconds.toFixed(3).padStart(7)}  ${"-".padStart(14)}  ${floorRss.toFixed(0).padStart(12)}  ${"-".padStart(10)}`,
    );
    const overs: number[] = [];
    for (const n of sizes) {
        const samples = program.get(n)!;
        const seconds = median(samples.map((s) => s.seconds));
        const rss = median(samples.map((s) => s.maxRssMiB));
        overs.push(seconds - floorSeconds);
        console.log(
            `${String(n).padEnd(10)}  ${String(samples[0].resources).padStart(9)}  ${seconds.toFixed(3).padStart(7)}  ` +
                `${(seconds - floorSeconds).toFixed(3).padStart(14)}  ${rss.toFixed(0).padStart(12)}  ${(rss - floorRss).toFixed(0).padStart(10)}`,
        );
    }
    console.log(`goal: ≤ 0.5 s over the SDK floor at 10 components → ${overs[1] <= 0.5 ? "met" : "NOT met"} (${overs[1].toFixed(3)} s)`);
    // Linear growth: the cost per component measured from 1 to 10 predicts the cost at 50.
    const perComponent = (overs[1] - overs[0]) / 9;
    const predicted = overs[1] + 40 * perComponent;
    console.log(
        `growth: ${(perComponent * 1000).toFixed(1)} ms per component from 1 to 10 predicts ${predicted.toFixed(3)} s at 50; ` +
            `measured ${overs[2].toFixed(3)} s (${((overs[2] / predicted) * 100).toFixed(0)}% of the linear prediction)`,
    );

    const rollback = await planDiff(benchConfig(10, "v1.5.0", "v1.4.2", 100), benchConfig(10, "v1.4.2", "v1.5.0", 100));
    const changed = [...rollback.changes.values()].filter((c) => c !== "unchanged").length;
    console.log(
        `rollback after promotion (10 components): ${changed} resource(s) changed: ${[...rollback.names("created"), ...rollback.names("updated"), ...rollback.names("deleted")].join(", ")} (goal: 1)`,
    );
}
