import { ProgramRefusal, evaluateTransition } from "./evaluate";
import { buildReport } from "./report";
import { renderReport } from "./render";
import { parseFlags, UsageError } from "../core/args";
import { readStackSources } from "./sources";
import { StackFileError } from "./stackConfig";

/**
 * `npm run plan -- --stack <name> [--against <git ref>] [--json]`: the release
 * a stack update would carry out, from the stack files alone. It evaluates the
 * program under the SDK's mocks — no credentials, no Pulumi CLI, no network —
 * so it runs on a pull request from a fork.
 */

export const USAGE = "usage: npm run plan -- --stack <name> [--against <git ref>] [--json]";

export interface PlanArgs {
    readonly stack: string;
    readonly against?: string;
    readonly json: boolean;
}

export interface CliIo {
    /** Where the stack files and the git history are: the project directory. */
    readonly cwd: string;
    readonly out: (text: string) => void;
    readonly err: (text: string) => void;
}

export function parsePlanArgs(argv: string[]): PlanArgs {
    const flags = parseFlags(argv, { stack: "value", against: "value", json: "switch" });
    if (flags.rest.length > 0) throw new UsageError("unknown argument `--`; the plan runs no program of its own");
    const stack = flags.values.get("stack");
    const against = flags.values.get("against");
    const json = flags.switches.has("json");
    if (stack === undefined) throw new UsageError("`--stack` is required: the stack whose Pulumi.<stack>.yaml to plan");
    // The name becomes a file name, so nothing that could leave the directory.
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(stack)) {
        throw new UsageError(`\`--stack\` must be a stack name (letters, digits, \`_\`, \`.\`, \`-\`); got ${JSON.stringify(stack)}`);
    }
    return { stack, ...(against !== undefined ? { against } : {}), json };
}

/** Errors the plan has reported itself; the SDK also raises them as unhandled rejections of the stack's promises. */
const reported = new WeakSet<object>();

/** Exit code 0: the plan was printed; 1: the program or a stack file refused the config; 2: a usage error. */
export async function main(argv: string[], io: CliIo): Promise<number> {
    try {
        const args = parsePlanArgs(argv);
        const sources = readStackSources(io.cwd, args.stack, args.against);
        const diff = await evaluateTransition(sources.update);
        const { after } = sources.update;
        const report = buildReport({
            stack: args.stack,
            comparedWith: sources.comparedWith,
            config: after.config,
            assumedSecrets: after.assumedSecrets,
            diff,
        });
        io.out(args.json ? `${JSON.stringify(report, null, 2)}\n` : renderReport(report));
        return 0;
    } catch (err) {
        if (err instanceof UsageError) {
            io.err(`${err.message}\n${USAGE}\n`);
            return 2;
        }
        if (err instanceof ProgramRefusal || err instanceof StackFileError) {
            if (err instanceof ProgramRefusal && typeof err.original === "object" && err.original !== null) reported.add(err.original);
            io.err(`${err.message}\n`);
            return 1;
        }
        throw err;
    }
}

if (require.main === module) {
    process.on("unhandledRejection", (reason) => {
        if (typeof reason === "object" && reason !== null && reported.has(reason)) return;
        throw reason;
    });
    main(process.argv.slice(2), {
        cwd: process.cwd(),
        out: (text) => process.stdout.write(text),
        err: (text) => process.stderr.write(text),
    }).then(exitAfterWrites, (err) => {
        process.stderr.write(`${(err as Error).stack ?? err}\n`);
        exitAfterWrites(1);
    });
}

/** Exits once stdout and stderr have taken everything written (a pipe may be asynchronous). */
function exitAfterWrites(code: number): void {
    process.stdout.write("", () => process.stderr.write("", () => process.exit(code)));
}
