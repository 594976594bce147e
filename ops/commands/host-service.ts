import * as fs from "fs";
import { renderEnvFile } from "../../core/supervisord";
import { OpsCommand, OpsIO, UsageError } from "../command";
import { parseFlags } from "../flags";
import { MANAGER_FLAGS, MANAGER_USAGE, jsonObjectOption, managerOptions, readAll, requireValue, secondsOption } from "../host/options";
import {
    ManagerOptions,
    ServiceError,
    applyDefinitions,
    definitionPath,
    removeProgram,
    restartProgram,
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
200 (default wait 60s). A definition that did not change is restarted (supervisord would leave it
stopped, or running with its old env file). When that fails, the program is removed again; with
--restore-on-failure a definition it replaced is put back, started and waited for in the same way
(the same health URL), and the command still fails, saying whether the old one answers again.
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
        if (value === undefined && io.env.SSH_CONNECTION !== undefined) {
            // Over SSH a variable arrives only when the server accepts its name; an absent one is the server's refusal.
            throw new UsageError(
                `the secret ${name} did not arrive over SSH: the server drops variables its sshd_config does not accept; ` +
                    `add \`AcceptEnv ${name}\` to /etc/ssh/sshd_config on this host and reload sshd`,
            );
        }
        if (value === undefined) throw new UsageError(`\`--secret-env\` names ${name}, which is not in this command's environment`);
        variables[name] = value;
    }
    const definition = await readAll(io.stdin ?? process.stdin);
    if (definition.trim() === "") throw new UsageError("the program section or unit must arrive on stdin; got nothing");
    const before = { definition: readIfPresent(files.definition), env: readIfPresent(files.envFile) };
    const url = flags.values.get("health-url");
    const timeoutMs = secondsOption(flags, "wait", 60) * 1000;
    const wait = { program, label: labelOf(program, variables.RELEASE_VERSION), url, timeoutMs };
    try {
        if (files.envFile !== undefined) writeAtomically(files.envFile, renderEnvFile(variables), 0o600);
        writeAtomically(files.definition, definition);
        await start(options, program, before.definition === definition);
        await waitHealthy(options, wait);
    } catch (err) {
        if (!(err instanceof ServiceError)) throw err;
        const replaced = flags.switches.has("restore-on-failure") ? before.definition : undefined;
        const outcome =
            replaced !== undefined
                ? await putBack(options, program, files, { definition: replaced, env: before.env }, definition, { url, timeoutMs })
                : await removeAgain(options, program, files);
        io.stderr.write(`host-service: ${err.message}; ${outcome}\n`);
        return 1;
    }
    io.stderr.write(`${wait.label} runs${url !== undefined ? ` and answers ${url}` : ""}\n`);
    io.stdout.write(`${JSON.stringify({ program, state: "running" })}\n`);
    return 0;
}

/**
 * Loads the definition and starts the program. supervisord leaves a program whose
 * definition did not change as it is — stopped by a quiesce, or running with the
 * env file it started with — so that one is restarted.
 */
async function start(options: ManagerOptions, program: string, unchanged: boolean): Promise<void> {
    await applyDefinitions(options, program);
    if (unchanged && options.manager === "supervisord") await restartProgram(options, program);
}

/** `shop-api v1.5.0`: a replaced program's name has no version, so messages add its `RELEASE_VERSION`. */
function labelOf(program: string, version: string | undefined): string {
    if (version === undefined || version === "" || program.endsWith(`-${version.replace(/\./g, "-")}`)) return program;
    return `${program} ${version}`;
}

/** The `RELEASE_VERSION` an env file written by `up` holds. */
function versionInEnvFile(text: string | undefined): string | undefined {
    return /^RELEASE_VERSION="([^"\\$`]*)"$/m.exec(text ?? "")?.[1];
}

async function removeAgain(options: ManagerOptions, program: string, files: Files): Promise<string> {
    try {
        restoreFile(files.envFile, undefined, 0o600);
        await removeProgram(options, program);
        return "it was removed again";
    } catch (err) {
        return `removing it failed too: ${(err as Error).message}`;
    }
}

/**
 * `replace`: the definition the failed one replaced goes back, starts on its own
 * and must answer the same health URL (the same port) before the command ends,
 * so the failure message says truthfully whether the old version serves again.
 */
async function putBack(
    options: ManagerOptions,
    program: string,
    files: Files,
    before: { definition: string; env?: string },
    failed: string,
    health: { url?: string; timeoutMs: number },
): Promise<string> {
    const version = versionInEnvFile(before.env);
    const label = version !== undefined ? labelOf(program, version) : `${program} (the definition it replaced)`;
    try {
        restoreFile(files.envFile, before.env, 0o600);
        restoreFile(files.definition, before.definition, 0o644);
        await start(options, program, before.definition === failed);
        await waitHealthy(options, { program, label, ...health });
    } catch (err) {
        return `putting ${label} back failed too: ${(err as Error).message}`;
    }
    return `${label} was put back and ${health.url !== undefined ? `answers ${health.url} again` : "runs again"}`;
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
