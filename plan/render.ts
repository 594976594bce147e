import { ReleaseReport, ResourceChange, SchemaHeadSource } from "./report";
import { ReleaseState, formatWeights } from "./steps";

/**
 * The plan as plain text: stable and deterministic (no times, no absolute
 * paths, no ids that differ between machines), so it can be diffed, tested
 * byte for byte, and posted on a pull request.
 */
export function renderReport(report: ReleaseReport): string {
    const { before, after } = report;
    const lines = [
        `Release plan for stack ${report.stack} (app ${report.app} on ${report.platform})`,
        `Compared with: ${report.comparedWith}`,
        "",
        ...table([
            ["version", fromTo(before.version, after.version)],
            ["previous", fromTo(before.previous, after.previous)],
            ["weights", fromTo(weightsOf(before), weightsOf(after))],
            ["transition", report.transition],
            ["schema head", fromTo(before.schemaHead, after.schemaHead)],
            ["head source", headSource(report.schemaHeadSource)],
            ...(report.lookedUpDigests.length > 0
                ? [["digests", `looked up at preview for ${report.lookedUpDigests.join(", ")} (pin them in \`release:digests\`)`]]
                : []),
            ...(report.assumedSecrets.length > 0
                ? [
                      [
                          "secrets",
                          `assumed set: ${report.assumedSecrets.map((k) => `\`${k}\``).join(", ")} (not in the stack file; \`pulumi config set --secret\` them before \`up\`)`,
                      ],
                  ]
                : []),
        ]),
        "",
        "Runbook steps, in order ([x] this update runs it, [ ] it does not):",
        ...report.steps.map((s, i) => `  [${s.runs ? "x" : " "}] ${i + 1}. ${s.step}: ${s.runs ? "" : "not run: "}${s.detail}`),
        "",
        "Resources:",
        ...group("created", report.resources.created),
        ...group("updated", report.resources.updated),
        ...group("deleted", report.resources.deleted),
        "",
        `Summary: ${report.summary}`,
    ];
    return `${lines.join("\n")}\n`;
}

/** The plan reads no database, so it says whose word its schema head is. */
export function headSource(source: SchemaHeadSource): string {
    return source.ledger === "checked-at-preview"
        ? "the recorded stack outputs (the plan reads no database; `pulumi preview` checks them against the migration ledger)"
        : "the recorded stack outputs (no `release:databaseUrl`, so no migration ledger to check them against)";
}

function table(rows: string[][]): string[] {
    const width = Math.max(...rows.map(([label]) => label.length));
    return rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`);
}

function fromTo(before: string | undefined, after: string | undefined): string {
    const [a, b] = [before ?? "none", after ?? "none"];
    return a === b ? `${b} (unchanged)` : `${a} → ${b}`;
}

function weightsOf(state: ReleaseState): string | undefined {
    return state.version === undefined ? undefined : formatWeights(state);
}

function group(change: string, resources: ResourceChange[]): string[] {
    if (resources.length === 0) return [`  ${change}: none`];
    const width = Math.max(...resources.map((r) => r.type.length));
    return [`  ${change} (${resources.length}):`, ...resources.map((r) => `    ${r.type.padEnd(width)}  ${r.name}`)];
}
