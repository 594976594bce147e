import { strict as assert } from "assert";
import { StopTaskCommand } from "@aws-sdk/client-ecs";
import { runOps, SECRET_ENV, secretsLeaked } from "../support/opsRun";
import { ecsTaskArgs, exited, fakeAws, Fakes, MOCK_ENV, RUNNING, stable, TASK, TASK_DEF, TASK_ID } from "../support/ecsTaskFakes";

const OPS = ["node", "ops/bin/safe-release-ops.js"];
const BACKUP = [...OPS, "backup", "--app", "shop", "--store", "s3://acme-backups/shop"];
const TOKEN = "op-token-5c4b3a29d8e7";
const { DATABASE_URL } = SECRET_ENV;

/** stderr as lines without the `ecs-task: ` prefix, elapsed times made stable. */
function stderrLines(stderr: string): string[] {
    const lines = stable(stderr).split("\n");
    assert.equal(lines.pop(), "");
    return lines.map((line) => line.replace(/^ecs-task: /, ""));
}

describe("ecs-task --ops-result: the ops program's JSON as the run's stdout, secrets masked (aws-sdk-client-mock)", () => {
    let aws: Fakes;
    beforeEach(() => (aws = fakeAws()));
    afterEach(() => aws.restore());

    it("prints the last JSON line as stdout and the summary on stderr, with every --mask-env value, Bearer token and URL password masked", async () => {
        const env = { ...MOCK_ENV, SMOKE_OPERATOR_TOKEN: TOKEN, RESTORE_CODE: "4711", PIN: "42" };
        aws.stream.messages.push(
            `backup: connecting to ${DATABASE_URL}`,
            `backup: the store answered to Authorization: Bearer ${TOKEN}`,
            "backup: copy of postgres://replica:r3plica-pw@10.0.4.5/shop, pin 42",
            '{"progress":1}',
            `{"ok":true,"code":4711,"target":"${DATABASE_URL}","sha256":"ab12","pin":42}`,
            "backup: 1 dump written",
        );
        aws.describe((call) => (call === 0 ? RUNNING : exited(0)));
        const args = ["--ops-result", "--mask-env", "DATABASE_URL,SMOKE_OPERATOR_TOKEN,RESTORE_CODE,PIN"];
        const run = await runOps(ecsTaskArgs(args, BACKUP), env);
        assert.equal(run.code, 0, run.stderr);
        // The code stood as a number, so the masked line is rebuilt from its parsed values to stay JSON.
        assert.equal(run.stdout, '{"ok":true,"code":"***","target":"***","sha256":"ab12","pin":42}\n');
        assert.deepEqual(stderrLines(run.stderr), [
            "`--mask-env`: the value of `PIN` has fewer than 4 characters and is not masked: use a longer secret",
            `started task ${TASK} (${TASK_DEF}, container \`runner\`: ${BACKUP.join(" ")})`,
            `task ${TASK_ID}: RUNNING (T)`,
            "| backup: connecting to ***",
            "| backup: the store answered to Authorization: Bearer ***",
            "| backup: copy of postgres://replica:***@10.0.4.5/shop, pin 42",
            '| {"progress":1}',
            '| {"ok":true,"code":***,"target":"***","sha256":"ab12","pin":42}',
            "| backup: 1 dump written",
            `task ${TASK_ID}: STOPPED (T)`,
            `summary {"taskArn":"${TASK}","exitCode":0,"stopCode":"EssentialContainerExited","stoppedReason":"Essential container in task exited","timedOut":false,"elapsedMs":N}`,
            `task ${TASK_ID}: container \`runner\` exited 0 after T`,
        ]);
        assert.deepEqual(secretsLeaked(run), []);
        for (const secret of [TOKEN, "4711", "r3plica-pw"]) assert.ok(!run.stdout.includes(secret) && !run.stderr.includes(secret), secret);
    });

    it("still prints the result of a program that exits non-zero, as it does locally, and fails", async () => {
        const report = '{"ok":false,"passed":1,"failed":1,"results":[]}';
        aws.stream.messages.push("smoke: FAIL GET /health/internal 503 3.1 ms  (internal)", report, "smoke: 1 passed, 1 failed");
        aws.describe(() => exited(1));
        const run = await runOps(ecsTaskArgs(["--ops-result"], [...OPS, "smoke", "--base-url", "https://test.internal:8443"]), MOCK_ENV);
        assert.equal(run.code, 1);
        assert.equal(run.stdout, `${report}\n`);
        assert.deepEqual(stderrLines(run.stderr).slice(-6), [
            `task ${TASK} failed: container \`runner\` exited 1; stop reason: Essential container in task exited`,
            "its last 3 log lines:",
            "| smoke: FAIL GET /health/internal 503 3.1 ms  (internal)",
            `| ${report}`,
            "| smoke: 1 passed, 1 failed",
            "next: read the log lines above, fix what they show, and run `pulumi up` again",
        ]);
    });

    it("waits for a result line that reaches the log only after the task stopped", async () => {
        aws.stream.messages.push("backup: dump written");
        // The read to the end after the stop and the first late read find nothing; the second finds the result.
        aws.stream.beforeRead = (reads) => {
            if (reads === 4) aws.stream.messages.push('{"ok":true}');
        };
        aws.describe(() => exited(0));
        const run = await runOps(ecsTaskArgs(["--ops-result"], BACKUP), MOCK_ENV);
        assert.equal(run.code, 0, run.stderr);
        assert.equal(run.stdout, '{"ok":true}\n');
    });

    it("fails a container that exited 0 without a JSON line, after a bounded wait for one", async () => {
        aws.stream.messages.push("backup: usage printed instead");
        aws.describe(() => exited(0));
        const run = await runOps(ecsTaskArgs(["--ops-result"], ["echo", "hello"]), MOCK_ENV);
        assert.equal(run.code, 1);
        assert.equal(run.stdout, "");
        // At the stop (two pages), to the end, then three more reads a --poll apart.
        assert.equal(aws.stream.inputs.length, 6);
        assert.deepEqual(stderrLines(run.stderr).slice(-4), [
            `task ${TASK}: container \`runner\` exited 0 but printed no result: \`--ops-result\` takes the last log line that parses as a JSON object, and there is none`,
            "its last 1 log line:",
            "| backup: usage printed instead",
            "next: check that the task's command is a `safe-release-ops` program; what it did stands, since it exited 0",
        ]);
    });

    it("past --timeout: the task stops after StopTask, its summary goes to stderr, and the advice names the migration ledger", async () => {
        aws.stream.messages.push("migrate: lock of `shop` taken", "migrate: running the migration task");
        aws.describe((_, stopped) =>
            stopped
                ? { ...exited(143), stopCode: "UserInitiated", stoppedReason: "safe-release-ops ecs-task: --timeout 200ms exceeded" }
                : RUNNING,
        );
        const migrate = [...OPS, "migrate", "--app", "shop", "--version", "v1.6.0", "--", ...OPS, "ecs-task", "--cluster", "prod"];
        const run = await runOps(ecsTaskArgs(["--ops-result", "--timeout", "200ms"], migrate), MOCK_ENV);
        assert.equal(run.code, 1);
        assert.equal(run.stdout, "");
        assert.equal(aws.ecs.commandCalls(StopTaskCommand).length, 1);
        assert.deepEqual(stderrLines(run.stderr).slice(-7), [
            `task ${TASK_ID}: STOPPED T after StopTask`,
            `summary {"taskArn":"${TASK}","exitCode":143,"stopCode":"UserInitiated","stoppedReason":"safe-release-ops ecs-task: --timeout 200ms exceeded","timedOut":true,"elapsedMs":N}`,
            `task ${TASK} did not stop within 200ms (\`--timeout\`); it was stopped and its outcome is unknown`,
            "its last 2 log lines:",
            "| migrate: lock of `shop` taken",
            "| migrate: running the migration task",
            "next: the migration may have run in part: read its row in the ledger first (`SELECT version, status, finished_at FROM safe_release_migrations " +
                "WHERE app = '<app>'`); an unfinished row refuses the next run (docs/troubleshooting.md, \"Migration refused: a failed row is in the ledger\"), " +
                "and the migration lock, held by the task's database session, ended with the task",
        ]);
    });
});
