import * as assert from "assert";
import { E2eStack, changedSteps } from "./support/pulumiCli";

const TAG_RULE = "a release tag `vMAJOR.MINOR.PATCH`, optionally with a pre-release suffix such as `v1.5.0-rc.1`";

/**
 * The toolchain itself: the CLI and the language host built from Go modules run
 * the project's compiled program, and the program's config validation reaches the
 * operator through the real engine, before any plugin or resource is involved.
 */
describe("e2e: the real Pulumi engine", () => {
    it("stops a preview on bad config with the config error, naming the key, and nothing registered", async () => {
        const stack = await E2eStack.create("badconfig", {
            "release:app": "shop",
            "release:platform": "docker-host",
            "release:version": "1.5.0",
        });
        const { result, json } = await stack.preview({ allowFailure: true });
        assert.notStrictEqual(result.code, 0);
        // The operator sees the message alone: a config error is theirs to fix, not a crash with a stack trace.
        const errors = (json.diagnostics ?? []).filter((d) => d.severity === "error").map((d) => d.message.trim());
        assert.deepStrictEqual(errors[0], `error: \`release:version\` must be ${TAG_RULE}; got "1.5.0"`);
        // The program stopped before registering anything: the stack resource is all the engine saw.
        assert.deepStrictEqual(changedSteps(json), ["create pulumi:pulumi:Stack::release-e2e-badconfig"]);
        assert.deepStrictEqual(await stack.history(), []);
    });
});
