import { rawReleaseValues } from "../config";
import { parseReleaseConfig } from "../settings/release";
import { Change, PlanDiff } from "./diff";
import { ProgramRun, configStrings } from "./mockEngine";
import { StackConfig } from "./mockProviders";
import { ReleaseState, RunbookStep, formatWeights, runbookSteps } from "./steps";

/** How the plan shows a digest the registry would be asked for: offline there is no answer to show. */
export const LOOKED_UP_DIGEST = "<digest looked up at preview>";

export interface ResourceChange {
    readonly type: string;
    readonly name: string;
}

/** The release as the runbooks would write it down, for one update of one stack. */
export interface ReleaseReport {
    readonly stack: string;
    readonly app: string;
    readonly platform: string;
    /** What the update is compared with: a stack file at a git ref, or nothing (a first deploy). */
    readonly comparedWith: string;
    readonly before: ReleaseState;
    readonly after: ReleaseState;
    readonly transition: string;
    /**
     * Where the schema head comes from. The migration ledger is its truth and the stack
     * outputs a cache, but offline there is no database: the plan relies on the outputs,
     * and `pulumi preview` checks them against the ledger where `release:databaseUrl` answers.
     */
    readonly schemaHeadSource: SchemaHeadSource;
    /** `repository:tag` of the images whose digest is not pinned in `release:digests`. */
    readonly lookedUpDigests: string[];
    /** Secrets the stack file does not hold, planned with placeholders: they must be set before `pulumi up`. */
    readonly assumedSecrets: string[];
    readonly steps: RunbookStep[];
    readonly resources: {
        readonly created: ResourceChange[];
        readonly updated: ResourceChange[];
        readonly deleted: ResourceChange[];
        readonly unchanged: number;
    };
    /** One line: the transition, the steps that run, the traffic after, and the counts of changes. */
    readonly summary: string;
}

export interface SchemaHeadSource {
    readonly from: "stack-outputs";
    /** `checked-at-preview`: the stack sets `release:databaseUrl`; `no-database-url`: there is no ledger to check. */
    readonly ledger: "checked-at-preview" | "no-database-url";
}

export interface ReportInput {
    readonly stack: string;
    readonly comparedWith: string;
    /** The config the "after" run was evaluated with (already accepted by the program). */
    readonly config: StackConfig;
    /** Secrets planned with placeholders because the stack file does not hold them. */
    readonly assumedSecrets?: string[];
    readonly diff: PlanDiff;
}

export function buildReport({ stack, comparedWith, config: stackConfig, diff, assumedSecrets = [] }: ReportInput): ReleaseReport {
    const config = parseReleaseConfig(rawReleaseValues(configStrings(stackConfig)));
    const [before, after] = [releaseState(diff.before), releaseState(diff.after)];
    const transition = String(diff.after.outputs.transition);
    const unpinned: Record<string, Record<string, string>> = diff.after.outputs.unpinnedDigests ?? {};
    const digests = shownDigests(diff.after.outputs.images ?? {}, unpinned);
    // Components may share an image, which is looked up once.
    const lookedUpDigests = [
        ...new Set(
            Object.entries(unpinned).flatMap(([version, components]) =>
                Object.keys(components).map((name) => `${config.components.find((c) => c.name === name)?.image ?? name}:${version}`),
            ),
        ),
    ].sort();
    const resources = {
        created: changed(diff, "created"),
        updated: changed(diff, "updated"),
        deleted: changed(diff, "deleted"),
        unchanged: diff.urns("unchanged").length,
    };
    const counts =
        `${resources.created.length} to create, ${resources.updated.length} to update, ` +
        `${resources.deleted.length} to delete, ${resources.unchanged} unchanged`;
    const steps = runbookSteps({ config, diff, before, after, digests });
    const running = steps.filter((s) => s.runs).map((s) => s.step);
    const does = running.length > 0 ? `runs ${running.join(", ")}` : "runs no runbook step";
    return {
        stack,
        app: config.app,
        platform: config.platform,
        comparedWith,
        before,
        after,
        transition,
        schemaHeadSource: { from: "stack-outputs", ledger: config.data.database !== undefined ? "checked-at-preview" : "no-database-url" },
        lookedUpDigests,
        assumedSecrets,
        steps,
        resources,
        summary: `${transition}: ${does}; traffic ${formatWeights(after)}; ${counts}`,
    };
}

/** The stack outputs that describe a release; all absent before the first deploy. */
export function releaseState(run: ProgramRun): ReleaseState {
    const { version, previous, weights, schemaHead } = run.outputs;
    return {
        ...(typeof version === "string" ? { version } : {}),
        ...(typeof previous === "string" ? { previous } : {}),
        weights: typeof weights === "object" && weights !== null ? weights : {},
        ...(typeof schemaHead === "string" ? { schemaHead } : {}),
    };
}

/** Version → component → digest from the `images` output, the looked-up ones marked as such. */
function shownDigests(
    images: Record<string, Record<string, string>>,
    unpinned: Record<string, Record<string, string>>,
): Record<string, Record<string, string>> {
    return Object.fromEntries(
        Object.entries(images).map(([version, refs]) => [
            version,
            Object.fromEntries(
                Object.entries(refs).map(([component, ref]) => [
                    component,
                    unpinned[version]?.[component] !== undefined ? LOOKED_UP_DIGEST : ref.slice(ref.indexOf("@") + 1),
                ]),
            ),
        ]),
    );
}

function changed(diff: PlanDiff, change: Change): ResourceChange[] {
    return diff
        .urns(change)
        .map((urn) => diff.after.resources.get(urn) ?? diff.before.resources.get(urn)!)
        .map((r) => ({ type: r.type, name: r.name }))
        .sort((a, b) => compare(a.type, b.type) || compare(a.name, b.name));
}

function compare(a: string, b: string): number {
    return a < b ? -1 : a > b ? 1 : 0;
}
