/** The mocked engine lives in `plan/`: the tests and the offline release plan share it. */
export { runProgram } from "../../plan/mockEngine";
export type { ProgramError, ProgramRun, RecordedResource, RunOptions } from "../../plan/mockEngine";
