import { strict as assert } from "assert";
import { Writable } from "stream";
import { main } from "../../ops/cli";
import { parseMigrateArgs } from "../../ops/commands/migrate";
import { parseCount } from "../../ops/flags";
import { decideMigration, failureMessage, refusalMessage, waysForward } from "../../ops/migrate/plan";
import { LineSplitter, LineTail, runProgram } from "../../ops/migrate/runner";
import { ToolLedgerRow } from "../../ops/pg/ledgers";
import { advisoryLockKey } from "../../ops/pg/lock";
import { freePort } from "../support/processes";
import { appRule, versionRule } from "./backupTestSupport";

const DIGEST = `sha256:${"a".repeat(64)}`;
const KEY = { app: "shop", version: "v1.6.0", digest: DIGEST };
const MIGRATE_BASE = ["--app", "shop", "--version", "v1.6.0", "--digest", DIGEST];

function row(overrides: Partial<ToolLedgerRow>): ToolLedgerRow {
    return {
        app: "shop",
        version: "v1.5.0",
        digest: DIGEST,
        status: "succeeded",
        startedAt: new Date("2026-01-02T03:04:05.000Z"),
        finishedAt: new Date("2026-01-02T03:05:00.000Z"),
        exitCode: 0,
        logTail: "",
        supersededBy: null,
        ...overrides,
    };
}

class Capture extends Writable {
    text = "";
    _write(chunk: Buffer, _encoding: string, done: () => void): void {
        this.text += chunk.toString();
        done();
    }
}

describe("migrate: arguments", () => {
    const base = MIGRATE_BASE;

    it("parses the key, the default lock timeout and the runner after --", () => {
        assert.deepEqual(parseMigrateArgs([...base, "--", "docker", "run", "--rm", "img", "--noinput"]), {
            key: KEY,
            lockTimeoutMs: 600_000,
            runner: ["docker", "run", "--rm", "img", "--noinput"],
        });
        assert.deepEqual(parseMigrateArgs([...base, "--lock-timeout=30s", "--fix-forward-from", "v1.5.0", "--", "x"]), {
            key: KEY,
            lockTimeoutMs: 30_000,
            fixForwardFrom: "v1.5.0",
            runner: ["x"],
        });
    });

    const errors: Array<[string[], string]> = [
        [["--version", "v1.6.0", "--digest", DIGEST, "--", "x"], "`--app` is required: the application whose database is migrated"],
        [[...base], "a runner is required after `--`, e.g. `-- docker run --rm <image> python manage.py migrate --noinput`"],
        [["--app", "Shop!", "--version", "v1", "--digest", DIGEST, "--", "x"], appRule("Shop!")],
        [["--app", "shop", "--version", "1.6.0", "--digest", DIGEST, "--", "x"], versionRule("1.6.0")],
        [
            ["--app", "shop", "--version", "v1.6.0", "--digest", "sha256:abc", "--", "x"],
            "`--digest` must be sha256: followed by 64 lower-case hex digits; got `sha256:abc`",
        ],
        [
            [...base, "--lock-timeout", "10", "--", "x"],
            '`--lock-timeout` must be a duration from 1ms to 24h such as 90s, 5m or 1h; got "10"',
        ],
        [
            [...base, "--database-url", "x", "--", "x"],
            "unknown argument `--database-url`; valid options: --app, --version, --digest, --lock-timeout, --fix-forward-from, --stopped-writers",
        ],
        [[...base, "--app", "other", "--", "x"], "`--app` is given twice; give it once"],
        [[...base, "--lock-timeout"], "`--lock-timeout` needs a value"],
        [[...base, "--fix-forward-from", "latest", "--", "x"], versionRule("latest", "fix-forward-from")],
    ];
    for (const [args, message] of errors) {
        it(`refuses ${args.join(" ").replace(DIGEST, "<digest>")}`, () => assert.throws(() => parseMigrateArgs(args), { message }));
    }

    it("parses counts", () => {
        assert.equal(parseCount("512", "n"), 512);
        assert.throws(() => parseCount("-1", "n"), { message: "`--n` must be a whole number ≥ 0; got `-1`" });
    });

    it("exits 2 without touching anything when DATABASE_URL is missing", async () => {
        const stdout = new Capture();
        const stderr = new Capture();
        const code = await main(["migrate", ...base, "--", "x"], { env: {}, stdout, stderr });
        assert.equal(code, 2);
        assert.equal(stdout.text, "");
        assert.equal(stderr.text, "migrate: `DATABASE_URL` must be set to a postgresql:// connection string; got nothing\n");
    });

    it("reports an unreachable database as an error without printing the password", async () => {
        const port = await freePort();
        const stdout = new Capture();
        const stderr = new Capture();
        const env = { DATABASE_URL: `postgresql://app:Unreachable-pw@127.0.0.1:${port}/shop` };
        const code = await main(["migrate", ...base, "--", "x"], { env, stdout, stderr });
        assert.equal(code, 1);
        assert.equal(stdout.text, `${JSON.stringify({ ran: false, outcome: "error", ...KEY })}\n`);
        assert.equal(
            stderr.text,
            `migrate: error while connecting to postgresql://app:***@127.0.0.1:${port}/shop: connect ECONNREFUSED 127.0.0.1:${port}\n`,
        );
    });
});

describe("migrate: lock key", () => {
    it("is deterministic per app and differs between apps", () => {
        assert.deepEqual(advisoryLockKey("migrate", "shop"), advisoryLockKey("migrate", "shop"));
        assert.notDeepEqual(advisoryLockKey("migrate", "shop"), advisoryLockKey("migrate", "blog"));
        for (const half of advisoryLockKey("migrate", "shop")) assert.ok(Number.isInteger(half) && half >= -(2 ** 31) && half < 2 ** 31);
    });
});

describe("migrate: decision", () => {
    it("runs when the ledger is empty or holds only other successes", () => {
        assert.deepEqual(decideMigration([], KEY), { action: "run" });
        assert.deepEqual(decideMigration([row({})], KEY), { action: "run" });
    });

    it("skips a key that already succeeded, even next to a failure of another version", () => {
        const applied = row({ version: "v1.6.0" });
        assert.deepEqual(decideMigration([applied, row({ version: "v1.7.0", status: "failed", exitCode: 1 })], KEY), {
            action: "skip",
            applied,
        });
    });

    it("runs the same version with another digest (a rebuilt image is another key)", () => {
        assert.deepEqual(decideMigration([row({ version: "v1.6.0", digest: `sha256:${"b".repeat(64)}` })], KEY), { action: "run" });
    });

    it("refuses while a failed or unfinished row blocks the app", () => {
        const failed = row({ version: "v1.6.0", status: "failed", exitCode: 3 });
        assert.deepEqual(decideMigration([failed], KEY), { action: "refuse", message: refusalMessage(KEY, [failed]) });
        const running = row({ status: "running", finishedAt: null, exitCode: null });
        assert.deepEqual(decideMigration([running], KEY), { action: "refuse", message: refusalMessage(KEY, [running]) });
    });

    it("says which writers the failure leaves stopped: those named, none, or those stopped for it", () => {
        const tail = ": Do not retry the same migration: a partial run may have changed the schema. Choose one way forward:";
        assert.equal(
            waysForward("shop", "v1.6.0", ["worker", "celery"]).split("\n")[0],
            `Writers stay stopped (worker, celery).${tail.slice(1)}`,
        );
        assert.equal(
            waysForward("shop", "v1.6.0", []).split("\n")[0],
            `No writer was stopped for this migration (no \`release:migrate.quiesce\`): the running versions still serve, on whatever the partial run left.${tail.slice(1)}`,
        );
        assert.equal(waysForward("shop", "v1.6.0").split("\n")[0], `Writers stopped for it stay stopped.${tail.slice(1)}`);
        assert.deepEqual(parseMigrateArgs([...MIGRATE_BASE, "--stopped-writers", "worker,celery", "--", "x"]).stoppedWriters, [
            "worker",
            "celery",
        ]);
        assert.deepEqual(parseMigrateArgs([...MIGRATE_BASE, "--stopped-writers", "", "--", "x"]).stoppedWriters, []);
    });

    it("words the refusal with both ways forward", () => {
        const failed = row({ version: "v1.5.0", status: "failed", exitCode: 3 });
        const running = row({ version: "v1.5.1", status: "running", finishedAt: null, exitCode: null });
        assert.equal(
            refusalMessage(KEY, [failed, running]),
            [
                "refusing to migrate `shop` v1.6.0: `safe_release_migrations` holds an unfinished migration of this app:",
                `  v1.5.0 (${DIGEST}) failed with exit code 3, at 2026-01-02T03:05:00.000Z`,
                `  v1.5.1 (${DIGEST}) started and never finished, started 2026-01-02T03:04:05.000Z (its migrate process died mid-run; make sure nothing of it still runs)`,
                "Writers stopped for it stay stopped. Do not retry the same migration: a partial run may have changed the schema. Choose one way forward:",
                "  - fix forward: release a new version whose migration repairs this state and migrate it with `--fix-forward-from v1.5.1`;",
                "  - roll back: restore the pre-upgrade backup of `shop` by setting `release:restoreFrom` to its backup id, together with the previous version.",
            ].join("\n"),
        );
    });

    it("fixes forward only from a named blocking version, never from itself", () => {
        const failed = row({ status: "failed", exitCode: 3 });
        assert.deepEqual(decideMigration([failed], KEY, "v1.5.0"), { action: "run", supersedes: "v1.5.0" });
        assert.deepEqual(decideMigration([failed], KEY, "v1.4.0"), {
            action: "refuse",
            message:
                "`--fix-forward-from` must name a failed or interrupted migration of `shop` in `safe_release_migrations`; got v1.4.0, found: v1.5.0.",
        });
        assert.deepEqual(decideMigration([], KEY, "v1.5.0"), {
            action: "refuse",
            message:
                "`--fix-forward-from` must name a failed or interrupted migration of `shop` in `safe_release_migrations`; got v1.5.0, there is none.",
        });
        const self = decideMigration([row({ version: "v1.6.0", status: "failed", exitCode: 1 })], KEY, "v1.6.0");
        assert.equal(self.action, "refuse");
        assert.equal(
            (self as { message: string }).message,
            "`--fix-forward-from` must name an earlier failed version, not the one being migrated (v1.6.0): running the same migration again is a blind retry. Release a new version that repairs the state.",
        );
    });

    it("still refuses when another version blocks besides the one fixed forward from", () => {
        const a = row({ version: "v1.5.0", status: "failed", exitCode: 3 });
        const b = row({ version: "v1.5.1", status: "failed", exitCode: 4 });
        assert.deepEqual(decideMigration([a, b], KEY, "v1.5.0"), { action: "refuse", message: refusalMessage(KEY, [b]) });
    });

    it("never re-runs a superseded failure", () => {
        const superseded = row({ version: "v1.6.0", status: "failed", exitCode: 2, supersededBy: "v1.6.1" });
        assert.deepEqual(decideMigration([superseded], KEY), {
            action: "refuse",
            message:
                "refusing to migrate `shop` v1.6.0: it already failed with exit code 2 and was superseded by v1.6.1; a version's migration never runs twice. Deploy v1.6.1 or a newer version.",
        });
        assert.deepEqual(decideMigration([row({ status: "failed", supersededBy: "v1.5.1" })], KEY), { action: "run" });
    });

    it("a run a restore undid counts neither as applied nor as blocking; the standing run beside it decides", () => {
        const restoredBy = "shop-v1.6.0-20260102T030000.000Z";
        const undone = row({ version: "v1.6.0", restoredBy });
        assert.deepEqual(decideMigration([undone], KEY), { action: "run" });
        const undoneFailure = row({ version: "v1.5.9", status: "failed", exitCode: 1, restoredBy });
        assert.deepEqual(decideMigration([undoneFailure, undone], KEY), { action: "run" });
        // A superseded run that a restore undid no longer refuses either.
        assert.deepEqual(decideMigration([row({ version: "v1.6.0", status: "failed", supersededBy: "v1.6.1", restoredBy })], KEY), {
            action: "run",
        });
        const again = row({ version: "v1.6.0", startedAt: new Date("2026-01-03T00:00:00.000Z") });
        assert.deepEqual(decideMigration([undone, again], KEY), { action: "skip", applied: again });
    });

    it("quotes the tail in a failure message, or says it printed nothing", () => {
        assert.equal(
            failureMessage(KEY, null, "SIGKILL", []).split("\n").slice(0, 2).join("\n"),
            `migration of \`shop\` v1.6.0 (${DIGEST}) failed with signal SIGKILL; \`safe_release_migrations\` records it as failed.\nIt printed nothing.`,
        );
        assert.equal(
            failureMessage(KEY, 3, null, ["a", "b"]).split("\n").slice(0, 4).join("\n"),
            `migration of \`shop\` v1.6.0 (${DIGEST}) failed with exit code 3; \`safe_release_migrations\` records it as failed.\nLast 2 line(s) of its output:\n  | a\n  | b`,
        );
    });
});

describe("migrate: output handling", () => {
    it("keeps the last lines, each cut to a maximum length", () => {
        const tail = new LineTail(3, 5);
        for (const line of ["one", "two", "three", "four", "fivefive"]) tail.push(line);
        assert.deepEqual(tail.lines(), ["three", "four", "five…"]);
    });

    it("splits chunks into whole lines, holding back the unfinished one", () => {
        const splitter = new LineSplitter();
        assert.deepEqual(splitter.push("a\r\nb"), ["a"]);
        assert.deepEqual(splitter.push("c\n\nd"), ["bc", ""]);
        assert.deepEqual(splitter.end(), ["d"]);
        assert.deepEqual(splitter.end(), []);
    });

    it("reports a program that cannot start as not started", async () => {
        const lines: string[] = [];
        const result = await runProgram(["/nonexistent/migrator"], {}, (line) => lines.push(line));
        assert.deepEqual(result, { started: false, exitCode: null, signal: null, startError: "spawn /nonexistent/migrator ENOENT" });
        assert.deepEqual(lines, []);
    });

    it("passes every line of both streams and the exit code", async () => {
        const lines: string[] = [];
        const result = await runProgram(["sh", "-c", "echo out; echo err >&2; printf 'no newline'; exit 4"], {}, (l) => lines.push(l));
        assert.deepEqual(result, { started: true, exitCode: 4, signal: null });
        assert.deepEqual([...lines].sort(), ["err", "no newline", "out"]);
    });
});
