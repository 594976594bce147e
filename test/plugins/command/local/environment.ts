import { LocalCommandInputs, Logging } from "./inputs";

export const PREVIOUS_STDOUT_VARIABLE = "PULUMI_COMMAND_STDOUT";
export const PREVIOUS_STDERR_VARIABLE = "PULUMI_COMMAND_STDERR";

/** What the last create or update of the resource printed (empty before the first run). */
export interface PreviousOutput {
    readonly stdout: string;
    readonly stderr: string;
}

export const NO_PREVIOUS_OUTPUT: PreviousOutput = { stdout: "", stderr: "" };

/**
 * A command's environment as upstream builds it: the plugin's own environment
 * (which is the engine's), then `environment` over it, then the previous run's
 * output as `PULUMI_COMMAND_STDOUT`/`STDERR` over that, each only when non-empty
 * and unless `addPreviousOutputInEnv` is false.
 */
export function commandEnvironment(
    base: NodeJS.ProcessEnv,
    inputs: Pick<LocalCommandInputs, "environment" | "addPreviousOutputInEnv">,
    previous: PreviousOutput,
): Record<string, string> {
    const env: Record<string, string> = {};
    for (const [name, value] of Object.entries(base)) if (value !== undefined) env[name] = value;
    Object.assign(env, inputs.environment ?? {});
    if (inputs.addPreviousOutputInEnv ?? true) {
        if (previous.stdout !== "") env[PREVIOUS_STDOUT_VARIABLE] = previous.stdout;
        if (previous.stderr !== "") env[PREVIOUS_STDERR_VARIABLE] = previous.stderr;
    }
    return env;
}

/** Upstream's default interpreter on Linux and macOS. */
export const DEFAULT_INTERPRETER = ["/bin/sh", "-c"];

/** The program and arguments that run `command`: `interpreter` (or the default when unset or empty), then the command. */
export function commandArgv(command: string, interpreter: readonly string[] | undefined): string[] {
    return [...(interpreter !== undefined && interpreter.length > 0 ? interpreter : DEFAULT_INTERPRETER), command];
}

/** Which streams reach the engine's log; unset logs both. */
export function loggedStreams(logging: Logging | undefined): { stdout: boolean; stderr: boolean } {
    const value = logging ?? "stdoutAndStderr";
    return {
        stdout: value === "stdout" || value === "stdoutAndStderr",
        stderr: value === "stderr" || value === "stdoutAndStderr",
    };
}
