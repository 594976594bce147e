import * as path from "path";
import { TOOL_LEDGER } from "../pg/ledgers";

/**
 * What an operator reads when a one-off task did not end well: which task, what it
 * printed last and what to do next. Each function returns lines, without the
 * `ecs-task: ` prefix the command adds.
 */

/** The ops program a task runs, from its command: the word after `safe-release-ops` or `…/safe-release-ops.js`. */
export function opsCommandOf(command: readonly string[]): string | undefined {
    const at = command.findIndex((word) => /^safe-release-ops(\.js)?$/.test(path.basename(word)));
    return at >= 0 ? command[at + 1] : undefined;
}

/** Programs that change nothing a release depends on: running them again is the whole remedy. */
const READ_ONLY = new Set(["preflight", "verify", "smoke", "drift", "store-check", "artifacts-check"]);

/** What to check when a task was stopped before it could report how it ended. */
export function unknownOutcomeAdvice(command: readonly string[]): string {
    const program = opsCommandOf(command);
    switch (program) {
        case "migrate":
            return (
                "the migration may have run in part: read its row in the ledger first " +
                `(\`SELECT version, status, finished_at FROM ${TOOL_LEDGER} WHERE app = '<app>'\`); an unfinished row refuses ` +
                'the next run (docs/troubleshooting.md, "Migration refused: a failed row is in the ledger"), and the migration lock, ' +
                "held by the task's database session, ended with the task"
            );
        case "backup":
            return "the backup may be incomplete: do not restore from it; `pulumi up` again takes a fresh one";
        case "restore":
            return (
                "the database may be partly restored: run `pulumi up` again with the same `release:restoreFrom` " +
                "and let its verify pass before any version takes traffic"
            );
        case "prune":
            return "prune deletes records before their artifacts, so it can simply run again: `pulumi up` again";
        case undefined:
            return `check what \`${command.join(" ")}\` changes before running it again`;
        default:
            return READ_ONLY.has(program)
                ? `\`${program}\` changes nothing the release depends on: find why it was slow, then \`pulumi up\` again`
                : `check what \`safe-release-ops ${program}\` changes before running it again`;
    }
}

/** Why ECS stops a task before its container runs, in the order they are seen on a first release. */
export function neverRan(taskArn: string): { readonly what: string; readonly next: readonly string[] } {
    return {
        what: `task ${taskArn} never ran, so nothing was changed by it: ECS stopped it before its container started`,
        next: [
            "likely causes: the image digest is not in ECR; the subnets have no route to ECR, S3, CloudWatch Logs and Secrets Manager " +
                "(a NAT gateway, or VPC endpoints for ecr.api, ecr.dkr, s3, logs and secretsmanager); " +
                "a secret of the task definition that the execution role cannot read. The stop and container reasons above say which",
            "next: fix that and run `pulumi up` again",
        ],
    };
}

export const NEXT_AFTER_EXIT = "next: read the log lines above, fix what they show, and run `pulumi up` again";

/** The last lines of the log, repeated for whoever sees only the end of the output. */
export function tailLines(tail: readonly string[]): string[] {
    return [`its last ${tail.length} log line${tail.length === 1 ? "" : "s"}:`, ...tail.map((line) => `| ${line}`)];
}
