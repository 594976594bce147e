import { OpsCommand, OpsIO, UsageError } from "../command";
import { parseFlags, requireValue } from "../flags";
import { pruneReleases } from "../host/artifact";

const usage = `usage: safe-release-ops host-prune --root <dir> [--keep N] [--protect v1.5.0,v1.4.2] [--dry-run]

Removes old release directories under <root>/releases. Kept: every --protect version (pass the
live set and the schema head's version) and the newest N others (default 5), by SemVer order.
Prints {"kept", "removed"} on stdout.
`;

async function run(args: string[], io: OpsIO): Promise<number> {
    const flags = parseFlags(args, { root: "value", keep: "value", protect: "value", "dry-run": "switch" });
    const keepText = flags.values.get("keep") ?? "5";
    const keep = Number(keepText);
    if (!Number.isInteger(keep) || keep < 0) throw new UsageError(`\`--keep\` must be a whole number from 0; got \`${keepText}\``);
    const protect = (flags.values.get("protect") ?? "").split(",").filter((v) => v !== "");
    const dryRun = flags.switches.has("dry-run");
    const plan = pruneReleases(requireValue(flags, "root", "the host root directory"), keep, protect, dryRun);
    for (const version of plan.removed) io.stderr.write(`${dryRun ? "would remove" : "removed"} release ${version}\n`);
    io.stdout.write(`${JSON.stringify(plan)}\n`);
    return 0;
}

export const command: OpsCommand = {
    name: "host-prune",
    summary: "remove old release directories, keeping the live set, the schema head's and the newest N",
    usage,
    run,
};
