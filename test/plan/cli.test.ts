import { strict as assert } from "assert";
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { USAGE, main } from "../../plan/cli";
import { atTestEnd, run, tempDir } from "../support/processes";
import { firstDeployPlan, releaseStartPlan, trafficShiftPlan } from "./expected";
import { PROJECT_YAML, shopStack } from "./stackFiles";

const CLI = path.join(__dirname, "..", "..", "plan", "cli.ts");
const V142 = shopStack({ version: "v1.4.2" });
const START = shopStack({ version: "v1.5.0", previous: "v1.4.2", canaryWeight: 0 });
const SHIFT_10 = shopStack({ version: "v1.5.0", previous: "v1.4.2", canaryWeight: 10 });
const SHIFT_50 = shopStack({ version: "v1.5.0", previous: "v1.4.2", canaryWeight: 50 });
const COLD_ROLLBACK =
    "`release:version` v1.4.2 is older than the database schema head v1.5.0, and no live version serves that schema. " +
    "Keep v1.5.0 warm as `release:previous` (a rollback then only shifts traffic), " +
    "restore the pre-upgrade backup with `release:restoreFrom`, " +
    "or, if v1.5.0's migrations were additive and v1.4.2 runs on them, set `release:acceptSchemaHead: v1.5.0`\n";

interface Outcome {
    readonly code: number | null;
    readonly stdout: string;
    readonly stderr: string;
}

/** A project directory (Pulumi.yaml plus `files`), removed when the run ends. */
async function projectDir(files: Record<string, string>): Promise<string> {
    const dir = await tempDir("safe-release-plan-");
    atTestEnd(async () => fs.rmSync(dir, { recursive: true, force: true }));
    write(dir, { "Pulumi.yaml": PROJECT_YAML, ...files });
    return dir;
}

function write(dir: string, files: Record<string, string>): void {
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
}

/** A git repository with one commit per entry of `commits`; the working copy is the last commit's. */
async function gitRepo(commits: Array<Record<string, string>>): Promise<string> {
    const dir = await projectDir({});
    const git = (...args: string[]) =>
        run("git", ["-c", "user.name=Plan Test", "-c", "user.email=plan@example.invalid", ...args], { cwd: dir });
    await git("init", "-q", "-b", "main");
    for (const [i, files] of commits.entries()) {
        write(dir, files);
        await git("add", "-A");
        await git("commit", "-q", "-m", `commit ${i + 1}`);
    }
    return dir;
}

/** How long one plan process may take before it is killed and the test fails with what it printed so far. */
const PLAN_PROCESS_BOUND_MS = 100_000;

/** The plan as `npm run plan` runs it: its own node process in the project directory. */
function planProcess(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Outcome> {
    const started = Date.now();
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, ["-r", require.resolve("ts-node/register/transpile-only"), CLI, ...args], {
            // ts-node registered with `-r` reads the tsconfig of its working directory, not the project's.
            cwd,
            env: { ...process.env, TS_NODE_PROJECT: path.join(__dirname, "..", "..", "tsconfig.json"), ...env },
            stdio: ["ignore", "pipe", "pipe"],
        });
        let [stdout, stderr] = ["", ""];
        child.stdout.on("data", (chunk) => (stdout += chunk));
        child.stderr.on("data", (chunk) => (stderr += chunk));
        // A hung plan fails with its own output, not a bare mocha timeout.
        const bound = setTimeout(() => {
            child.kill("SIGKILL");
            reject(
                new Error(
                    `\`plan ${args.join(" ")}\` in ${cwd} did not finish in ${PLAN_PROCESS_BOUND_MS / 1000} s; ` +
                        `stdout so far: ${JSON.stringify(stdout)}; stderr so far: ${JSON.stringify(stderr)}`,
                ),
            );
        }, PLAN_PROCESS_BOUND_MS);
        child.on("error", (err) => {
            clearTimeout(bound);
            reject(err);
        });
        child.on("close", (code) => {
            clearTimeout(bound);
            // On stderr of the test run: how long each plan took on this machine, should the bound ever be reached.
            process.stderr.write(`      (plan ${args.join(" ")}: ${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
            resolve({ code, stdout, stderr });
        });
    });
}

async function planInProcess(cwd: string, args: string[]): Promise<Outcome> {
    let [stdout, stderr] = ["", ""];
    const code = await main(args, { cwd, out: (t) => (stdout += t), err: (t) => (stderr += t) });
    return { code, stdout, stderr };
}

describe("plan: the command line, as a process", function () {
    // Three node processes, each loading the program and the providers' SDKs, run side by side: a few
    // seconds each here, but a loaded 2-core runner once took over a minute for the three.
    this.timeout(PLAN_PROCESS_BOUND_MS + 20_000);
    let against: Outcome;
    let forkCheckout: Outcome;
    let refused: Outcome;

    before(async () => {
        const history = await gitRepo([{ "Pulumi.staging.yaml": V142 }, { "Pulumi.staging.yaml": START }]);
        const noGit = await projectDir({ "Pulumi.staging.yaml": V142 });
        const rollback = await gitRepo([{ "Pulumi.staging.yaml": shopStack({ version: "v1.5.0" }) }]);
        write(rollback, { "Pulumi.staging.yaml": V142 });
        [against, forkCheckout, refused] = await Promise.all([
            planProcess(history, ["--stack", "staging", "--against", "HEAD~1"]),
            // A fork's checkout without history: git must not find a repository above the directory either.
            planProcess(noGit, ["--stack", "staging"], { GIT_CEILING_DIRECTORIES: path.dirname(noGit) }),
            planProcess(rollback, ["--stack", "staging"]),
        ]);
    });

    it("`--against HEAD~1` in a real repository: the stack file at that commit, deployed, then the working copy", () => {
        // HEAD~1 holds the file's first version: the stack's first deploy, whose finished data steps this update deletes.
        assert.deepEqual(against, { code: 0, stdout: releaseStartPlan("Pulumi.staging.yaml at HEAD~1", true), stderr: "" });
    });

    it("without git history (a fork's pull request): a first deploy, no credentials, no error", () => {
        assert.deepEqual(forkCheckout, {
            code: 0,
            stdout: firstDeployPlan("nothing, planned as a first deploy: no git history here"),
            stderr: "",
        });
    });

    it("a refused cold rollback: the program's exact error on stderr, nothing on stdout, exit 1", () => {
        assert.deepEqual(refused, { code: 1, stdout: "", stderr: COLD_ROLLBACK });
    });
});

describe("plan: what the update is compared with", () => {
    it("without `--against`, a working copy that differs is compared with HEAD", async () => {
        const dir = await gitRepo([{ "Pulumi.staging.yaml": SHIFT_10 }]);
        write(dir, { "Pulumi.staging.yaml": SHIFT_50 });
        assert.deepEqual(await planInProcess(dir, ["--stack", "staging"]), {
            code: 0,
            stdout: trafficShiftPlan("Pulumi.staging.yaml at HEAD (the working copy differs)"),
            stderr: "",
        });
    });

    it("without `--against`, a working copy that matches HEAD is planned as a first deploy, and says how to compare", async () => {
        const dir = await gitRepo([{ "Pulumi.staging.yaml": V142 }]);
        const outcome = await planInProcess(dir, ["--stack", "staging"]);
        assert.deepEqual(outcome, {
            code: 0,
            stdout: firstDeployPlan(
                "nothing, planned as a first deploy: the working copy of Pulumi.staging.yaml matches HEAD; pass `--against <ref>` to compare with a commit",
            ),
            stderr: "",
        });
    });

    it("the first update after a release lists that release's finished data steps as deleted, as the engine does", async () => {
        // Each commit of the stack file was one update: HEAD's (the release start) was applied over HEAD~1's.
        const dir = await gitRepo([{ "Pulumi.staging.yaml": V142 }, { "Pulumi.staging.yaml": START }]);
        write(dir, { "Pulumi.staging.yaml": SHIFT_10 });
        const report = JSON.parse((await planInProcess(dir, ["--stack", "staging", "--json"])).stdout);
        const deleted = report.resources.deleted.map((r: { type: string; name: string }) => `${r.type}::${r.name}`);
        assert.deepEqual(deleted.filter((r: string) => r.startsWith("safe-release:data:")).sort(), [
            "safe-release:data:DriftCheck::shop-drift-v1.5.0",
            "safe-release:data:Migration::shop-migrate-v1.5.0",
            "safe-release:data:PreUpgradeBackup::shop-backup-v1.5.0",
            "safe-release:data:Preflight::shop-preflight-v1.5.0",
            "safe-release:data:Quiesce::shop-quiesce-v1.5.0",
            "safe-release:data:RollbackCheck::shop-rollback-check-v1.5.0",
        ]);
        assert.deepEqual(report.resources.created, []);
        assert.deepEqual(report.resources.updated, [{ type: "aws:lb/listener:Listener", name: "shop-ecs-listener" }]);
    });

    it("a shift after a shift deletes nothing: the update before it ran no data step", async () => {
        const dir = await gitRepo([{ "Pulumi.staging.yaml": V142 }, { "Pulumi.staging.yaml": START }, { "Pulumi.staging.yaml": SHIFT_10 }]);
        write(dir, { "Pulumi.staging.yaml": SHIFT_50 });
        const report = JSON.parse((await planInProcess(dir, ["--stack", "staging", "--json"])).stdout);
        assert.deepEqual(report.resources.deleted, []);
        assert.deepEqual(report.resources.updated, [{ type: "aws:lb/listener:Listener", name: "shop-ecs-listener" }]);
    });

    it("a stack file that does not exist at the `--against` commit is a first deploy", async () => {
        const dir = await gitRepo([{ README: "no stack yet\n" }, { "Pulumi.staging.yaml": V142 }]);
        assert.deepEqual(await planInProcess(dir, ["--stack", "staging", "--against", "HEAD~1"]), {
            code: 0,
            stdout: firstDeployPlan("nothing, planned as a first deploy: Pulumi.staging.yaml does not exist at HEAD~1"),
            stderr: "",
        });
    });

    it("`--json` prints the same plan for tools", async () => {
        const dir = await gitRepo([{ "Pulumi.staging.yaml": SHIFT_10 }, { "Pulumi.staging.yaml": SHIFT_50 }]);
        const outcome = await planInProcess(dir, ["--stack", "staging", "--against", "main~1", "--json"]);
        assert.deepEqual([outcome.code, outcome.stderr], [0, ""]);
        const notRun = (step: string, detail: string) => ({ step, runs: false, detail });
        const nothingMigrates = "the schema head stays v1.5.0, so nothing migrates";
        assert.deepEqual(JSON.parse(outcome.stdout), {
            stack: "staging",
            app: "shop",
            platform: "aws-ecs",
            comparedWith: "Pulumi.staging.yaml at main~1",
            before: { version: "v1.5.0", previous: "v1.4.2", weights: { "v1.5.0": 10, "v1.4.2": 90 }, schemaHead: "v1.5.0" },
            after: { version: "v1.5.0", previous: "v1.4.2", weights: { "v1.5.0": 50, "v1.4.2": 50 }, schemaHead: "v1.5.0" },
            transition: "traffic-shift",
            schemaHeadSource: { from: "stack-outputs", ledger: "checked-at-preview" },
            lookedUpDigests: [],
            steps: [
                notRun("record version", "v1.5.0 and v1.4.2 are already recorded"),
                notRun("check rollback", "no newer version enters: v1.5.0 and v1.4.2 already ran"),
                notRun("check drift", nothingMigrates),
                notRun("rehearse", nothingMigrates),
                notRun("quiesce", nothingMigrates),
                notRun("backup", nothingMigrates),
                notRun("migrate", nothingMigrates),
                notRun("resume", nothingMigrates),
                notRun("deploy", "no version enters: v1.5.0 and v1.4.2 already run"),
                notRun("smoke", "no version enters, and the checks are unchanged"),
                { step: "weights", runs: true, detail: "v1.5.0 50% / v1.4.2 50%" },
            ],
            resources: {
                created: [],
                updated: [{ type: "aws:lb/listener:Listener", name: "shop-ecs-listener" }],
                deleted: [],
                unchanged: 32,
            },
            assumedSecrets: [],
            summary: "traffic-shift: runs weights; traffic v1.5.0 50% / v1.4.2 50%; 0 to create, 1 to update, 0 to delete, 32 unchanged",
        });
    });
});

describe("plan: refusals", () => {
    const usage = (message: string) => ({ code: 2, stdout: "", stderr: `${message}\n${USAGE}\n` });
    let repo: string;
    let noGit: string;

    before(async () => {
        repo = await gitRepo([{ "Pulumi.staging.yaml": V142 }]);
        noGit = await projectDir({ "Pulumi.staging.yaml": V142 });
    });

    const cases: Array<[string, () => string, string[], Outcome | ((m: string) => Outcome), string?]> = [
        ["no `--stack`", () => repo, [], usage, "`--stack` is required: the stack whose Pulumi.<stack>.yaml to plan"],
        ["`--stack` without a value", () => repo, ["--stack"], usage, "`--stack` needs a value"],
        [
            "a stack name that would leave the directory",
            () => repo,
            ["--stack", "../prod"],
            usage,
            '`--stack` must be a stack name (letters, digits, `_`, `.`, `-`); got "../prod"',
        ],
        [
            "an unknown argument",
            () => repo,
            ["--stack", "staging", "--yes"],
            usage,
            "unknown argument `--yes`; valid options: --stack, --against, --json",
        ],
        [
            "a stack without its file",
            () => repo,
            ["--stack", "prod"],
            usage,
            "`--stack prod` needs Pulumi.prod.yaml, which is not in the working directory",
        ],
        [
            "an `--against` that is not a commit",
            () => repo,
            ["--stack", "staging", "--against", "v9.9.9"],
            usage,
            "`--against v9.9.9` does not name a commit of this repository (is it fetched? a shallow clone lacks it)",
        ],
        [
            "an `--against` that looks like an option",
            () => repo,
            ["--stack", "staging", "--against", "--output=x"],
            usage,
            "`--against` needs a value",
        ],
        [
            "`--against` without git history",
            () => noGit,
            ["--stack", "staging", "--against", "HEAD~1"],
            usage,
            "`--against HEAD~1` needs git history, and this directory is not in a git repository",
        ],
    ];
    for (const [what, dir, args, expected, message] of cases) {
        it(`${what}: exit 2 with the usage`, async () => {
            const want = typeof expected === "function" ? expected(message!) : expected;
            const cwd = dir();
            // The temporary directories sit outside any repository; the ceiling keeps git from looking above them.
            process.env.GIT_CEILING_DIRECTORIES = path.dirname(cwd);
            try {
                assert.deepEqual(await planInProcess(cwd, args), want);
            } finally {
                delete process.env.GIT_CEILING_DIRECTORIES;
            }
        });
    }

    it("a stack file that is not YAML: exit 1 naming the file and the place", async () => {
        const dir = await projectDir({ "Pulumi.staging.yaml": "config:\n  release:app: shop\n release:version: v1.4.2\n" });
        assert.deepEqual(await planInProcess(dir, ["--stack", "staging"]), {
            code: 1,
            stdout: "",
            stderr: "Pulumi.staging.yaml is not valid YAML: bad indentation of a mapping entry (3:2)\n",
        });
    });
});
