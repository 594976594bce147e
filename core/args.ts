import { parseArgs } from "util";

/**
 * One command-line grammar for every program of the project (the ops programs,
 * the promote/rollback drivers, the offline plan), on `node:util`'s `parseArgs`:
 * `--name value`, `--name=value`, `--switch`, positionals where a program takes
 * them, and everything after `--` left untouched.
 */

/** Wrong arguments or input: the program says what was wrong and exits 2. */
export class UsageError extends Error {}

/** Option name (without `--`) → whether it takes a value. */
export type FlagSpec = Readonly<Record<string, "value" | "switch">>;

export interface ParsedFlags {
    readonly values: ReadonlyMap<string, string>;
    readonly switches: ReadonlySet<string>;
    /** Arguments before `--` that are not options, where the program takes them. */
    readonly positionals: readonly string[];
    /** Everything after `--`, untouched (a program and its arguments). */
    readonly rest: readonly string[];
}

export interface Positionals {
    /** How many the program takes (default 0): one more is an unknown argument. */
    readonly max: number;
    /** How the usage error names them, such as `<stack>`. */
    readonly name: string;
}

/** Parses `args`; anything the spec does not name is a usage error that names the valid options. */
export function parseFlags(args: readonly string[], spec: FlagSpec, positionals: Positionals = { max: 0, name: "" }): ParsedFlags {
    const { tokens } = parseArgs({
        args: [...args],
        options: Object.fromEntries(Object.entries(spec).map(([name, kind]) => [name, { type: kind === "value" ? "string" : "boolean" }])),
        strict: false,
        allowPositionals: true,
        tokens: true,
    });
    const valid = [...(positionals.max > 0 ? [positionals.name] : []), ...Object.keys(spec).map((name) => `--${name}`)].join(", ");
    const values = new Map<string, string>();
    const switches = new Set<string>();
    const given: string[] = [];
    let rest: string[] = [];
    for (const token of tokens) {
        if (token.kind === "option-terminator") {
            rest = args.slice(token.index + 1);
            break;
        }
        if (token.kind === "positional") {
            if (given.length >= positionals.max) throw new UsageError(`unknown argument \`${token.value}\`; valid options: ${valid}`);
            given.push(token.value);
            continue;
        }
        const arg = args[token.index];
        if (!token.rawName.startsWith("--") || !(token.name in spec)) {
            throw new UsageError(`unknown argument \`${arg}\`; valid options: ${valid}`);
        }
        const name = token.name;
        if (values.has(name) || switches.has(name)) throw new UsageError(`\`--${name}\` is given twice; give it once`);
        if (spec[name] === "switch") {
            if (token.inlineValue) throw new UsageError(`\`--${name}\` takes no value; got \`${arg}\``);
            switches.add(name);
            continue;
        }
        // `--name --other`: parseArgs would take `--other` as the value; a forgotten value is the likelier mistake.
        if (token.value === undefined || (!token.inlineValue && token.value.startsWith("--"))) {
            throw new UsageError(`\`--${name}\` needs a value`);
        }
        values.set(name, token.value);
    }
    return { values, switches, positionals: given, rest };
}

/** The arguments a program reads before `--`: what comes after belongs to the program it runs. */
export function ownArguments(args: readonly string[]): readonly string[] {
    const end = args.indexOf("--");
    return end < 0 ? args : args.slice(0, end);
}

export function requireValue(flags: ParsedFlags, name: string, what: string): string {
    const value = flags.values.get(name);
    if (value === undefined) throw new UsageError(`\`--${name}\` is required: ${what}`);
    return value;
}
