import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { atTestEnd, tempDir } from "./support/processes";

/*
 * The shipped workflows, read as GitHub reads them: what an operator relies on
 * is that third-party code is pinned, that a `pulumi up` is never cancelled
 * halfway, and that no update starts before the runner image it needs is known
 * to be in ECR. The runner-image check itself runs against a stand-in `aws`.
 */
const ROOT = path.join(__dirname, "..");
const WORKFLOWS = path.join(ROOT, ".github", "workflows");
const CHECK = path.join(ROOT, "scripts", "runner-image-pinned.sh");

interface Step {
    readonly name?: string;
    readonly uses?: string;
    readonly run?: string;
    readonly with?: Record<string, unknown>;
    readonly env?: Record<string, unknown>;
    readonly if?: string;
}
interface Job {
    readonly environment?: string;
    readonly permissions?: Record<string, string>;
    readonly concurrency?: { group: string; "cancel-in-progress": boolean };
    readonly "timeout-minutes"?: number;
    readonly steps: Step[];
}
interface Workflow {
    readonly on: unknown;
    readonly permissions: Record<string, string>;
    readonly concurrency: { group: string; "cancel-in-progress": boolean };
    readonly jobs: Record<string, Job>;
}

function workflowText(name: string): string {
    return fs.readFileSync(path.join(WORKFLOWS, name), "utf8");
}

function workflow(name: string): Workflow {
    return yaml.load(workflowText(name), { schema: yaml.CORE_SCHEMA }) as Workflow;
}

/** `uses:` lines not of the form `owner/repo@<40 hex> # <tag>`. */
export function unpinnedUses(text: string): string[] {
    return text
        .split("\n")
        .filter((line) => /^\s*(- )?uses:/.test(line))
        .filter((line) => !/^\s*(- )?uses: [\w.-]+\/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*$/.test(line))
        .map((line) => line.trim());
}

const stepIndex = (job: Job, test: (s: Step) => boolean): number => job.steps.findIndex(test);

describe("workflows: what the release relies on", () => {
    const names = fs
        .readdirSync(WORKFLOWS)
        .filter((f) => f.endsWith(".yml"))
        .sort();

    it("are the pull-request preview, the release and the runner image build", () => {
        assert.deepEqual(names, ["preview.yml", "release.yml", "runner-image.yml"]);
    });

    it("pin every action to a full commit SHA, the tag in a comment", () => {
        for (const name of names) assert.deepEqual(unpinnedUses(workflowText(name)), [], name);
        assert.deepEqual(
            unpinnedUses(
                "      - uses: actions/checkout@v4\n      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683\n" +
                    "      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2\n",
            ),
            ["- uses: actions/checkout@v4", "- uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683"],
        );
    });

    it("grant read access to the repository and nothing else by default", () => {
        for (const name of names) assert.deepEqual(workflow(name).permissions, { contents: read() }, name);
    });

    it("release: each `pulumi up` runs in its protected environment, one at a time, never cancelled, after its runner image was found", () => {
        const release = workflow("release.yml");
        assert.deepEqual(release.on, { push: { branches: ["release"] } });
        assert.equal(release.concurrency["cancel-in-progress"], false);
        const ups = Object.entries(release.jobs).filter(([, job]) =>
            job.steps.some((s) => s.uses?.startsWith("pulumi/actions@") && s.with?.command === "up"),
        );
        assert.deepEqual(
            ups.map(([id, job]) => [id, job.environment]),
            [
                ["up-staging", "staging"],
                ["up-prod", "production"],
            ],
        );
        for (const [id, job] of ups) {
            const stack = job.steps.find((s) => s.uses?.startsWith("pulumi/actions@"))!.with!["stack-name"];
            assert.deepEqual(job.concurrency, { group: `pulumi-up-${stack}`, "cancel-in-progress": false }, id);
            assert.deepEqual(job.permissions, { contents: read(), "id-token": "write" }, id);
            assert.ok((job["timeout-minutes"] ?? 0) >= 60, `${id}: a timeout that leaves a release time to finish`);
            const credentials = stepIndex(job, (s) => s.uses?.startsWith("aws-actions/configure-aws-credentials@") === true);
            const check = stepIndex(job, (s) => s.run === `scripts/runner-image-pinned.sh Pulumi.${stack}.yaml`);
            const up = stepIndex(job, (s) => s.uses?.startsWith("pulumi/actions@") === true);
            assert.ok(credentials >= 0 && credentials < check && check < up, `${id}: credentials ${credentials}, check ${check}, up ${up}`);
            assert.equal(job.steps[credentials].with!["role-to-assume"], "${{ secrets.AWS_ROLE_ARN }}");
        }
    });

    it("preview: checks the runner image a pull request pins before its `pulumi preview`", () => {
        const job = workflow("preview.yml").jobs.preview;
        const check = stepIndex(job, (s) => s.run === 'scripts/runner-image-pinned.sh "Pulumi.$STACK.yaml"');
        assert.ok(check >= 0 && check < stepIndex(job, (s) => s.uses?.startsWith("pulumi/actions@") === true));
        assert.deepEqual(job.steps[check].env, { STACK: "${{ matrix.stack }}" });
        assert.equal(job.steps[check].if, "env.CAN_PREVIEW == 'true'");
    });

    it("runner image: built on a `runner-v*` tag from runner/Dockerfile, pushed with its own role, the digest to pin printed", () => {
        const build = workflow("runner-image.yml");
        assert.deepEqual(build.on, { push: { tags: ["runner-v*"] } });
        assert.equal(build.concurrency["cancel-in-progress"], false);
        const job = build.jobs.build;
        assert.equal(job.environment, "runner-image");
        assert.deepEqual(job.permissions, { contents: read(), "id-token": "write" });
        const credentials = job.steps.find((s) => s.uses?.startsWith("aws-actions/configure-aws-credentials@"))!;
        assert.equal(credentials.with!["role-to-assume"], "${{ secrets.AWS_RUNNER_IMAGE_ROLE_ARN }}");
        const script = job.steps.map((s) => s.run ?? "").join("\n");
        assert.match(script, /docker build -f runner\/Dockerfile /);
        assert.match(script, /docker login --username AWS --password-stdin "\$registry"/);
        assert.match(script, /line="runnerImage: \$registry\/\$ECR_REPOSITORY@\$digest"/);
        assert.match(script, />> "\$GITHUB_STEP_SUMMARY"/);
        // The build runs before any credential exists in the job.
        assert.ok(stepIndex(job, (s) => s.name === "Build runner/Dockerfile") < job.steps.indexOf(credentials));
    });
});

/** `contents: read`, spelt once so that a typo in a test cannot pass by matching a typo in a workflow. */
function read(): string {
    return "read";
}

describe("scripts/runner-image-pinned.sh: the runner image is in ECR before `pulumi up`", () => {
    const digest = `sha256:${"ab".repeat(32)}`;
    const image = `123456789012.dkr.ecr.eu-west-1.amazonaws.com/safe-release-runner@${digest}`;
    let dir: string;

    before(async () => {
        dir = await tempDir("safe-release-workflows-");
        atTestEnd(async () => fs.rmSync(dir, { recursive: true, force: true }));
        // A stand-in `aws`: records its arguments, answers as ECR would for a present or a missing image.
        fs.mkdirSync(path.join(dir, "bin"));
        fs.writeFileSync(
            path.join(dir, "bin", "aws"),
            '#!/bin/sh\nprintf "%s\\n" "$@" > "$AWS_ARGS_FILE"\n' +
                'if [ "$ECR_HAS_IMAGE" = yes ]; then echo "runner-v1.0.0"; exit 0; fi\n' +
                'if [ "$ECR_HAS_IMAGE" = denied ]; then echo "An error occurred (AccessDeniedException) when calling the DescribeImages operation: not authorized" >&2; exit 254; fi\n' +
                "echo \"An error occurred (ImageNotFoundException) when calling the DescribeImages operation: The image with imageId {imageDigest:'x'} does not exist\" >&2\nexit 254\n",
            { mode: 0o755 },
        );
    });

    function check(
        config: string,
        ecrHasImage: "yes" | "no" | "denied" = "yes",
    ): { status: number | null; stderr: string; awsArgs: string[] } {
        const file = path.join(dir, "Pulumi.staging.yaml");
        fs.writeFileSync(file, `config:\n${config}`);
        const argsFile = path.join(dir, "aws-args");
        fs.rmSync(argsFile, { force: true });
        const result = spawnSync(CHECK, [file], {
            encoding: "utf8",
            env: {
                PATH: `${path.join(dir, "bin")}:${process.env.PATH}`,
                AWS_ARGS_FILE: argsFile,
                ECR_HAS_IMAGE: ecrHasImage,
            },
        });
        const awsArgs = fs.existsSync(argsFile) ? fs.readFileSync(argsFile, "utf8").trimEnd().split("\n") : [];
        return { status: result.status, stderr: result.stderr.replace(new RegExp(file.replace(/[.]/g, "\\."), "g"), "<file>"), awsArgs };
    }

    it("asks ECR for the pinned digest in its own account and region, and passes when ECR holds it", () => {
        const result = check(`  release:aws:\n    vpcId: vpc-0aa11bb22cc33dd44\n    runnerImage: ${image}\n`);
        assert.equal(result.status, 0, result.stderr);
        assert.deepEqual(result.awsArgs, [
            "ecr",
            "describe-images",
            "--region",
            "eu-west-1",
            "--registry-id",
            "123456789012",
            "--repository-name",
            "safe-release-runner",
            "--image-ids",
            `imageDigest=${digest}`,
            "--query",
            "imageDetails[0].imageTags",
            "--output",
            "text",
        ]);
        assert.equal(result.stderr, `runner-image-pinned: <file>: runner image ${image} is in ECR (tags: runner-v1.0.0)\n`);
    });

    it("fails, with ECR's answer and what to do, when the digest is not there", () => {
        const result = check(`  release:aws:\n    runnerImage: ${image}\n    dataStepsIn: task\n`, "no");
        assert.equal(result.status, 1);
        assert.equal(
            result.stderr,
            `runner-image-pinned: <file>: \`release:aws.runnerImage\` ${image} is not in ECR: An error occurred (ImageNotFoundException) ` +
                "when calling the DescribeImages operation: The image with imageId {imageDigest:'x'} does not exist\n" +
                "runner-image-pinned: push the runner image again (a `runner-v*` tag) and pin the digest it prints, or pin one that ECR " +
                "still holds (`aws ecr describe-images --repository-name safe-release-runner`); nothing was changed\n",
        );
    });

    it("fails, naming the permission, when ECR cannot be asked", () => {
        const result = check(`  release:aws:\n    runnerImage: ${image}\n`, "denied");
        assert.equal(result.status, 1);
        assert.equal(
            result.stderr,
            `runner-image-pinned: <file>: could not ask ECR for \`release:aws.runnerImage\` ${image}: An error occurred (AccessDeniedException) ` +
                "when calling the DescribeImages operation: not authorized\n" +
                "runner-image-pinned: this job's role needs `ecr:DescribeImages` on the repository safe-release-runner (docs/aws-permissions.md); nothing was changed\n",
        );
    });

    it("fails when an aws-ecs stack whose data steps run as tasks pins no runner image", () => {
        const result = check("  release:aws:\n    vpcId: vpc-0aa11bb22cc33dd44\n");
        assert.equal(result.status, 1);
        assert.match(
            result.stderr,
            /^runner-image-pinned: <file>: `release:aws.runnerImage` is not set, and the data steps run as ECS tasks/,
        );
        assert.deepEqual(result.awsArgs, []);
    });

    it("checks nothing where no runner task starts: data steps on the runner, another platform", () => {
        const local = check("  release:aws:\n    dataStepsIn: local\n");
        assert.equal(local.status, 0);
        assert.equal(
            local.stderr,
            "runner-image-pinned: <file>: data steps run on this runner (`release:aws.dataStepsIn: local`); nothing to check\n",
        );
        const host = check("  release:platform: host\n");
        assert.equal(host.status, 0);
        assert.equal(host.stderr, "runner-image-pinned: <file>: platform host starts no ECS task; nothing to check\n");
        assert.deepEqual([...local.awsArgs, ...host.awsArgs], []);
    });
});
