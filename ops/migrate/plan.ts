import { MigrationKey, TOOL_LEDGER, ToolLedgerRow } from "../pg/ledgers";

export type MigrationDecision =
    | { readonly action: "skip"; readonly applied: ToolLedgerRow }
    | { readonly action: "refuse"; readonly message: string }
    | { readonly action: "run"; readonly supersedes?: string };

/**
 * Rows whose run still counts: a restore that put the data back to before a run marks
 * it `restored_by`, and from then on it neither counts as applied nor blocks.
 */
export function standingRows(rows: readonly ToolLedgerRow[]): ToolLedgerRow[] {
    return rows.filter((row) => (row.restoredBy ?? null) === null);
}

/** Rows that stop every further migration of the app until someone decides how to go on. */
export function blockingRows(rows: readonly ToolLedgerRow[]): ToolLedgerRow[] {
    return standingRows(rows).filter((row) => (row.status === "running" || row.status === "failed") && row.supersededBy === null);
}

/**
 * What to do for `key`, given the app's ledger rows read under the app's lock. A run
 * happens at most once per key; a failed or interrupted run blocks the app until a
 * new version explicitly fixes forward from it (or a restore undoes the run: a restored
 * database brings back the ledger as it was, a restore of other data marks the row).
 */
export function decideMigration(
    rows: readonly ToolLedgerRow[],
    key: MigrationKey,
    fixForwardFrom?: string,
    stoppedWriters?: readonly string[],
): MigrationDecision {
    const own = standingRows(rows).find((r) => r.version === key.version && r.digest === key.digest);
    if (own?.status === "succeeded") return { action: "skip", applied: own };
    const blocking = blockingRows(rows);
    if (own && own.supersededBy !== null) {
        return {
            action: "refuse",
            message:
                `refusing to migrate \`${key.app}\` ${key.version}: it already ${describeStatus(own)} and was superseded by ` +
                `${own.supersededBy}; a version's migration never runs twice. Deploy ${own.supersededBy} or a newer version.`,
        };
    }
    if (fixForwardFrom === undefined) {
        return blocking.length === 0 ? { action: "run" } : { action: "refuse", message: refusalMessage(key, blocking, stoppedWriters) };
    }
    if (fixForwardFrom === key.version) {
        return {
            action: "refuse",
            message:
                `\`--fix-forward-from\` must name an earlier failed version, not the one being migrated (${key.version}): ` +
                `running the same migration again is a blind retry. Release a new version that repairs the state.`,
        };
    }
    if (!blocking.some((r) => r.version === fixForwardFrom)) {
        const found = blocking.length === 0 ? "there is none" : `found: ${[...new Set(blocking.map((r) => r.version))].join(", ")}`;
        return {
            action: "refuse",
            message:
                `\`--fix-forward-from\` must name a failed or interrupted migration of \`${key.app}\` in \`${TOOL_LEDGER}\`; ` +
                `got ${fixForwardFrom}, ${found}.`,
        };
    }
    const others = blocking.filter((r) => r.version !== fixForwardFrom);
    return others.length === 0
        ? { action: "run", supersedes: fixForwardFrom }
        : { action: "refuse", message: refusalMessage(key, others, stoppedWriters) };
}

function describeStatus(row: ToolLedgerRow): string {
    if (row.status === "failed") {
        return row.exitCode === null ? "failed (terminated without an exit code)" : `failed with exit code ${row.exitCode}`;
    }
    if (row.status === "running") return "started and never finished";
    return "succeeded";
}

function describeRow(row: ToolLedgerRow): string {
    const when =
        row.status === "running" ? `started ${row.startedAt.toISOString()}` : `at ${(row.finishedAt ?? row.startedAt).toISOString()}`;
    const note = row.status === "running" ? " (its migrate process died mid-run; make sure nothing of it still runs)" : "";
    return `  ${row.version} (${row.digest}) ${describeStatus(row)}, ${when}${note}`;
}

/**
 * The two honest ways on after a failed migration; a retry of the same one is not among them.
 * `stoppedWriters`: the components the release stopped for it (`--stopped-writers`), which the
 * failure leaves stopped; empty when it stopped none (they still serve); unknown when not said.
 */
export function waysForward(app: string, failedVersion: string, stoppedWriters?: readonly string[]): string {
    const writers =
        stoppedWriters === undefined
            ? "Writers stopped for it stay stopped."
            : stoppedWriters.length === 0
              ? "No writer was stopped for this migration (no `release:migrate.quiesce`): the running versions still serve, on whatever the partial run left."
              : `Writers stay stopped (${stoppedWriters.join(", ")}).`;
    return [
        `${writers} Do not retry the same migration: a partial run may have changed the schema. Choose one way forward:`,
        `  - fix forward: release a new version whose migration repairs this state and migrate it with \`--fix-forward-from ${failedVersion}\`;`,
        `  - roll back: restore the pre-upgrade backup of \`${app}\` by setting \`release:restoreFrom\` to its backup id, together with the previous version.`,
    ].join("\n");
}

export function refusalMessage(key: MigrationKey, blocking: readonly ToolLedgerRow[], stoppedWriters?: readonly string[]): string {
    return [
        `refusing to migrate \`${key.app}\` ${key.version}: \`${TOOL_LEDGER}\` holds an unfinished migration of this app:`,
        ...blocking.map(describeRow),
        waysForward(key.app, blocking[blocking.length - 1].version, stoppedWriters),
    ].join("\n");
}

export function failureMessage(
    key: MigrationKey,
    exitCode: number | null,
    signal: string | null,
    tail: readonly string[],
    stoppedWriters?: readonly string[],
): string {
    const how = exitCode !== null ? `exit code ${exitCode}` : `signal ${signal ?? "unknown"}`;
    return [
        `migration of \`${key.app}\` ${key.version} (${key.digest}) failed with ${how}; \`${TOOL_LEDGER}\` records it as failed.`,
        tail.length === 0 ? "It printed nothing." : `Last ${tail.length} line(s) of its output:`,
        ...tail.map((line) => `  | ${line}`),
        waysForward(key.app, key.version, stoppedWriters),
    ].join("\n");
}
