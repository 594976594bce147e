import * as fs from "fs";
import * as path from "path";
import { ownArguments } from "../core/args";
import { OpsCommand, OpsIO, UsageError } from "./command";

/** Every `ops/commands/*` module, by command name. */
export function loadCommands(dir = path.join(__dirname, "commands")): Map<string, OpsCommand> {
    const commands = new Map<string, OpsCommand>();
    for (const file of fs.readdirSync(dir).sort()) {
        if (!/\.(ts|js)$/.test(file) || file.endsWith(".d.ts")) continue;
        const command: OpsCommand | undefined = require(path.join(dir, file)).command;
        if (command) commands.set(command.name, command);
    }
    return commands;
}

/**
 * The one command `name` names, loading no other: each command module brings its
 * own dependencies (pg, tar-stream, the AWS SDK), and a host step that loads them
 * all pays a tenth of a second more on every run. Undefined when no file is named so.
 */
export function loadCommand(name: string, dir = path.join(__dirname, "commands")): OpsCommand | undefined {
    if (!/^[a-z][a-z0-9-]*$/.test(name)) return undefined;
    const file = [".js", ".ts"].map((extension) => path.join(dir, name + extension)).find((candidate) => fs.existsSync(candidate));
    const command: OpsCommand | undefined = file !== undefined ? require(file).command : undefined;
    return command?.name === name ? command : undefined;
}

export function overview(commands: Map<string, OpsCommand>): string {
    const width = Math.max(0, ...[...commands.keys()].map((name) => name.length));
    const lines = [...commands.values()].map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
    return [
        "usage: safe-release-ops <command> [options]   (safe-release-ops <command> --help for details)",
        "",
        "Connection strings and tokens are read from environment variables, never from arguments.",
        "",
        "commands:",
        ...lines,
        "",
    ].join("\n");
}

export async function main(argv: string[], io: OpsIO): Promise<number> {
    const named = argv[0] !== undefined ? loadCommand(argv[0]) : undefined;
    // The overview and an unknown command's message list every command: only they load them all.
    return dispatch(named !== undefined ? new Map([[named.name, named]]) : loadCommands(), argv, io);
}

/** Runs the named command of `commands`: its usage for `--help`, exit 2 with one line for bad input. */
export async function dispatch(commands: Map<string, OpsCommand>, argv: string[], io: OpsIO): Promise<number> {
    const [name, ...args] = argv;
    if (name === undefined || name === "--help" || name === "-h" || name === "help") {
        io.stderr.write(overview(commands));
        return name === undefined ? 2 : 0;
    }
    const command = commands.get(name);
    if (!command) {
        io.stderr.write(`unknown command \`${name}\`; valid commands: ${[...commands.keys()].join(", ")}\n`);
        return 2;
    }
    // After `--` come the arguments of the program a command runs (`migrate … -- sh -c …`): its `--help` is its own.
    const own = ownArguments(args);
    if (own.includes("--help") || own.includes("-h")) {
        io.stderr.write(command.usage.endsWith("\n") ? command.usage : `${command.usage}\n`);
        return 0;
    }
    try {
        return await command.run(args, io);
    } catch (err) {
        if (err instanceof UsageError) {
            io.stderr.write(`${name}: ${err.message}\n`);
            return 2;
        }
        throw err;
    }
}
