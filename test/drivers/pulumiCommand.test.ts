import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { VERSIONS_FILE, pinnedCliVersion, toolchainCliRoot, toolchainPulumiCommand } from "../../drivers/pulumiCommand";
import { tempDir } from "../support/processes";

/** A PULUMI_HOME whose versions/<version>/bin/pulumi is a script answering `pulumi version` with `reports`. */
async function pulumiHome(version: string, reports: string): Promise<string> {
    const home = await tempDir("safe-release-pulumi-home-");
    const bin = path.join(home, "versions", version, "bin");
    fs.mkdirSync(bin, { recursive: true });
    fs.writeFileSync(path.join(bin, "pulumi"), `#!/bin/sh\necho ${reports}\n`, { mode: 0o755 });
    return home;
}

describe("drivers: the Pulumi CLI of the toolchain", () => {
    const pinned = pinnedCliVersion(fs.readFileSync(VERSIONS_FILE, "utf8"));

    it("reads the pinned version from toolchain/versions.env", () => {
        assert.strictEqual(pinnedCliVersion("# pins\nPULUMI_CLI_VERSION=3.250.0\nPULUMI_LANGUAGE_NODEJS_VERSION=3.68.0\n"), "3.250.0");
        assert.match(pinned, /^\d+\.\d+\.\d+$/);
        assert.throws(
            () => pinnedCliVersion("PULUMI_CLI_VERSION=latest\n", "versions.env"),
            new Error("versions.env has no line PULUMI_CLI_VERSION=<major.minor.patch>, such as PULUMI_CLI_VERSION=3.250.0"),
        );
    });

    it("looks in $PULUMI_HOME/versions/<version>, ~/.pulumi without PULUMI_HOME", () => {
        assert.strictEqual(toolchainCliRoot({ PULUMI_HOME: "/srv/pulumi" }, "3.250.0"), "/srv/pulumi/versions/3.250.0");
        assert.strictEqual(toolchainCliRoot({}, "3.250.0", "/home/op"), "/home/op/.pulumi/versions/3.250.0");
        assert.strictEqual(toolchainCliRoot({ PULUMI_HOME: "" }, "3.250.0", "/home/op"), "/home/op/.pulumi/versions/3.250.0");
    });

    it("runs that CLI by its absolute path, not the first `pulumi` on PATH", async () => {
        const home = await pulumiHome(pinned, `v${pinned}`);
        const command = await toolchainPulumiCommand({ PULUMI_HOME: home });
        assert.strictEqual(command.command, path.join(home, "versions", pinned, "bin", "pulumi"));
        assert.strictEqual(command.version?.version, pinned);
    });

    it("refuses a missing CLI and one that reports another version, naming scripts/toolchain.sh", async () => {
        const empty = await tempDir("safe-release-pulumi-home-");
        const binary = path.join(empty, "versions", pinned, "bin", "pulumi");
        await assert.rejects(
            toolchainPulumiCommand({ PULUMI_HOME: empty }),
            new Error(
                `no Pulumi CLI ${pinned} at ${binary}: run scripts/toolchain.sh with the same PULUMI_HOME (scripts/driver.sh does), or install CLI ${pinned} there`,
            ),
        );
        const stale = await pulumiHome(pinned, "v3.2.0");
        await assert.rejects(
            toolchainPulumiCommand({ PULUMI_HOME: stale }),
            new Error(
                `the Pulumi CLI at ${path.join(stale, "versions", pinned, "bin", "pulumi")} reports version 3.2.0, not ${pinned} (toolchain/versions.env): run scripts/toolchain.sh again`,
            ),
        );
    });
});
