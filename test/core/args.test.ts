import { strict as assert } from "assert";
import { main as opsMain } from "../../ops/cli";
import { parseArguments } from "../../drivers/cli";
import { parsePlanArgs } from "../../plan/cli";
import { ownArguments, parseFlags } from "../../core/args";
import { Capture } from "../support/opsRun";

describe("the command-line grammar (core/args.ts), the same in every program", () => {
    const spec = { app: "value", "lock-timeout": "value", quiesced: "switch" } as const;

    it("takes `--name value`, `--name=value` and switches, and leaves everything after `--` untouched", () => {
        const parsed = parseFlags(["--app", "shop", "--lock-timeout=30s", "--quiesced", "--", "sh", "-c", "x --help", "--app"], spec);
        assert.deepEqual(
            [...parsed.values],
            [
                ["app", "shop"],
                ["lock-timeout", "30s"],
            ],
        );
        assert.deepEqual([...parsed.switches], ["quiesced"]);
        assert.deepEqual(parsed.rest, ["sh", "-c", "x --help", "--app"]);
        assert.deepEqual(parsed.positionals, []);
    });

    it("keeps a value that contains `=` or starts with one dash", () => {
        const parsed = parseFlags(["--app=a=b", "--lock-timeout", "-5s"], spec);
        assert.deepEqual(
            [...parsed.values],
            [
                ["app", "a=b"],
                ["lock-timeout", "-5s"],
            ],
        );
    });

    const refusals: Array<[string[], string]> = [
        [["--database-url", "x"], "unknown argument `--database-url`; valid options: --app, --lock-timeout, --quiesced"],
        [["--database-url=x"], "unknown argument `--database-url=x`; valid options: --app, --lock-timeout, --quiesced"],
        [["-a", "x"], "unknown argument `-a`; valid options: --app, --lock-timeout, --quiesced"],
        [["shop"], "unknown argument `shop`; valid options: --app, --lock-timeout, --quiesced"],
        [["--app", "a", "--app=b"], "`--app` is given twice; give it once"],
        [["--quiesced", "--quiesced"], "`--quiesced` is given twice; give it once"],
        [["--quiesced=yes"], "`--quiesced` takes no value; got `--quiesced=yes`"],
        [["--app"], "`--app` needs a value"],
        [["--app", "--quiesced"], "`--app` needs a value"],
    ];
    for (const [args, message] of refusals) {
        it(`refuses ${args.join(" ")}`, () => assert.throws(() => parseFlags(args, spec), { message }));
    }

    it("takes positionals only where the program does, naming them among the valid options", () => {
        assert.deepEqual(parseFlags(["prod", "--app", "x"], spec, { max: 1, name: "<stack>" }).positionals, ["prod"]);
        assert.throws(() => parseFlags(["prod", "staging"], spec, { max: 1, name: "<stack>" }), {
            message: "unknown argument `staging`; valid options: <stack>, --app, --lock-timeout, --quiesced",
        });
    });

    it("reads a program's own arguments up to `--`", () => {
        assert.deepEqual(ownArguments(["--app", "x", "--", "--help"]), ["--app", "x"]);
        assert.deepEqual(ownArguments(["--help"]), ["--help"]);
    });

    it("`ops migrate … -- sh -c '…' --help` runs the migration's checks instead of printing the usage and exiting 0", async function () {
        this.timeout(20_000);
        const stderr = new Capture();
        const args = [
            "migrate",
            "--app",
            "shop",
            "--version",
            "v1.6.0",
            "--digest",
            `sha256:${"a".repeat(64)}`,
            "--",
            "sh",
            "-c",
            "true",
            "--help",
        ];
        const code = await opsMain(args, { env: {}, stdout: new Capture(), stderr });
        assert.deepEqual(
            [code, stderr.text],
            [2, "migrate: `DATABASE_URL` must be set to a postgresql:// connection string; got nothing\n"],
        );
    });

    it("gives the drivers and the offline plan `--name=value` as it gives the ops programs", () => {
        const driver = parseArguments("promote", ["prod", "--bake=90s", "--steps", "10,100", "--dry-run"]);
        assert.deepEqual(
            [driver.stack, [...driver.flags]],
            [
                "prod",
                [
                    ["--bake", "90s"],
                    ["--steps", "10,100"],
                    ["--dry-run", true],
                ],
            ],
        );
        assert.throws(() => parseArguments("rollback", ["prod", "--to=v1.0.0", "--to", "v1.1.0"]), {
            message: "`--to` is given twice; give it once",
        });
        assert.throws(() => parseArguments("rollback", ["prod", "staging"]), {
            message: "unknown argument `staging`; valid options: <stack>, --to, --cwd, --dry-run, --no-commit",
        });
        assert.deepEqual(parsePlanArgs(["--stack=prod", "--json"]), { stack: "prod", json: true });
    });
});
