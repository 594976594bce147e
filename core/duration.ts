import { UsageError } from "./args";

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `250ms`, `1.5s`, `30s`, `10m`, `1h` → milliseconds, from 1ms to 24h; `option` names the flag, such as `--bake`. */
export function parseDuration(text: string, option: string): number {
    const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text);
    const ms = match ? Math.round(Number(match[1]) * UNIT_MS[match[2]]) : NaN;
    if (!(ms > 0) || ms > 24 * UNIT_MS.h) {
        throw new UsageError(`\`${option}\` must be a duration from 1ms to 24h such as 90s, 5m or 1h; got ${JSON.stringify(text)}`);
    }
    return ms;
}

/** How a duration is shown back to the operator: `600000` → `10m`, `190000` → `3m10s`, `1500` → `1.5s`. */
export function formatDuration(ms: number): string {
    if (ms >= UNIT_MS.h && ms % UNIT_MS.h === 0) return `${ms / UNIT_MS.h}h`;
    if (ms >= UNIT_MS.m && ms % UNIT_MS.m === 0) return `${ms / UNIT_MS.m}m`;
    if (ms >= UNIT_MS.m) return `${Math.floor(ms / UNIT_MS.m)}m${Math.round((ms % UNIT_MS.m) / 1000)}s`;
    if (ms >= 1000) return `${Math.round(ms / 100) / 10}s`;
    return `${Math.round(ms)}ms`;
}
