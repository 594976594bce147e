import { envFilePath, logFilePath, programPath } from "./hostLayout";
import { shellQuote } from "./shell";

/** What one supervisord program (or systemd unit) runs. */
export interface ProgramSpec {
    /** `shop-api-v1-5-0`; letters, digits, `-` and `_`. */
    readonly name: string;
    readonly root: string;
    /** Working directory: the release directory. */
    readonly directory: string;
    /** The program and its arguments; a relative program is found in `directory`. */
    readonly command: readonly string[];
    /** A line of context for whoever reads the file. */
    readonly description: string;
    /** Seconds the program must stay up to count as started. @default 2 */
    readonly startSeconds?: number;
    /** Seconds between the stop signal and SIGKILL. @default 30 */
    readonly stopWaitSeconds?: number;
    /** Source the env file before starting (every program of a component has one; the router has none). @default true */
    readonly withEnvFile?: boolean;
}

const PROGRAM_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

/** supervisord expands `%(name)s` in `command`: a literal `%` is written `%%`. */
const supervisorLiteral = (text: string) => text.replace(/%/g, "%%");

/**
 * A `[program:…]` section. The command sources the env file through `/bin/sh`
 * (`set -a` exports what it sets) and `exec`s the program, so supervisord signals
 * the program itself; secrets stay in the 0600 file, never in this file or a
 * command line that `ps` shows.
 */
export function renderProgramSection(spec: ProgramSpec): string {
    if (!PROGRAM_NAME.test(spec.name)) {
        throw new Error(
            `program name ${JSON.stringify(spec.name)} must be letters, digits, \`-\` and \`_\`, starting with a letter or digit`,
        );
    }
    if (spec.command.length === 0) throw new Error(`program ${spec.name} has no command; give the program to run`);
    const [executable, ...args] = spec.command;
    const exec = shellQuote([programPath(spec.directory, executable), ...args]);
    const script =
        spec.withEnvFile === false
            ? `exec ${exec}`
            : `set -a && . ${shellQuote([envFilePath(spec.root, spec.name)])} && set +a && exec ${exec}`;
    const log = logFilePath(spec.root, spec.name);
    return [
        `; ${spec.description} (written by safe-release; changes are overwritten)`,
        `[program:${spec.name}]`,
        `command=${supervisorLiteral(shellQuote(["/bin/sh", "-c", script]))}`,
        `directory=${supervisorLiteral(spec.directory)}`,
        "autostart=true",
        "autorestart=true",
        `startsecs=${spec.startSeconds ?? 2}`,
        "startretries=3",
        "stopsignal=TERM",
        `stopwaitsecs=${spec.stopWaitSeconds ?? 30}`,
        "stopasgroup=true",
        "killasgroup=true",
        "redirect_stderr=true",
        `stdout_logfile=${supervisorLiteral(log)}`,
        "stdout_logfile_maxbytes=10MB",
        "stdout_logfile_backups=3",
        "",
    ].join("\n");
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * An env file both `/bin/sh` (`.`) and systemd (`EnvironmentFile=`) read the
 * same way: `NAME="value"`, with `\`, `"`, `$` and `` ` `` escaped. A value with
 * a line break has no such spelling and is refused, by name only.
 */
export function renderEnvFile(variables: Readonly<Record<string, string>>): string {
    return Object.keys(variables)
        .sort()
        .map((name) => {
            if (!ENV_NAME.test(name)) throw new Error(`environment variable ${JSON.stringify(name)} must be letters, digits and \`_\``);
            const value = variables[name];
            if (/[\r\n\0]/.test(value)) throw new Error(`the value of ${name} holds a line break or NUL, which an env file cannot carry`);
            return `${name}="${value.replace(/[\\"$`]/g, (c) => `\\${c}`)}"\n`;
        })
        .join("");
}
