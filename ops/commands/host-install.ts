import { OpsCommand, OpsIO, UsageError } from "../command";
import { parseFlags, requireValue } from "../flags";
import { ArtifactError, installArtifact } from "../host/artifact";

const usage = `usage: safe-release-ops host-install --root <dir> --version <tag> --component <name> --sha256 <hex>
                                  (--path <file> | --url <https://…>) [--key <config key>]

Fetches (--url) or copies (--path) one artifact, checks its sha256 before anything else
happens, and unpacks it into <root>/releases/<version>/<component>/: a .tar.gz (gzip magic)
is extracted, any other file is placed there as an executable. The directory appears by
rename, complete or not at all, with a .safe-release.json record of the digest; it is never
overwritten: the same digest again installs nothing, another digest fails.
--key names the config key of the digest in a mismatch (default release:artifacts.<version>.<component>.sha256).
Prints {"dir", "sha256", "installed"} on stdout.
`;

async function run(args: string[], io: OpsIO): Promise<number> {
    const flags = parseFlags(args, {
        root: "value",
        version: "value",
        component: "value",
        sha256: "value",
        path: "value",
        url: "value",
        key: "value",
    });
    const version = requireValue(flags, "version", "the release tag");
    const component = requireValue(flags, "component", "the component name");
    const sha256 = requireValue(flags, "sha256", "the artifact's sha256 (64 hex digits)");
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new UsageError(`\`--sha256\` must be 64 lower-case hex digits; got \`${sha256}\``);
    const path = flags.values.get("path");
    const url = flags.values.get("url");
    if ((path === undefined) === (url === undefined)) throw new UsageError("give exactly one of `--path` and `--url`");
    try {
        const result = await installArtifact({
            root: requireValue(flags, "root", "the host root directory"),
            version,
            component,
            sha256,
            source: (path ?? url)!,
            key: flags.values.get("key") ?? `release:artifacts.${version}.${component}.sha256`,
        });
        io.stderr.write(`${result.installed ? "installed" : "already installed"} ${component} ${version} in ${result.dir}\n`);
        io.stdout.write(`${JSON.stringify(result)}\n`);
        return 0;
    } catch (err) {
        if (!(err instanceof ArtifactError)) throw err;
        io.stderr.write(`host-install: ${err.message}\n`);
        return 1;
    }
}

export const command: OpsCommand = {
    name: "host-install",
    summary: "fetch, verify (sha256) and unpack one artifact into its release directory",
    usage,
    run,
};
