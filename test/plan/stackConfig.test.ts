import { strict as assert } from "assert";
import { SECRET_PLACEHOLDER, StackFileError, evaluatedConfig, projectDefaults } from "../../plan/stackConfig";

describe("plan: stack files as the Pulumi CLI reads them", () => {
    it("takes the project's `config:` defaults, namespaced by the project name", () => {
        const project = [
            "name: release",
            "config:",
            "  app:",
            "    type: string",
            "    description: Application name.",
            "  platform: { type: string, default: aws-ecs }",
            '  previous: { type: string, default: "" }',
            "  canaryWeight: { type: integer, default: 0 }",
            "  requirePinnedDigests: { type: boolean, default: false }",
            "",
        ].join("\n");
        assert.deepEqual(projectDefaults(project), {
            "release:platform": "aws-ecs",
            "release:previous": "",
            "release:canaryWeight": 0,
            "release:requirePinnedDigests": false,
        });
    });

    it("reads the short form (a bare default) and keys of other namespaces as written", () => {
        const project =
            "name: shop\nconfig:\n  region: eu-west-1\n  aws:profile: { default: ops }\n  app: { type: string }\n  limit: { value: 3 }\n";
        assert.deepEqual(projectDefaults(project), { "shop:region": "eu-west-1", "aws:profile": "ops", "shop:limit": 3 });
    });

    it("lays the stack's values over the defaults, keeping dates and hex-looking text as YAML 1.2 does", () => {
        const stack = "config:\n  release:canaryWeight: 10\n  release:version: v1.5.0\n  release:note: 2026-11-22\n";
        assert.deepEqual(evaluatedConfig(stack, { "release:canaryWeight": 0, "release:previous": "" }, "Pulumi.staging.yaml"), {
            config: { "release:canaryWeight": 10, "release:previous": "", "release:version": "v1.5.0", "release:note": "2026-11-22" },
            secretKeys: [],
            assumedSecrets: [],
        });
    });

    it("stands a marked placeholder in for every `secure:` value, at the top or inside an object or list", () => {
        const stack = [
            "config:",
            "  release:databaseUrl:",
            "    secure: v1:abc:def",
            "  release:notify:",
            "    webhookUrl:",
            "      secure: v1:ghi:jkl",
            "  release:tokens: [plain, { secure: v1:mno:pqr }]",
            "  release:app: shop",
            "",
        ].join("\n");
        assert.deepEqual(evaluatedConfig(stack, {}, "Pulumi.staging.yaml"), {
            config: {
                "release:databaseUrl": SECRET_PLACEHOLDER,
                "release:notify": { webhookUrl: SECRET_PLACEHOLDER },
                "release:tokens": ["plain", SECRET_PLACEHOLDER],
                "release:app": "shop",
            },
            secretKeys: ["release:databaseUrl", "release:notify", "release:tokens"],
            assumedSecrets: [],
        });
    });

    it("gives a wholly secret `release:notify` the object shape the program checks", () => {
        const { config } = evaluatedConfig("config:\n  release:notify:\n    secure: v1:abc:def\n", {}, "Pulumi.prod.yaml");
        assert.deepEqual(config["release:notify"], { webhookUrl: SECRET_PLACEHOLDER });
    });

    const refusals: Array<[string, string, () => unknown]> = [
        [
            "a YAML syntax error, with its place",
            "Pulumi.staging.yaml is not valid YAML: unexpected end of the stream within a flow collection (2:1)",
            () => evaluatedConfig("config: [\n", {}, "Pulumi.staging.yaml"),
        ],
        [
            "a file that is not a mapping",
            "Pulumi.staging.yaml must hold a YAML mapping; got a list",
            () => evaluatedConfig("- a\n- b\n", {}, "Pulumi.staging.yaml"),
        ],
        [
            "a `config:` that is not a mapping",
            "`config` in Pulumi.staging.yaml must be a mapping of key → value; got a list",
            () => evaluatedConfig("config: [1, 2]\n", {}, "Pulumi.staging.yaml"),
        ],
        [
            "a project without a name",
            "`name` in Pulumi.yaml must be the project name; got undefined",
            () => projectDefaults("config: {}\n"),
        ],
    ];
    for (const [what, message, read] of refusals) {
        it(`refuses ${what}`, () => {
            assert.throws(read, (err: Error) => err instanceof StackFileError && err.message === message);
        });
    }

    it("an empty stack file is a stack with only the defaults", () => {
        assert.deepEqual(evaluatedConfig("", { "release:previous": "" }, "Pulumi.dev.yaml"), {
            config: { "release:previous": "" },
            secretKeys: [],
            assumedSecrets: [],
        });
    });

    it("plans with placeholders for the secrets the config needs but the stack file does not hold, and names them", () => {
        const text = [
            "config:",
            "  release:database: { criticalTables: [users] }",
            "  release:smoke: [{ name: internal, path: /health/internal, useOperatorToken: true }]",
            '  release:components: { api: { image: ghcr.io/acme/api, port: 8080, secretEnv: { STRIPE_KEY: "config:stripeKey" } } }',
        ].join("\n");
        const evaluated = evaluatedConfig(text, {}, "Pulumi.staging.yaml");
        assert.deepEqual(evaluated.assumedSecrets, ["release:databaseUrl", "release:smokeOperatorToken", "release:stripeKey"]);
        assert.deepEqual(evaluated.secretKeys, ["release:databaseUrl", "release:smokeOperatorToken", "release:stripeKey"]);
        for (const key of evaluated.assumedSecrets) assert.equal(evaluated.config[key], SECRET_PLACEHOLDER);
    });
});
