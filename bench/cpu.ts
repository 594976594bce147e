import { execFileSync } from "child_process";
import * as fs from "fs";

/** Clock ticks per second of /proc's times (`getconf CLK_TCK`; 100 on Linux as built here). */
const TICKS_PER_SECOND = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());

/**
 * CPU seconds (user + system) of this process's children that have ended and been
 * waited for, with all of theirs that they waited for: `cutime` + `cstime` of
 * /proc/self/stat. The difference across one `pulumi up` is the CPU of its whole
 * process tree (CLI, language host, program, plugins, the commands they ran), a
 * figure that, unlike wall time, other work on the machine hardly moves.
 */
export function childCpuSeconds(): number {
    const stat = fs.readFileSync("/proc/self/stat", "utf8");
    // Fields after the command name (which may hold spaces), from field 3 (`state`): cutime is 16, cstime 17.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[16 - 3]) + Number(fields[17 - 3])) / TICKS_PER_SECOND;
}

/** Runs `work` and returns its result with the CPU seconds its child processes took. */
export async function withChildCpu<T>(work: () => Promise<T>): Promise<{ result: T; cpu: number }> {
    const before = childCpuSeconds();
    const result = await work();
    return { result, cpu: childCpuSeconds() - before };
}
