import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { promote } from "../../drivers/promote";
import { EventLog } from "../../drivers/events";
import { GitStackFile, stackFileName } from "../../drivers/stackFile";
import { parseAnalysisConfig } from "../../core/gateConfig";
import { MetricSample, MetricSource } from "../../drivers/types";
import { atTestEnd, run, tempDir } from "../support/processes";
import { FakeStack, runDriver, update } from "./fakeStack";

const HISTORY = [update(3, "v1.5.0"), update(2, "v1.4.2")];

async function scratch(prefix: string): Promise<string> {
    const dir = await tempDir(prefix);
    atTestEnd(async () => fs.rmSync(dir, { recursive: true, force: true }));
    return dir;
}

/** A project clone: the stack file committed, identity in the repository's own config only. */
async function clone(stack: FakeStack): Promise<{ dir: string; git: (...args: string[]) => Promise<string> }> {
    const dir = await scratch("driver-git-");
    const git = async (...args: string[]) => (await run("git", ["-C", dir, ...args])).stdout;
    await git("init", "-q", "-b", "main");
    await git("config", "user.name", "Release Tester");
    await git("config", "user.email", "release@example.com");
    await git("config", "commit.gpgsign", "false");
    stack.file = path.join(dir, stackFileName(stack.name));
    fs.writeFileSync(stack.file, stack.fileText());
    fs.writeFileSync(path.join(dir, "index.ts"), "export {};\n");
    await git("add", ".");
    await git("commit", "-q", "-m", "initial");
    return { dir, git };
}

function rollbackStack(): FakeStack {
    return new FakeStack("staging", { "release:version": "v1.5.0", "release:previous": "v1.4.2", "release:canaryWeight": "100" }, HISTORY);
}

describe("drivers commit the stack file they change (real git)", () => {
    it("rollback commits Pulumi.<stack>.yaml alone, with the transition as subject", async () => {
        const stack = rollbackStack();
        const { dir, git } = await clone(stack);
        // Someone's unrelated work in progress, staged: it must not ride along in the release commit.
        fs.writeFileSync(path.join(dir, "index.ts"), "export const wip = 1;\n");
        await git("add", "index.ts");
        const result = await runDriver(stack, ["rollback", "staging", "--cwd", dir], "git");
        assert.strictEqual(result.code, 0, result.progress.join("\n"));
        assert.strictEqual(
            await git("log", "-1", "--format=%s%n%b"),
            "release(staging): rollback v1.5.0 → v1.4.2\nrelease:version: v1.4.2, release:previous: v1.5.0, release:canaryWeight: 100\n\n",
        );
        assert.strictEqual(await git("show", "--name-only", "--format=", "HEAD"), "Pulumi.staging.yaml\n");
        assert.strictEqual(await git("show", "HEAD:Pulumi.staging.yaml"), stack.fileText());
        assert.strictEqual(await git("status", "--porcelain"), "M  index.ts\n");
        const head = (await git("rev-parse", "--short", "HEAD")).trim();
        assert.ok(result.progress.includes(`committed Pulumi.staging.yaml as ${head}: release(staging): rollback v1.5.0 → v1.4.2`));
    });

    it("refuses to start while the stack file has uncommitted changes, changing nothing", async () => {
        const stack = rollbackStack();
        const { dir, git } = await clone(stack);
        fs.appendFileSync(stack.file!, "  release:notes: wip\n");
        const before = await git("rev-parse", "HEAD");
        const result = await runDriver(stack, ["rollback", "staging", "--cwd", dir], "git");
        assert.strictEqual(result.code, 1);
        assert.deepStrictEqual(result.progress, [
            `rollback: \`Pulumi.staging.yaml\` has uncommitted changes (git status \` M\`); commit or discard them first ` +
                `(\`git -C ${dir} diff -- Pulumi.staging.yaml\`), so each step's commit holds only that step's change`,
        ]);
        assert.deepStrictEqual([stack.calls, result.events], [[], []]);
        assert.strictEqual(await git("rev-parse", "HEAD"), before);
    });

    it("refuses an untracked stack file and a directory outside git", async () => {
        const stack = rollbackStack();
        const { dir, git } = await clone(stack);
        await git("rm", "-q", "--cached", "Pulumi.staging.yaml");
        await git("commit", "-q", "-m", "untrack");
        const untracked = await runDriver(stack, ["rollback", "staging", "--cwd", dir], "git");
        assert.deepStrictEqual(
            [untracked.code, untracked.progress],
            [
                1,
                [
                    "rollback: `Pulumi.staging.yaml` is not tracked by git; commit it before a driver changes it, so each step's commit holds only that step",
                ],
            ],
        );
        const bare = await scratch("driver-nogit-");
        const outside = await runDriver(rollbackStack(), ["rollback", "staging", "--cwd", bare], "git");
        assert.deepStrictEqual(
            [outside.code, outside.progress],
            [
                1,
                [
                    `rollback: \`${bare}\` is not in a git work tree, so the driver cannot commit \`Pulumi.staging.yaml\`; ` +
                        "run it in the project's clone, or pass `--no-commit` to commit by hand",
                ],
            ],
        );
        assert.deepStrictEqual(stack.calls, []);
    });

    it("--no-commit prints the exact commit command, and that command records the step", async () => {
        const stack = rollbackStack();
        const { dir, git } = await clone(stack);
        const before = await git("rev-parse", "HEAD");
        const result = await runDriver(stack, ["rollback", "staging", "--no-commit", "--cwd", dir], "git");
        assert.strictEqual(result.code, 0, result.progress.join("\n"));
        assert.strictEqual(await git("rev-parse", "HEAD"), before);
        const command =
            `git -C ${dir} commit -m 'release(staging): rollback v1.5.0 → v1.4.2' ` +
            "-m 'release:version: v1.4.2, release:previous: v1.5.0, release:canaryWeight: 100' -- Pulumi.staging.yaml";
        assert.ok(result.progress.includes(`--no-commit: record this step with: ${command}`), result.progress.join("\n"));
        await run("sh", ["-c", command]);
        assert.strictEqual(await git("log", "-1", "--format=%s"), "release(staging): rollback v1.5.0 → v1.4.2\n");
        assert.strictEqual(await git("status", "--porcelain"), "");
    });

    it("promote commits each weight it baked and the revert, each from the weight before", async () => {
        const stack = new FakeStack("staging", {
            "release:version": "v1.5.0",
            "release:previous": "v1.4.2",
            "release:canaryWeight": "0",
        });
        const { dir, git } = await clone(stack);
        const healthy: MetricSample = { requests: 100, errorRate: 0, p95LatencyMs: 50 };
        const bad: MetricSample = { requests: 100, errorRate: 0.5, p95LatencyMs: 50 };
        // Each bake: the sample that starts its window, then one window (bake = interval); the bake at 100 breaches.
        const samples = [healthy, healthy, healthy, healthy, healthy, bad];
        const metrics: MetricSource = { description: "scripted", sample: async () => samples.shift() ?? healthy };
        let clock = 0;
        const progress: string[] = [];
        const io = {
            progress: (l: string) => progress.push(l),
            events: () => undefined,
            now: () => clock,
            sleep: async (ms: number) => void (clock += ms),
        };
        const analysis = parseAnalysisConfig({ intervalSeconds: 1, maxErrorRate: 0.05, maxP95LatencyMs: 500, minRequests: 10 });
        const stackFile = new GitStackFile({ workDir: dir, stack: stack.name, noCommit: false, progress: io.progress });
        const code = await promote(
            { stack, metrics, analysis, log: new EventLog({ io, stack: stack.name, secrets: [] }), io, stackFile },
            { steps: [10, 50, 100], bakeMs: 1000, retire: false, dryRun: false },
        );
        assert.strictEqual(code, 1, progress.join("\n"));
        assert.strictEqual(
            await git("log", "--format=%s", "-5"),
            [
                "release(staging): canary v1.5.0 100 → 0 (reverted)",
                "release(staging): canary v1.5.0 50 → 100",
                "release(staging): canary v1.5.0 10 → 50",
                "release(staging): canary v1.5.0 0 → 10",
                "initial",
                "",
            ].join("\n"),
        );
        assert.strictEqual(await git("log", "-1", "--format=%b"), "reason: error rate 50.00% above 5.00%\n\n");
        assert.strictEqual(await git("show", "HEAD~1:Pulumi.staging.yaml"), stack.fileText().replace('"0"', '"100"'));
        assert.strictEqual(await git("show", "HEAD:Pulumi.staging.yaml"), stack.fileText());
        assert.strictEqual(await git("status", "--porcelain"), "");
    });
});
