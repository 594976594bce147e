import * as fs from "fs";
import { renderEnvFile } from "../../components/host/supervisord";
import { OpsCommand, OpsIO, UsageError } from "../command";
import { parseFlags } from "../flags";
import { MANAGER_FLAGS, MANAGER_USAGE, jsonObjectOption, managerOptions, readAll, requireValue, secondsOption } from "../host/options";
import {
    ManagerOptions,
    ServiceError,
    applyDefinitions,
    definitionPath,
    removeProgram,
    waitHealthy,
    writeAtomically,
} from "../host/service";

const usage = `usage: safe-release-ops host-service up --program <name> [--env-path <file>] [--plain-env-json <json>]
                                      [--secret-env NAME,NAME] [--health-url <url>] [--wait <seconds>]
                                      [--restore-on-failure] [manager options] < definition
       safe-release-ops host-service down --program <name> [--env-path <file>] [manager options]

up: writes the env file (mode 0600: the --plain-env-json variables, and the --secret-env ones
taken by name from this command's environment, never from its arguments), then the program
section (supervisord) or unit (systemd) read on stdin, loads it (\`supervisorctl reread\` +
\`update <program>\`) and waits until the program runs and, with --health-url, answers it with
200 (default wait 60s). When that fails, the program is removed again; with
--restore-on-failure a definition it replaced is put back and started, and the command still fails.
down: stops the program and removes its definition and env file.
${MANAGER_USAGE}
Prints {"program", "state"} on stdout.
`;

const FLAGS = {
    ...MANAGER_FLAGS,
    program: "value",
    "env-path": "value",
    "plain-env-json": "value",
    "secret-env": "value",
    "health-url": "value",
    wait: "value",
    "restore-on-failure": "switch",
} as const;

function readIfPresent(file: string | undefined): string | undefined {
    if (file === undefined) return undefined;
    try {
        return fs.readFileSync(file, "utf8");
    } catch {
        return undefined;
    }
}

interface Files {
    readonly definition: string;
    readonly envFile?: string;
}

function restoreFile(file: string | undefined, text: string | undefined, mode: number): void {
    if (file === undefined) return;
    if (text === undefined) fs.rmSync(file, { force: true });
    else writeAtomically(file, text, mode);
}

async function up(args: string[], io: OpsIO): Promise<number> {
    const flags = parseFlags(args, FLAGS);
    const options = managerOptions(flags);
    const program = requireValue(flags, "program", "the program (or unit) name");
    const files: Files = { definition: definitionPath(options, program), envFile: flags.values.get("env-path") };
    const variables = { ...jsonObjectOption(flags, "plain-env-json") };
    for (const name of (flags.values.get("secret-env") ?? "").split(",").filter((n) => n !== "")) {
        const value = io.env[name];
        if (value === undefined) throw new UsageError(`\`--secret-env\` names ${name}, which is not in this command's environment`);
        variables[name] = value;
    }
    const definition = await readAll(io.stdin ?? process.stdin);
    if (definition.trim() === "") throw new UsageError("the program section or unit must arrive on stdin; got nothing");
    const before = { definition: readIfPresent(files.definition), env: readIfPresent(files.envFile) };
    const wait = { program, url: flags.values.get("health-url"), timeoutMs: secondsOption(flags, "wait", 60) * 1000 };
    try {
        if (files.envFile !== undefined) writeAtomically(files.envFile, renderEnvFile(variables), 0o600);
        writeAtomically(files.definition, definition);
        await applyDefinitions(options, program);
        await waitHealthy(options, wait);
    } catch (err) {
        if (!(err instanceof ServiceError)) throw err;
        const restored = flags.switches.has("restore-on-failure") && before.definition !== undefined;
        await putBack(options, program, files, restored ? before : { definition: undefined, env: undefined }).catch((e: Error) =>
            io.stderr.write(`host-service: putting ${program} back failed too: ${e.message}\n`),
        );
        const outcome = restored ? "the definition it replaced was put back and started again" : "it was removed again";
        io.stderr.write(`host-service: ${err.message}; ${outcome}\n`);
        return 1;
    }
    io.stderr.write(`${program} runs${wait.url !== undefined ? ` and answers ${wait.url}` : ""}\n`);
    io.stdout.write(`${JSON.stringify({ program, state: "running" })}\n`);
    return 0;
}

async function putBack(
    options: ManagerOptions,
    program: string,
    files: Files,
    before: { definition?: string; env?: string },
): Promise<void> {
    restoreFile(files.envFile, before.env, 0o600);
    if (before.definition === undefined) {
        await removeProgram(options, program);
        return;
    }
    restoreFile(files.definition, before.definition, 0o644);
    await applyDefinitions(options, program);
}

async function down(args: string[], io: OpsIO): Promise<number> {
    const flags = parseFlags(args, FLAGS);
    const options = managerOptions(flags);
    const program = requireValue(flags, "program", "the program (or unit) name");
    try {
        await removeProgram(options, program);
    } catch (err) {
        if (!(err instanceof ServiceError)) throw err;
        io.stderr.write(`host-service: ${err.message}\n`);
        return 1;
    }
    const envFile = flags.values.get("env-path");
    if (envFile !== undefined) fs.rmSync(envFile, { force: true });
    io.stdout.write(`${JSON.stringify({ program, state: "removed" })}\n`);
    return 0;
}

async function run(args: string[], io: OpsIO): Promise<number> {
    const [subcommand, ...rest] = args;
    if (subcommand === "up") return up(rest, io);
    if (subcommand === "down") return down(rest, io);
    throw new UsageError(`the subcommand must be \`up\` or \`down\`; got ${JSON.stringify(subcommand ?? "")}`);
}

export const command: OpsCommand = {
    name: "host-service",
    summary: "install and start (up) or stop and remove (down) one supervisord program or systemd unit",
    usage,
    run,
};
