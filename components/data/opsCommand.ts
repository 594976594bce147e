import * as pulumi from "@pulumi/pulumi";
import { shellQuote } from "../../core/shell";

/**
 * How data steps call the ops programs: relative to the project directory,
 * where Pulumi runs the program and the command provider, so the same config
 * gives the same command on every machine (an absolute path would differ
 * between checkouts and show as a change).
 */
export const OPS = ["node", "ops/bin/safe-release-ops.js"];

/**
 * A data step runs when its resource is created, never because an input changed:
 * on an update the command provider runs `update`, and this one only repeats what
 * the step printed when it ran. The provider replaces `stdout` with what `update`
 * prints and hands the previous run's to it as `PULUMI_COMMAND_STDOUT`, so the
 * step's JSON result (a backup's record, say) outlives the update. Re-running a
 * step is always a replacement, which the resource's name (keyed by version) or
 * its `triggers` decide.
 */
export const NO_RERUN = `printf '%s' "$PULUMI_COMMAND_STDOUT"`;

/*
 * Each data component passes its own `dependsOn` to its commands as well: a
 * child does not inherit its parent's `dependsOn`, and the order of data steps
 * must be stated, not left to when a parent happens to register.
 */

export { shellQuote };

export function commandLine(argv: pulumi.Input<pulumi.Input<string>[]>): pulumi.Output<string> {
    return pulumi.output(argv).apply((words) => shellQuote(words));
}

/** A `dependsOn` option as the list it may be given as (one resource, a list, or nothing), to add to. */
export function dependsOnList(dependsOn: pulumi.ResourceOptions["dependsOn"]): pulumi.Input<pulumi.Resource>[] {
    if (dependsOn === undefined) return [];
    return Array.isArray(dependsOn) ? dependsOn : [dependsOn as pulumi.Input<pulumi.Resource>];
}

/** The one JSON document an ops program prints on stdout. */
export function parseOpsResult(stdout: string | undefined): Record<string, unknown> {
    const text = (stdout ?? "").trim();
    if (text === "") return {};
    try {
        return JSON.parse(text);
    } catch {
        // Preview: the command has not run and its stdout is a placeholder.
        return {};
    }
}
