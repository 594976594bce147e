import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { spawnSync } from "child_process";
import { run, tempDir } from "../support/processes";

/** js-yaml ships with @pulumi/pulumi; YAML 1.2's core schema keeps `on:` a key rather than `true`. */
const yaml: { load(text: string, options: { schema: unknown }): unknown; CORE_SCHEMA: unknown } = require("js-yaml");

const ROOT = path.join(__dirname, "..", "..");
const WORKFLOWS = path.join(ROOT, ".github", "workflows");

type Node = Record<string, any>;

interface Workflow {
    readonly file: string;
    readonly text: string;
    readonly doc: Node;
}

function load(file: string, text: string): Workflow {
    return { file, text, doc: yaml.load(text, { schema: yaml.CORE_SCHEMA }) as Node };
}

const steps = (job: Node): Node[] => job.steps ?? [];
const jobs = (wf: Workflow): Array<[string, Node]> => Object.entries(wf.doc.jobs ?? {});

/**
 * The rules that matter for a workflow that can change production, each one a
 * problem in words; an empty list is a pass. Pure, so the tests below also feed
 * it workflows that break every rule.
 */
function workflowProblems(wf: Workflow): string[] {
    const problems: string[] = [];
    const where = (job: string, step?: Node) =>
        `${wf.file} ${job}${step ? ` step ${JSON.stringify(step.name ?? step.uses ?? step.run)}` : ""}`;
    const triggers = typeof wf.doc.on === "object" && wf.doc.on !== null ? Object.keys(wf.doc.on) : [String(wf.doc.on)];
    if (triggers.includes("pull_request_target"))
        problems.push(`${wf.file}: \`pull_request_target\` runs a fork's code with this repository's secrets`);
    const top = wf.doc.permissions;
    if (top === undefined) problems.push(`${wf.file}: \`permissions:\` must be set at the top level`);
    else if (top === "write-all" || (typeof top === "object" && Object.values(top).includes("write"))) {
        problems.push(`${wf.file}: top-level \`permissions:\` must be read-only; grant writes per job`);
    }
    // Uses lines are checked in the text: the version comment is not part of the YAML value.
    for (const line of wf.text.split("\n").filter((l) => /^\s*(-\s+)?uses:/.test(l))) {
        const use = /uses:\s*(\S+)(.*)$/.exec(line)!;
        if (use[1].startsWith("./") || use[1].startsWith("docker://")) continue;
        if (!/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/.test(use[1]) || !/^\s+# v\d+(\.\d+)*\s*$/.test(use[2])) {
            problems.push(`${wf.file}: \`${line.trim()}\` must pin a full commit SHA with its tag as a comment (\`@<40 hex> # vX.Y.Z\`)`);
        }
    }
    for (const [name, job] of jobs(wf)) {
        const secretEnv = new Set<string>();
        for (const scope of [wf.doc.env, job.env, ...steps(job).map((s) => s.env)]) {
            for (const [key, value] of Object.entries(scope ?? {})) if (/\$\{\{\s*secrets\./.test(String(value))) secretEnv.add(key);
        }
        for (const step of steps(job)) {
            if (typeof step.run !== "string") continue;
            if (/\$\{\{\s*secrets\./.test(step.run)) problems.push(`${where(name, step)}: a secret is expanded into a \`run:\` script`);
            if (/\$\{\{\s*github\.event\./.test(step.run))
                problems.push(`${where(name, step)}: event data is expanded into a \`run:\` script; pass it through \`env:\``);
            for (const key of secretEnv) {
                if (new RegExp(`\\$\\{?${key}\\b`).test(step.run))
                    problems.push(`${where(name, step)}: \`run:\` reads the secret \`${key}\``);
            }
            if (/\bnpm (install|i)\b/.test(step.run))
                problems.push(`${where(name, step)}: installs with \`npm install\`; use \`npm ci\` (the lock file, exactly)`);
        }
        for (const step of steps(job).filter((s) => String(s.uses ?? "").startsWith("pulumi/actions@"))) {
            const command = step.with?.command;
            if (command === "up" && job.environment === undefined)
                problems.push(`${where(name)}: \`pulumi up\` must run in a protected \`environment:\``);
            if (command === "up" && job.concurrency?.["cancel-in-progress"] !== false) {
                problems.push(`${where(name)}: \`pulumi up\` needs a per-stack \`concurrency:\` with \`cancel-in-progress: false\``);
            }
            if (command === "preview" && step.with?.["comment-on-pr"] !== true)
                problems.push(`${where(name)}: \`pulumi preview\` must comment on the pull request`);
        }
    }
    return problems;
}

const files = fs.existsSync(WORKFLOWS)
    ? fs
          .readdirSync(WORKFLOWS)
          .filter((f) => /\.ya?ml$/.test(f))
          .sort()
    : [];
const workflows = files.map((f) => load(f, fs.readFileSync(path.join(WORKFLOWS, f), "utf8")));
const byName = (file: string) => workflows.find((w) => w.file === file)!;
const uses = (job: Node, action: string) => steps(job).filter((s) => String(s.uses ?? "").startsWith(`${action}@`));

describe("CI/CD workflows", () => {
    it("are the preview and release workflows, and the release runner image's build", () => {
        assert.deepEqual(files, ["preview.yml", "release.yml", "runner-image.yml"]);
    });

    for (const wf of workflows) {
        it(`${wf.file} keeps every rule: pinned actions, read-only top-level permissions, no secret in a script, npm ci, protected up`, () => {
            assert.deepEqual(workflowProblems(wf), []);
        });
    }

    it("preview: tests, then the offline plan of every stack against the base commit, in the job summary and on the pull request", () => {
        const { doc } = byName("preview.yml");
        assert.deepEqual(Object.keys(doc.on), ["pull_request"]);
        assert.deepEqual(
            steps(doc.jobs.test)
                .map((s) => s.run)
                .filter(Boolean)
                .slice(-2),
            ["npm ci", "npm test"],
        );
        const plan = doc.jobs.plan;
        assert.equal(plan.needs, "test");
        assert.equal(uses(plan, "actions/checkout")[0].with["fetch-depth"], 0, "the base commit must be in the clone");
        const script: string = steps(plan).find((s) => s.id === "plan")!.run;
        assert.match(script, /npm run --silent plan -- --stack "\$stack" --against "\$BASE_SHA"/);
        assert.match(script, /cat plan\.md >> "\$GITHUB_STEP_SUMMARY"/);
        assert.equal(steps(plan).find((s) => s.id === "plan")!.env.BASE_SHA, "${{ github.event.pull_request.base.sha }}");
        assert.deepEqual(plan.permissions, { contents: "read", "pull-requests": "write" });
        assert.equal(uses(plan, "actions/github-script").length, 1, "the plan is commented on the pull request");
    });

    it("preview: the real `pulumi preview` runs only where credentials exist, guarded by a job-level env", () => {
        const job = byName("preview.yml").doc.jobs.preview;
        assert.equal(
            job.env.CAN_PREVIEW,
            "${{ (secrets.PULUMI_ACCESS_TOKEN != '' || secrets.PULUMI_BACKEND_URL != '') && secrets.AWS_ROLE_ARN != '' }}",
        );
        const [notice, ...rest] = steps(job);
        assert.equal(notice.if, "env.CAN_PREVIEW != 'true'");
        for (const step of rest) assert.equal(step.if, "env.CAN_PREVIEW == 'true'", JSON.stringify(step));
        const [pulumi] = uses(job, "pulumi/actions");
        assert.deepEqual(
            [pulumi.with.command, pulumi.with["stack-name"], pulumi.with["comment-on-pr"]],
            ["preview", "${{ matrix.stack }}", true],
        );
        assert.deepEqual(job.strategy.matrix.stack, ["staging", "prod"]);
    });

    it("release: on the release branch, `pulumi up` of staging then prod, each in its protected environment, one update per stack", () => {
        const { doc } = byName("release.yml");
        assert.deepEqual(doc.on, { push: { branches: ["release"] } });
        const upJobs = jobs(byName("release.yml")).filter(([, job]) => uses(job, "pulumi/actions").some((s) => s.with.command === "up"));
        assert.deepEqual(
            upJobs.map(([name, job]) => [
                name,
                job.needs,
                job.environment,
                uses(job, "pulumi/actions")[0].with["stack-name"],
                job.concurrency,
            ]),
            [
                ["up-staging", "test", "staging", "staging", { group: "pulumi-up-staging", "cancel-in-progress": false }],
                ["up-prod", "up-staging", "production", "prod", { group: "pulumi-up-prod", "cancel-in-progress": false }],
            ],
        );
        for (const [, job] of upJobs) assert.deepEqual(job.permissions, { contents: "read", "id-token": "write" });
    });

    it("the same pinned SHA for each action everywhere, so one update moves them all", () => {
        const pins = new Map<string, Set<string>>();
        for (const wf of workflows) {
            for (const [, action, sha] of wf.text.matchAll(/uses:\s*([\w./-]+)@([0-9a-f]{40})/g))
                pins.set(action, new Set([...(pins.get(action) ?? []), sha]));
        }
        assert.deepEqual(
            [...pins].filter(([, shas]) => shas.size !== 1).map(([action]) => action),
            [],
        );
        assert.deepEqual([...pins.keys()].sort(), [
            "actions/checkout",
            "actions/github-script",
            "actions/setup-node",
            "aws-actions/configure-aws-credentials",
            "pulumi/actions",
        ]);
    });

    it("the rules catch each kind of mistake", () => {
        const bad = load(
            "bad.yml",
            [
                "on: { pull_request_target: {} }",
                "permissions: write-all",
                "env:",
                "  TOKEN: ${{ secrets.PULUMI_ACCESS_TOKEN }}",
                "jobs:",
                "  up:",
                "    steps:",
                "      - uses: actions/checkout@v4",
                "      - uses: pulumi/actions@0123456789abcdef0123456789abcdef01234567",
                "        with: { command: up }",
                '      - run: npm install && echo "$TOKEN" ${{ secrets.AWS_KEY }} ${{ github.event.pull_request.title }}',
                "  preview:",
                "    permissions: { contents: read }",
                "    steps:",
                "      - uses: pulumi/actions@0123456789abcdef0123456789abcdef01234567 # v6.3.0",
                "        with: { command: preview }",
                "",
            ].join("\n"),
        );
        const step = 'bad.yml up step "npm install && echo \\"$TOKEN\\" ${{ secrets.AWS_KEY }} ${{ github.event.pull_request.title }}"';
        assert.deepEqual(workflowProblems(bad), [
            "bad.yml: `pull_request_target` runs a fork's code with this repository's secrets",
            "bad.yml: top-level `permissions:` must be read-only; grant writes per job",
            "bad.yml: `- uses: actions/checkout@v4` must pin a full commit SHA with its tag as a comment (`@<40 hex> # vX.Y.Z`)",
            "bad.yml: `- uses: pulumi/actions@0123456789abcdef0123456789abcdef01234567` must pin a full commit SHA with its tag as a comment (`@<40 hex> # vX.Y.Z`)",
            `${step}: a secret is expanded into a \`run:\` script`,
            `${step}: event data is expanded into a \`run:\` script; pass it through \`env:\``,
            `${step}: \`run:\` reads the secret \`TOKEN\``,
            `${step}: installs with \`npm install\`; use \`npm ci\` (the lock file, exactly)`,
            "bad.yml up: `pulumi up` must run in a protected `environment:`",
            "bad.yml up: `pulumi up` needs a per-stack `concurrency:` with `cancel-in-progress: false`",
            "bad.yml preview: `pulumi preview` must comment on the pull request",
        ]);
        assert.deepEqual(workflowProblems(load("none.yml", "on: push\njobs: {}\n")), [
            "none.yml: `permissions:` must be set at the top level",
        ]);
    });

    it("pass the workflow linter from npm (`@action-validator/cli`), which takes one file at a time", async () => {
        const cli = path.join(ROOT, "node_modules", "@action-validator", "cli", "cli.mjs");
        assert.ok(files.length >= 2);
        for (const file of files) await run(process.execPath, [cli, path.join(".github", "workflows", file)], { cwd: ROOT });
    });

    it("the linter fails a workflow with a property GitHub does not know", async () => {
        const cli = path.join(ROOT, "node_modules", "@action-validator", "cli", "cli.mjs");
        const dir = await tempDir("safe-release-workflow-");
        const bad = path.join(dir, "bad.yml");
        fs.writeFileSync(
            bad,
            "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n        bogus: 1\n",
        );
        const result = spawnSync(process.execPath, [cli, bad], { cwd: ROOT, encoding: "utf8" });
        assert.equal(result.status, 1);
        assert.match(result.stdout + result.stderr, /Additional property 'bogus' is not allowed/);
    });
});
