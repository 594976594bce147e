import * as path from "path";
import { OpsCommand, OpsIO, UsageError } from "../command";
import { parseFlags, requireValue } from "../flags";
import { ArtifactError, readRecord, RECORD_FILE } from "../host/artifact";
import { manifestDifferences } from "../host/releaseManifest";
import { validateVersion } from "../validate";

const usage = `usage: safe-release-ops host-check --root <dir> --version <tag> --components <name>=<sha256>[,<name>=<sha256>…]

Proves that a release directory a rollback would return to is still there, before a forward step
changes anything: for each component, <root>/releases/<version>/<component>/ must exist, its
${RECORD_FILE} must name the pinned sha256, and every file it recorded at install must still
have the SHA-256 it had then (a directory installed before files were recorded is checked by
its digest alone, and the result says so). Nothing is written.
Prints {"version", "components": [{"component", "dir", "files"}]} on stdout; exit 1 names every
directory that is missing or changed.
`;

interface Checked {
    readonly component: string;
    readonly dir: string;
    /** Files compared with the install's record; null when the record holds none. */
    readonly files: number | null;
}

async function run(args: string[], io: OpsIO): Promise<number> {
    const flags = parseFlags(args, { root: "value", version: "value", components: "value" });
    const root = requireValue(flags, "root", "the host root directory");
    const version = validateVersion(requireValue(flags, "version", "the release tag whose directories are checked"));
    const pins = parseComponents(requireValue(flags, "components", "the components and their pinned sha256, `web=<sha256>`"));
    const problems: string[] = [];
    const checked: Checked[] = [];
    for (const [component, sha256] of pins) {
        const dir = path.join(root, "releases", version, component);
        let record;
        try {
            record = readRecord(dir);
        } catch (err) {
            if (!(err instanceof ArtifactError)) throw err;
            problems.push(err.message);
            continue;
        }
        if (record === undefined) {
            problems.push(`${dir} is missing (or has no ${RECORD_FILE}): ${component} ${version} is not installed there`);
            continue;
        }
        if (record.sha256 !== sha256) {
            problems.push(`${dir} holds ${component} ${version} with sha256 ${record.sha256}; the pinned sha256 is ${sha256}`);
            continue;
        }
        if (record.files === undefined) {
            io.stderr.write(`host-check: ${dir}: digest matches; its files were not recorded at install, so they are not compared\n`);
            checked.push({ component, dir, files: null });
            continue;
        }
        const differences = await manifestDifferences(dir, record.files);
        if (differences.length > 0) problems.push(`${dir} changed since it was installed: ${differences.join("; ")}`);
        else checked.push({ component, dir, files: Object.keys(record.files).length });
    }
    if (problems.length > 0) {
        for (const problem of problems) io.stderr.write(`host-check: ${problem}\n`);
        io.stderr.write(
            `host-check: release ${version} cannot be returned to as it was installed; install it again ` +
                `(an update with \`release:version: ${version}\` and its artifacts) before going forward\n`,
        );
        return 1;
    }
    io.stdout.write(`${JSON.stringify({ version, components: checked })}\n`);
    return 0;
}

function parseComponents(text: string): Array<[string, string]> {
    const pins = text.split(",").map((item) => {
        const match = /^([a-z][a-z0-9-]*)=([0-9a-f]{64})$/.exec(item);
        if (!match) throw new UsageError(`\`--components\` must list \`<component>=<64 hex digits>\` separated by commas; got \`${item}\``);
        return [match[1], match[2]] as [string, string];
    });
    const names = pins.map(([name]) => name);
    const repeated = names.find((name, i) => names.indexOf(name) !== i);
    if (repeated !== undefined) throw new UsageError(`\`--components\` names \`${repeated}\` twice; give each component once`);
    return pins;
}

export const command: OpsCommand = {
    name: "host-check",
    summary: "prove a release directory is still installed as it was (digest and every file), before going forward",
    usage,
    run,
};
