import { createHash } from "crypto";
import * as path from "path";

/** The runbook's operator log file, relative to where the program runs. */
export const DEFAULT_BACKUP_LOG = path.join("ops", "backups.log");

/** JSON with object keys sorted at every level and no whitespace: equal content, equal text. */
export function canonicalJson(value: unknown): string {
    if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
    if (typeof value === "object" && value !== null) {
        const entries = Object.entries(value as Record<string, unknown>)
            .filter(([, item]) => item !== undefined)
            .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(",")}}`;
    }
    return JSON.stringify(value);
}

export function sha256Hex(text: string): string {
    return createHash("sha256").update(text).digest("hex");
}
