import { UsageError } from "../command";
import { FlagSpec, ParsedFlags, requireValue } from "../flags";
import { ManagerOptions } from "./service";

/** The flags every `host-*` command that talks to the service manager takes. */
export const MANAGER_FLAGS: FlagSpec = {
    manager: "value",
    supervisorctl: "value",
    "supervisor-config": "value",
    dir: "value",
};

export const MANAGER_USAGE = `  --manager supervisord|systemd   (default supervisord)
  --supervisorctl <path>          (default supervisorctl)
  --supervisor-config <file>      the supervisord config \`supervisorctl -c\` reads (default /etc/supervisor/supervisord.conf)
  --dir <dir>                     where program sections or units are written (default /etc/supervisor/conf.d)`;

export function managerOptions(flags: ParsedFlags): ManagerOptions {
    const manager = flags.values.get("manager") ?? "supervisord";
    if (manager !== "supervisord" && manager !== "systemd") {
        throw new UsageError(`\`--manager\` must be supervisord or systemd; got \`${manager}\``);
    }
    return {
        manager,
        supervisorctl: flags.values.get("supervisorctl") ?? "supervisorctl",
        supervisorConfig: flags.values.get("supervisor-config") ?? "/etc/supervisor/supervisord.conf",
        dir: flags.values.get("dir") ?? (manager === "systemd" ? "/etc/systemd/system" : "/etc/supervisor/conf.d"),
    };
}

export function secondsOption(flags: ParsedFlags, name: string, fallback: number): number {
    const text = flags.values.get(name);
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!Number.isInteger(value) || value < 1 || value > 3600)
        throw new UsageError(`\`--${name}\` must be whole seconds from 1 to 3600; got \`${text}\``);
    return value;
}

export function jsonObjectOption(flags: ParsedFlags, name: string): Record<string, string> {
    const text = flags.values.get(name);
    if (text === undefined) return {};
    let parsed: unknown;
    try {
        parsed = JSON.parse(text);
    } catch {
        throw new UsageError(`\`--${name}\` must be a JSON object of strings; got \`${text}\``);
    }
    if (
        typeof parsed !== "object" ||
        parsed === null ||
        Array.isArray(parsed) ||
        !Object.values(parsed).every((v) => typeof v === "string")
    ) {
        throw new UsageError(`\`--${name}\` must be a JSON object of strings; got \`${text}\``);
    }
    return parsed as Record<string, string>;
}

export { requireValue };

export async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
    let text = "";
    for await (const chunk of stream) text += chunk;
    return text;
}
