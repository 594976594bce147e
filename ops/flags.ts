import { UsageError } from "./command";

/** Option name (without `--`) → whether it takes a value. */
export type FlagSpec = Readonly<Record<string, "value" | "switch">>;

export interface ParsedFlags {
    readonly values: ReadonlyMap<string, string>;
    readonly switches: ReadonlySet<string>;
    /** Everything after `--`, untouched (a program and its arguments). */
    readonly rest: readonly string[];
}

/** `--name value`, `--name=value` and `--switch`; anything else is a usage error that names the valid options. */
export function parseFlags(args: readonly string[], spec: FlagSpec): ParsedFlags {
    const values = new Map<string, string>();
    const switches = new Set<string>();
    const valid = Object.keys(spec)
        .map((name) => `--${name}`)
        .join(", ");
    let i = 0;
    for (; i < args.length; i++) {
        const arg = args[i];
        if (arg === "--") {
            i++;
            break;
        }
        const match = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/s.exec(arg);
        if (!match || !(match[1] in spec)) {
            throw new UsageError(`unknown argument \`${arg}\`; valid options: ${valid}`);
        }
        const [, name, inline] = match;
        if (values.has(name) || switches.has(name)) throw new UsageError(`\`--${name}\` is given twice; give it once`);
        if (spec[name] === "switch") {
            if (inline !== undefined) throw new UsageError(`\`--${name}\` takes no value; got \`${arg}\``);
            switches.add(name);
            continue;
        }
        const value = inline ?? args[++i];
        if (value === undefined || (inline === undefined && value.startsWith("--"))) {
            throw new UsageError(`\`--${name}\` needs a value`);
        }
        values.set(name, value);
    }
    return { values, switches, rest: args.slice(i) };
}

export function requireValue(flags: ParsedFlags, name: string, what: string): string {
    const value = flags.values.get(name);
    if (value === undefined) throw new UsageError(`\`--${name}\` is required: ${what}`);
    return value;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `250ms`, `30s`, `10m`, `1h` → milliseconds. */
export function parseDuration(text: string, option: string): number {
    const match = /^(\d+)(ms|s|m|h)$/.exec(text);
    const ms = match ? Number(match[1]) * UNIT_MS[match[2]] : NaN;
    if (!(ms > 0) || ms > 24 * UNIT_MS.h) {
        throw new UsageError(`\`--${option}\` must be a duration from 1ms to 24h such as 30s or 10m; got \`${text}\``);
    }
    return ms;
}

/** A whole number ≥ 0, e.g. a size in MB. */
export function parseCount(text: string, option: string): number {
    if (!/^\d{1,9}$/.test(text)) throw new UsageError(`\`--${option}\` must be a whole number ≥ 0; got \`${text}\``);
    return Number(text);
}

/** `10m` for 600000: how a duration is shown back to the operator. */
export function formatDuration(ms: number): string {
    for (const unit of ["h", "m", "s"]) {
        if (ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
    }
    return `${ms}ms`;
}
