import * as assert from "assert";
import { main, PROMOTE_USAGE, ROLLBACK_USAGE } from "../../drivers/cli";
import { parseAnalysisConfig, parseNotifyConfig, parseSemVerTag, parseSteps } from "../../core/gateConfig";
import { judgeSample, percentile } from "../../drivers/analysis";
import { planPromotion } from "../../drivers/promote";
import { FakeStack, lineSink, RecordingStackFile } from "./fakeStack";

const noStack = { openStack: async (): Promise<never> => assert.fail("the stack must not be opened for bad arguments") };

async function cli(argv: string[], deps: Parameters<typeof main>[2] = noStack) {
    const stdout = lineSink();
    const stderr = lineSink();
    const code = await main(argv, { env: {}, stdout: stdout.stream, stderr: stderr.stream }, deps);
    return { code, stdout: stdout.lines(), stderr: stderr.lines() };
}

describe("drivers CLI arguments", () => {
    it("prints each command's help", async () => {
        assert.deepStrictEqual(await cli(["promote", "--help"]), {
            code: 0,
            stdout: [],
            stderr: PROMOTE_USAGE.split("\n").filter((l) => l !== ""),
        });
        assert.deepStrictEqual((await cli(["rollback", "prod", "-h"])).stderr[0], ROLLBACK_USAGE.split("\n")[0]);
        assert.deepStrictEqual(await cli(["deploy"]), {
            code: 2,
            stdout: [],
            stderr: ["usage: cli.ts promote|rollback <stack> [options]   (--help for details)"],
        });
    });

    const bad: Array<[string[], string]> = [
        [
            ["promote", "dev", "--steps", "10,5,100"],
            'promote: `--steps` must be a comma-separated list of increasing integers from 1 to 100, such as 10,50,100; got "10,5,100"',
        ],
        [
            ["promote", "dev", "--steps", "0,100"],
            'promote: `--steps` must be a comma-separated list of increasing integers from 1 to 100, such as 10,50,100; got "0,100"',
        ],
        [["promote", "dev", "--bake", "5x"], 'promote: `--bake` must be a duration from 1ms to 24h such as 90s, 5m or 1h; got "5x"'],
        [["promote", "dev", "--bake"], "promote: `--bake` needs a value"],
        [["promote", "--steps", "10"], "promote: the stack name is required, such as `promote prod`"],
        [
            ["promote", "dev", "prod"],
            "promote: unknown argument `prod`; valid options: <stack>, --steps, --bake, --metrics-url, --access-log, --cloudwatch, --region, --requests-metric, --status-label, --duration-metric, --version-label, --cwd, --retire, --dry-run, --no-commit",
        ],
        [
            ["promote", "dev"],
            "promote: promote needs a metric source: `--metrics-url <url>`, `--access-log <path>` or `--cloudwatch <targetGroupArnSuffix>,<loadBalancerArnSuffix>`",
        ],
        [
            ["promote", "dev", "--metrics-url", "http://127.0.0.1:9/metrics", "--cloudwatch", "targetgroup/a/1,app/b/2"],
            "promote: give one metric source: `--metrics-url`, `--access-log` or `--cloudwatch`; got `--metrics-url` and `--cloudwatch`",
        ],
        [
            ["promote", "dev", "--access-log", "/var/log/a.json", "--metrics-url", "http://127.0.0.1:9/metrics", "--dry-run"],
            "promote: give one metric source: `--metrics-url`, `--access-log` or `--cloudwatch`; got `--metrics-url` and `--access-log`",
        ],
        [
            ["promote", "dev", "--access-log", "/var/log/a.json", "--region", "eu-west-1"],
            "promote: `--region` applies to `--cloudwatch` only",
        ],
        [
            ["promote", "dev", "--cloudwatch", "shop-web-v1-5-0,app/shop/fedcba9876543210"],
            'promote: `--cloudwatch` must be <targetGroupArnSuffix>,<loadBalancerArnSuffix>, such as targetgroup/shop-web-v1-5-0/0123456789abcdef,app/shop/fedcba9876543210; got "shop-web-v1-5-0,app/shop/fedcba9876543210"',
        ],
        [
            ["promote", "dev", "--cloudwatch", "targetgroup/a/1,app/b/2", "--region", "Ireland"],
            'promote: `--region` must be an AWS region such as eu-west-1; got "Ireland"',
        ],
        [["rollback", "prod", "--to", "1.4.2"], 'rollback: `--to` must be a SemVer tag vMAJOR.MINOR.PATCH, such as v1.4.2; got "1.4.2"'],
        [["rollback", "prod", "--to", "v1.4"], 'rollback: `--to` must be a SemVer tag vMAJOR.MINOR.PATCH, such as v1.4.2; got "v1.4"'],
        [
            ["rollback", "prod", "--retire"],
            "rollback: unknown argument `--retire`; valid options: <stack>, --to, --cwd, --dry-run, --no-commit",
        ],
    ];
    for (const [argv, message] of bad) {
        it(`rejects ${argv.join(" ")}`, async () => assert.deepStrictEqual(await cli(argv), { code: 2, stdout: [], stderr: [message] }));
    }

    it("rejects a stack that is not in a canary, or lacks analysis thresholds, before changing anything", async () => {
        const cases: Array<[Record<string, string>, string[], number, string]> = [
            [
                { "release:version": "v1.5.0", "release:analysis": '{"intervalSeconds":1,"maxErrorRate":0.01,"maxP95LatencyMs":800}' },
                [],
                1,
                "promote: `release:previous` is not set on stack `dev`, so there is no canary to promote; start a release first: `release:version` = the new tag, `release:previous` = the running tag, `release:canaryWeight` = 0",
            ],
            [
                { "release:version": "v1.5.0", "release:previous": "v1.4.2" },
                [],
                1,
                'promote: `release:analysis` is not set on stack `dev`; promote needs thresholds such as {"intervalSeconds":30,"maxErrorRate":0.01,"maxP95LatencyMs":800,"minRequests":50}',
            ],
            [
                {
                    "release:version": "v1.5.0",
                    "release:previous": "v1.4.2",
                    "release:analysis": '{"intervalSeconds":1,"maxErrorRate":5,"maxP95LatencyMs":800}',
                },
                [],
                1,
                "promote: `release:analysis.maxErrorRate` must be a fraction from 0 to 1, such as 0.01 for 1%; got 5",
            ],
            [
                {
                    "release:version": "v1.5.0",
                    "release:previous": "v1.4.2",
                    "release:analysis": '{"intervalSeconds":1,"maxErrorRate":0.01,"maxP95LatencyMs":800}',
                },
                ["--steps", "10,50"],
                2,
                "promote: `--retire` needs the last of `--steps` to be 100; got 50",
            ],
            [
                { "release:version": "v1.5.0", "release:previous": "v1.4.2", "release:notify": '{"webhookUrl":"hooks.example.com/T0K3N"}' },
                [],
                1,
                "promote: `release:notify.webhookUrl` must be an http:// or https:// URL (value not shown: it is a secret)",
            ],
        ];
        for (const [config, extra, code, message] of cases) {
            const stack = new FakeStack("dev", config);
            const result = await cli(["promote", "dev", "--retire", "--access-log", "/nonexistent", ...extra], {
                openStack: async () => stack,
                openStackFile: () => new RecordingStackFile(),
            });
            assert.deepStrictEqual([result.code, result.stderr, stack.calls], [code, [message], []], message);
        }
    });
});

describe("driver config parsers", () => {
    it("parses `release:analysis` from JSON text or an object", () => {
        assert.deepStrictEqual(parseAnalysisConfig('{"intervalSeconds":30,"maxErrorRate":0.01,"maxP95LatencyMs":800}'), {
            intervalSeconds: 30,
            maxErrorRate: 0.01,
            maxP95LatencyMs: 800,
            minRequests: 1,
            onInconclusive: "hold",
        });
        assert.deepStrictEqual(
            parseAnalysisConfig({ intervalSeconds: 0.1, maxErrorRate: 0, maxP95LatencyMs: 1, minRequests: 50, onInconclusive: "revert" }),
            { intervalSeconds: 0.1, maxErrorRate: 0, maxP95LatencyMs: 1, minRequests: 50, onInconclusive: "revert" },
        );
        const errors: Array<[unknown, string]> = [
            ["{", '`release:analysis` must be JSON; got "{"'],
            [[], '`release:analysis` must be an object such as {"intervalSeconds":30,"maxErrorRate":0.01,"maxP95LatencyMs":800}; got []'],
            [
                { intervalSeconds: 0, maxErrorRate: 0.1, maxP95LatencyMs: 1 },
                "`release:analysis.intervalSeconds` must be a number of seconds from 0.05 to 3600; got 0",
            ],
            [
                { intervalSeconds: 1, maxErrorRate: -0.1, maxP95LatencyMs: 1 },
                "`release:analysis.maxErrorRate` must be a fraction from 0 to 1, such as 0.01 for 1%; got -0.1",
            ],
            [
                { intervalSeconds: 1, maxErrorRate: 0.1 },
                "`release:analysis.maxP95LatencyMs` must be a positive number of milliseconds; got nothing",
            ],
            [
                { intervalSeconds: 1, maxErrorRate: 0.1, maxP95LatencyMs: 5, minRequests: 2.5 },
                "`release:analysis.minRequests` must be an integer of at least 1; got 2.5",
            ],
            [
                { intervalSeconds: 1, maxErrorRate: 0.1, maxP95LatencyMs: 5, window: 3 },
                "`release:analysis.window` is not a field of `release:analysis`; valid fields: intervalSeconds, maxErrorRate, maxP95LatencyMs, minRequests, onInconclusive",
            ],
            [
                { intervalSeconds: 1, maxErrorRate: 0.1, maxP95LatencyMs: 5, onInconclusive: "pass" },
                '`release:analysis.onInconclusive` must be "hold" or "revert": what promote does when a bake had too few requests to judge; got "pass"',
            ],
            [
                { intervalSeconds: 1, maxErrorRate: 0.1, maxP95LatencyMs: 5, onInconclusive: true },
                '`release:analysis.onInconclusive` must be "hold" or "revert": what promote does when a bake had too few requests to judge; got true',
            ],
        ];
        for (const [raw, message] of errors) assert.throws(() => parseAnalysisConfig(raw), { message });
    });

    it("parses `release:notify` without ever quoting the URL", () => {
        assert.deepStrictEqual(parseNotifyConfig({ webhookUrl: "https://hooks.example.com/T0K3N" }), {
            webhookUrl: "https://hooks.example.com/T0K3N",
        });
        assert.throws(() => parseNotifyConfig({ webhookUrl: "ftp://hooks.example.com/T0K3N" }), {
            message: "`release:notify.webhookUrl` must be an http:// or https:// URL (value not shown: it is a secret)",
        });
        assert.throws(() => parseNotifyConfig({ webhookUrl: "http://[T0K3N/hook" }), {
            message: "`release:notify.webhookUrl` must be an http:// or https:// URL (value not shown: it is a secret)",
        });
        assert.throws(() => parseNotifyConfig('"https://hooks.example.com/T0K3N"'), {
            message: '`release:notify` must be an object such as {"webhookUrl":"https://hooks.example.com/…"}; got string',
        });
        assert.throws(() => parseNotifyConfig({ webhookUrl: "https://x/y", channel: "#ops" }), {
            message: "`release:notify.channel` is not a field of `release:notify`; valid fields: webhookUrl",
        });
    });

    it("parses steps and SemVer tags", () => {
        assert.deepStrictEqual(parseSteps("10, 50,100"), [10, 50, 100]);
        assert.throws(() => parseSteps("10,,100"), /got "10,,100"$/);
        assert.strictEqual(parseSemVerTag("v10.0.1"), "v10.0.1");
        assert.throws(() => parseSemVerTag("v01.2.3"), {
            message: '`--to` must be a SemVer tag vMAJOR.MINOR.PATCH, such as v1.4.2; got "v01.2.3"',
        });
    });

    it("plans the weight steps, resuming above the current weight", () => {
        const canary = { version: "v1.5.0", previous: "v1.4.2" };
        assert.deepStrictEqual(planPromotion("dev", { ...canary, canaryWeight: "0" }, { steps: [10, 50, 100], retire: true }), [
            { kind: "weight", weight: 10 },
            { kind: "weight", weight: 50 },
            { kind: "weight", weight: 100 },
            { kind: "retire" },
        ]);
        assert.deepStrictEqual(planPromotion("dev", { ...canary, canaryWeight: "50" }, { steps: [10, 50, 100], retire: false }), [
            { kind: "weight", weight: 50 },
            { kind: "weight", weight: 100 },
        ]);
        assert.throws(() => planPromotion("dev", { ...canary, canaryWeight: "100" }, { steps: [10, 50], retire: false }), {
            message: "`release:canaryWeight` is already 100 on stack `dev`, above every step of `--steps` (10,50)",
        });
        assert.throws(() => planPromotion("dev", { previous: "v1.4.2" }, { steps: [100], retire: false }), {
            message: "`release:version` is not set on stack `dev`; deploy a version before promoting it",
        });
    });

    it("judges samples against the thresholds only with enough requests", () => {
        const analysis = { intervalSeconds: 1, maxErrorRate: 0.01, maxP95LatencyMs: 800, minRequests: 50, onInconclusive: "hold" } as const;
        assert.deepStrictEqual(judgeSample({ requests: 49, errorRate: 1, p95LatencyMs: 9000 }, analysis), { kind: "thin" });
        assert.deepStrictEqual(judgeSample({ requests: 50, errorRate: 0.01, p95LatencyMs: 800 }, analysis), { kind: "healthy" });
        assert.deepStrictEqual(judgeSample({ requests: 200, errorRate: 0.125, p95LatencyMs: 1200.4 }, analysis), {
            kind: "breach",
            reasons: ["error rate 12.50% above 1.00%", "p95 1200 ms above 800 ms"],
        });
        assert.deepStrictEqual([percentile([], 0.95), percentile([5, 1, 3, 2, 4], 0.95), percentile([1, 2], 0.5)], [0, 5, 1]);
    });
});
