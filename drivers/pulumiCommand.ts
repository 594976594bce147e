import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PulumiCommand } from "@pulumi/pulumi/automation";

/**
 * The Pulumi CLI the drivers run. `LocalWorkspace` would take whatever `pulumi`
 * comes first on PATH: here the npm wrapper (one more node process per CLI call,
 * and a download when its version is missing) or any other CLI the machine has.
 * The drivers take the toolchain's own instead: the version `toolchain/versions.env`
 * pins, where `scripts/toolchain.sh` installs it, so `npm run up` and the drivers
 * run the same engine on the same state.
 */

/** toolchain/versions.env, from drivers/ (run as TypeScript) or bin/drivers/ (compiled). */
export const VERSIONS_FILE = path.resolve(__dirname, "..", "toolchain", "versions.env");

/** `PULUMI_CLI_VERSION=3.250.0` in the text of versions.env. */
export function pinnedCliVersion(versionsEnv: string, file = VERSIONS_FILE): string {
    const match = /^PULUMI_CLI_VERSION=(\d+\.\d+\.\d+)\s*$/m.exec(versionsEnv);
    if (match === null) throw new Error(`${file} has no line PULUMI_CLI_VERSION=<major.minor.patch>, such as PULUMI_CLI_VERSION=3.250.0`);
    return match[1];
}

/** `$PULUMI_HOME/versions/<version>`, as the CLI, the npm wrapper and scripts/toolchain.sh lay it out. */
export function toolchainCliRoot(env: NodeJS.ProcessEnv, version: string, home = os.homedir()): string {
    const pulumiHome = env.PULUMI_HOME !== undefined && env.PULUMI_HOME !== "" ? env.PULUMI_HOME : path.join(home, ".pulumi");
    return path.join(pulumiHome, "versions", version);
}

/** The pinned CLI, checked to report exactly the pinned version; throws naming what to run when it is missing. */
export async function toolchainPulumiCommand(env: NodeJS.ProcessEnv = process.env): Promise<PulumiCommand> {
    const version = pinnedCliVersion(fs.readFileSync(VERSIONS_FILE, "utf8"));
    const root = toolchainCliRoot(env, version);
    const binary = path.join(root, "bin", "pulumi");
    if (!fs.existsSync(binary)) {
        throw new Error(
            `no Pulumi CLI ${version} at ${binary}: run scripts/toolchain.sh with the same PULUMI_HOME ` +
                `(scripts/driver.sh does), or install CLI ${version} there`,
        );
    }
    const command = await PulumiCommand.get({ root });
    // The SDK checks a minimum only; the drivers must run the very CLI the toolchain pins, as `npm run up` does.
    const reported = command.version?.version;
    if (reported !== version) {
        throw new Error(
            `the Pulumi CLI at ${binary} reports version ${reported ?? "(none)"}, not ${version} (toolchain/versions.env): run scripts/toolchain.sh again`,
        );
    }
    return command;
}
