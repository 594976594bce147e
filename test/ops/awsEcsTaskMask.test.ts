import { strict as assert } from "assert";
import { UsageError } from "../../ops/command";
import { parseEcsTaskArgs } from "../../ops/aws/ecsTask";
import { jsonObject } from "../../ops/aws/taskLog";
import { taskMask } from "../../ops/aws/taskMask";
import { opsCommandOf, unknownOutcomeAdvice } from "../../ops/aws/taskOutcome";

const DATABASE_URL = "postgresql://shop:s3cret%2Fdb-pass@db.internal:5432/shop";
const TOKEN = "op-token-1f2e3d4c";

describe("ecs-task: masking a task's log lines (--mask-env)", () => {
    const env = { DATABASE_URL, SMOKE_OPERATOR_TOKEN: TOKEN, PIN: "42", QUOTED: 'ab"c\\d' };

    it("masks each value as is, inside a JSON string, percent-encoded, and a URL value's password on its own", () => {
        const { mask, tooShort } = taskMask(["DATABASE_URL", "SMOKE_OPERATOR_TOKEN", "QUOTED"], env);
        assert.deepEqual(tooShort, []);
        assert.equal(mask(`connecting to ${DATABASE_URL} as shop`), "connecting to *** as shop");
        assert.equal(mask("server said: password s3cret/db-pass is wrong"), "server said: password *** is wrong");
        assert.equal(mask("raw: s3cret%2Fdb-pass"), "raw: ***");
        assert.equal(mask(`?token=${encodeURIComponent(TOKEN)} and ${TOKEN}`), "?token=*** and ***");
        assert.equal(mask(JSON.stringify({ note: 'ab"c\\d' })), '{"note":"***"}');
    });

    it("also masks URL passwords, Bearer credentials and this process's own secrets it was not told about", () => {
        const { mask } = taskMask([], { AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG" });
        assert.equal(
            mask('{"target":"postgres://app:hunter22@10.0.0.5/app","next":"a@b"} Authorization: Bearer abc.def key=wJalrXUtnFEMI/K7MDENG'),
            '{"target":"postgres://app:***@10.0.0.5/app","next":"a@b"} Authorization: Bearer [masked] key=***',
        );
    });

    it("leaves values shorter than 4 characters alone and names them, so `42` does not garble every line", () => {
        const { mask, tooShort } = taskMask(["PIN", "SMOKE_OPERATOR_TOKEN"], env);
        assert.deepEqual(tooShort, ["PIN"]);
        assert.equal(mask(`restored 42 rows with ${TOKEN}`), "restored 42 rows with ***");
    });

    it("refuses a name that is not set: a typo must not leave a secret unmasked", () => {
        assert.throws(
            () => taskMask(["DATABASE_URL", "SMOKE_TOKEN", "DB_URL"], env),
            (err: Error) => err instanceof UsageError,
        );
        assert.throws(() => taskMask(["DATABASE_URL", "SMOKE_TOKEN", "DB_URL"], env), {
            message:
                "`--mask-env` names `SMOKE_TOKEN`, `DB_URL`, not set in ecs-task's environment: set them to the value the task reads " +
                "(the task itself takes it from its task definition's secrets) so its log lines can be masked, or leave the name out",
        });
        assert.deepEqual(taskMask(["EMPTY"], { EMPTY: "" }).tooShort, ["EMPTY"]);
    });

    it("parses --ops-result and --mask-env, and refuses a bad name or overrides ECS would refuse", () => {
        const base = ["--cluster", "prod", "--task-definition", "runner:3", "--container", "runner"];
        base.push("--subnets", "subnet-0a1b2c3d", "--security-groups", "sg-0123abcd");
        const request = parseEcsTaskArgs([
            ...base,
            "--ops-result",
            "--mask-env",
            "DATABASE_URL, SMOKE_OPERATOR_TOKEN,DATABASE_URL",
            "--",
            "x",
        ]);
        assert.deepEqual([request.opsResult, request.maskEnv], [true, ["DATABASE_URL", "SMOKE_OPERATOR_TOKEN"]]);
        assert.throws(() => parseEcsTaskArgs([...base, "--mask-env", "DATABASE-URL", "--", "x"]), {
            message:
                "`--mask-env` must be a comma-separated list of environment variable names like DATABASE_URL,SMOKE_OPERATOR_TOKEN; got `DATABASE-URL` in `DATABASE-URL`",
        });
        assert.throws(() => parseEcsTaskArgs([...base, "--", "smoke", "--checks-json", "x".repeat(8150)]), {
            message:
                "the command after `--` makes task overrides of 8231 characters, more than ECS's 8192: shorten it (a smoke list: fewer or shorter checks)",
        });
    });
});

describe("ecs-task: reading a result line and advising on an unknown outcome", () => {
    it("takes exactly one JSON object per line", () => {
        assert.deepEqual(jsonObject(' {"ok":true} '), { ok: true });
        for (const line of ["[1]", "null", "{", "backup: {not json}", '"text"', "42", '{"a":1} {"b":2}']) {
            assert.equal(jsonObject(line), undefined, line);
        }
    });

    it("names the ops program of a command and what to check for it", () => {
        assert.equal(opsCommandOf(["node", "/opt/safe-release/ops/bin/safe-release-ops.js", "migrate", "--app", "shop"]), "migrate");
        assert.equal(opsCommandOf(["safe-release-ops", "backup"]), "backup");
        assert.equal(opsCommandOf(["python", "manage.py", "migrate"]), undefined);
        assert.match(
            unknownOutcomeAdvice(["safe-release-ops", "migrate"]),
            /^the migration may have run in part: read its row in the ledger first/,
        );
        assert.equal(
            unknownOutcomeAdvice(["safe-release-ops", "smoke"]),
            "`smoke` changes nothing the release depends on: find why it was slow, then `pulumi up` again",
        );
        assert.equal(
            unknownOutcomeAdvice(["python", "manage.py", "migrate"]),
            "check what `python manage.py migrate` changes before running it again",
        );
    });
});
