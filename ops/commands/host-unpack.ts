import * as fs from "fs";
import * as path from "path";
import { Readable } from "stream";
import { countTree, swapIn } from "../archive";
import { backupStamp } from "../../core/backupLog";
import { HashingCounter, runChild } from "../checksum";
import { OpsCommand, OpsIO, UsageError } from "../command";
import { parseCount, parseFlags, requireValue } from "../flags";

const usage = `usage: safe-release-ops host-unpack --target <dir> --sha256 <hex> --files <n> --bytes <n> [--drill] < archive.tar

The host side of \`host-restore\`, run by the host agent: extracts the tar archive on stdin into
<target>.restore-<stamp> beside the target, hashing it in the same read; only if its SHA-256
is --sha256 and the extracted tree holds --files regular files of --bytes bytes in all does it
rename the target to <target>.pre-restore-<stamp> (kept) and the extracted copy to <target>.
On any difference the target is untouched and the extracted copy is kept for inspection.
--drill: verify, then remove the extracted copy. Prints the result as JSON on stdout.
`;

export const command: OpsCommand = {
    name: "host-unpack",
    summary: "unpack a directory backup streamed to this host beside its target, verify it, swap it in (host-restore's other half)",
    usage,
    run,
};

async function run(args: string[], io: OpsIO): Promise<number> {
    const flags = parseFlags(args, { target: "value", sha256: "value", files: "value", bytes: "value", drill: "switch" });
    const target = requireValue(flags, "target", "the directory to restore");
    if (!path.isAbsolute(target)) throw new UsageError(`\`--target\` must be an absolute path; got \`${target}\``);
    const expected = requireValue(flags, "sha256", "the archive's recorded SHA-256");
    if (!/^[0-9a-f]{64}$/.test(expected)) throw new UsageError(`\`--sha256\` must be 64 lowercase hex digits; got \`${expected}\``);
    const files = parseCount(requireValue(flags, "files", "the recorded file count"), "files");
    const contentBytes = parseCount(requireValue(flags, "bytes", "the recorded bytes"), "bytes");
    const drill = flags.switches.has("drill");
    const stamp = backupStamp(new Date());
    const scratch = `${target}.restore-${stamp}`;
    const preRestore = `${target}.pre-restore-${stamp}`;
    const result = (fields: Record<string, unknown>, ok: boolean): number => {
        io.stdout.write(`${JSON.stringify({ ok, target, scratch, ...fields }, null, 2)}\n`);
        return ok ? 0 : 1;
    };

    const hash = new HashingCounter();
    fs.mkdirSync(scratch);
    try {
        await runChild({ command: "tar", args: ["-C", scratch, "-xf", "-"], input: [(io.stdin ?? process.stdin) as Readable, hash] });
    } catch (err) {
        io.stderr.write(`host-unpack: extracting into ${scratch} failed: ${(err as Error).message}; ${target} is untouched\n`);
        return result({ error: (err as Error).message, scratchKept: true }, false);
    }
    const sha256 = hash.digest();
    if (sha256 !== expected) {
        const error = `the archive that arrived has SHA-256 ${sha256}; the backup recorded ${expected} (${hash.bytes} bytes arrived)`;
        io.stderr.write(`host-unpack: ${error}; ${target} is untouched, the extracted copy kept at ${scratch}\n`);
        return result({ error, scratchKept: true }, false);
    }
    const found = countTree(scratch);
    const differences = [
        ...(found.files !== files ? [`file count: expected ${files}, got ${found.files}`] : []),
        ...(found.contentBytes !== contentBytes ? [`bytes: expected ${contentBytes}, got ${found.contentBytes}`] : []),
    ];
    if (differences.length > 0) {
        for (const difference of differences) io.stderr.write(`host-unpack: difference: ${difference}\n`);
        return result({ differences, scratchKept: true }, false);
    }
    const verified = { sha256, files: found.files, contentBytes: found.contentBytes };
    io.stderr.write(`verified on the host: SHA-256 ${sha256}, ${found.files} files, ${found.contentBytes} bytes\n`);
    if (drill) {
        fs.rmSync(scratch, { recursive: true, force: true });
        return result({ drill, verified, scratchKept: false }, true);
    }
    const hadTarget = swapIn(scratch, target, preRestore);
    return result({ drill, verified, scratchKept: false, preRestore: hadTarget ? preRestore : null }, true);
}
