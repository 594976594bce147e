import * as fs from "fs";
import { planPruning, readLog, writeLogAtomically } from "../backupLog";
import { OpsCommand, OpsIO, UsageError } from "../command";
import { parseOptions, reported, required } from "./backup";

const usage = `usage: safe-release-ops prune --log <backup log> [--keep N] [--retention-days D] [--protect id,id] [--dry-run]

Deletes old backups (file and facts) and their log lines. Kept: the newest N verified
backups of each app and kind (default 5), every backup younger than D days (default 7),
and every --protect id (pass the schema head's backup so a restore stays possible).
The log is rewritten at once (temporary file + rename) before any file is deleted, so it
never names a deleted backup. --dry-run only reports. Prints the plan as JSON on stdout.
`;

function numberOption(value: string | boolean | undefined, name: string, fallback: number): number {
    if (value === undefined) return fallback;
    const parsed = Number(value);
    if (typeof value !== "string" || value.trim() === "" || !Number.isFinite(parsed)) {
        throw new UsageError(`\`--${name}\` must be a number; got \`${String(value)}\``);
    }
    return parsed;
}

export const command: OpsCommand = {
    name: "prune",
    summary: "delete backups beyond the retention policy (newest N, younger than D days, protected ids kept)",
    usage,
    run: (args: string[], io: OpsIO): Promise<number> =>
        reported("prune", io, async () => {
            const values = parseOptions(args, {
                log: { type: "string" },
                keep: { type: "string" },
                "retention-days": { type: "string" },
                protect: { type: "string" },
                "dry-run": { type: "boolean" },
            });
            const log = required(values, "log", "the backup log to prune");
            const protectedIds = typeof values.protect === "string" ? values.protect.split(",").map((id) => id.trim()).filter(Boolean) : [];
            const records = readLog(log);
            const known = new Set(records.map((r) => r.id));
            const unknown = protectedIds.filter((id) => !known.has(id));
            if (unknown.length > 0) {
                // A typo here would silently let the schema head's backup be deleted.
                throw new UsageError(`\`--protect\` must name backups recorded in \`${log}\`; unknown: ${unknown.join(", ")}`);
            }
            const doomed = planPruning(records, {
                keep: numberOption(values.keep, "keep", 5),
                retentionDays: numberOption(values["retention-days"], "retention-days", 7),
                now: new Date(),
                protectedIds,
            });
            const dryRun = values["dry-run"] === true;
            if (!dryRun && doomed.length > 0) {
                writeLogAtomically(log, records.filter((r) => !doomed.includes(r)));
                for (const record of doomed) {
                    fs.rmSync(record.location, { force: true });
                    if (record.kind === "postgres") fs.rmSync(record.factsLocation, { force: true });
                    io.stderr.write(`deleted ${record.id}\n`);
                }
            }
            const result = {
                dryRun,
                deleted: doomed.map((r) => ({ id: r.id, location: r.location, time: r.time })),
                kept: records.filter((r) => !doomed.includes(r)).map((r) => r.id),
            };
            io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
            return 0;
        }),
};
