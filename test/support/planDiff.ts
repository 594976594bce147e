/** Plan diffs live in `plan/`: the tests and the offline release plan share them. */
export { canonical, diffRuns, planDiff } from "../../plan/diff";
export type { Change, PlanDiff } from "../../plan/diff";
