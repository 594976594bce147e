import { Writable } from "stream";

/** What an ops command may touch besides its arguments: never a secret on the command line. */
export interface OpsIO {
    /** Connection strings and tokens arrive here (e.g. `DATABASE_URL`), fed by Pulumi secrets. */
    readonly env: NodeJS.ProcessEnv;
    /** Input a command resource pipes in (e.g. `smoke --checks -`); the process's stdin when absent. */
    readonly stdin?: NodeJS.ReadableStream;
    /** Machine-readable result only (one JSON document), so a command resource can parse it. */
    readonly stdout: Writable;
    /** Progress and human-readable messages; never secrets. */
    readonly stderr: Writable;
}

/**
 * One program behind a command resource, also usable by hand as
 * `safe-release-ops <name> …`. Every module in `ops/commands/` exports one as `command`.
 */
export interface OpsCommand {
    readonly name: string;
    /** One line for the command list. */
    readonly summary: string;
    /** The full `--help` text. */
    readonly usage: string;
    /** Returns the process exit code; throws only for bugs. */
    run(args: string[], io: OpsIO): Promise<number>;
}

/** Thrown for bad input: the CLI prints the message and exits 2 without a stack trace. */
export { UsageError } from "../core/args";
