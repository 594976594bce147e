import { UsageError } from "../core/args";

export type { FlagSpec, ParsedFlags } from "../core/args";
export { parseFlags, requireValue } from "../core/args";
export { formatDuration, parseDuration } from "../core/duration";

/** A whole number ≥ 0, e.g. a size in MB. */
export function parseCount(text: string, option: string): number {
    if (!/^\d{1,9}$/.test(text)) throw new UsageError(`\`--${option}\` must be a whole number ≥ 0; got \`${text}\``);
    return Number(text);
}
