import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { UsageError } from "../core/args";
import { PlannedUpdate } from "./evaluate";
import { evaluatedConfig, projectDefaults } from "./stackConfig";

/** The command line asked for something that cannot be: exit 2, with the usage. */

const PROJECT_FILE = "Pulumi.yaml";

export interface StackSources {
    readonly update: PlannedUpdate;
    /** What the update is compared with, in words. */
    readonly comparedWith: string;
}

/**
 * The stack's config now (the working copy) and what it is compared with:
 * the stack file at `against`, or without it the committed HEAD version when
 * the working copy differs. Anything else — no git history (a fork's
 * checkout without it), a file not committed, a working copy that matches HEAD —
 * plans a first deploy.
 */
export function readStackSources(dir: string, stack: string, against?: string): StackSources {
    const stackFile = `Pulumi.${stack}.yaml`;
    const now = readWorkingFile(dir, stackFile, `\`--stack ${stack}\` needs`);
    const project = readWorkingFile(dir, PROJECT_FILE, "run the plan in the project directory: it needs");
    const after = evaluatedConfig(now, projectDefaults(project), stackFile);
    const configAt = (ref: string, text: string) => {
        const projectThen = gitShow(dir, ref, PROJECT_FILE) ?? project;
        const config = evaluatedConfig(text, projectDefaults(projectThen, `${PROJECT_FILE} at ${ref}`), `${stackFile} at ${ref}`);
        return { config, label: `${stackFile} at ${ref}` };
    };
    const compareWith = (ref: string, text: string, comparedWith: string): StackSources => {
        const before = configAt(ref, text);
        // Each change of the stack file was one update: the version before `ref`'s is what that update was applied over.
        const earlierRef = previousChange(dir, ref, stackFile);
        const earlierText = earlierRef !== undefined && earlierRef !== "none" ? gitShow(dir, earlierRef, stackFile) : undefined;
        let earlier: PlannedUpdate["earlier"];
        try {
            earlier = earlierRef === "none" ? "none" : earlierText !== undefined ? configAt(earlierRef!, earlierText) : undefined;
        } catch {
            earlier = undefined; // an old stack file this version cannot read: plan the deployed one at rest
        }
        return { update: { stack, before, ...(earlier !== undefined ? { earlier } : {}), after }, comparedWith };
    };
    const firstDeploy = (why: string): StackSources => ({
        update: { stack, after },
        comparedWith: `nothing, planned as a first deploy: ${why}`,
    });

    if (against !== undefined) {
        if (against.startsWith("-") || against.trim() === "")
            throw new UsageError(`\`--against\` must name a git commit, branch or tag; got ${JSON.stringify(against)}`);
        if (!insideGitRepository(dir))
            throw new UsageError(`\`--against ${against}\` needs git history, and this directory is not in a git repository`);
        if (git(dir, ["rev-parse", "--verify", "--quiet", `${against}^{commit}`]) === undefined) {
            throw new UsageError(
                `\`--against ${against}\` does not name a commit of this repository (is it fetched? a shallow clone lacks it)`,
            );
        }
        const then = gitShow(dir, against, stackFile);
        return then === undefined
            ? firstDeploy(`${stackFile} does not exist at ${against}`)
            : compareWith(against, then, `${stackFile} at ${against}`);
    }
    if (!insideGitRepository(dir)) return firstDeploy("no git history here");
    const committed = gitShow(dir, "HEAD", stackFile);
    if (committed === undefined) return firstDeploy(`${stackFile} is not committed`);
    if (committed === now)
        return firstDeploy(`the working copy of ${stackFile} matches HEAD; pass \`--against <ref>\` to compare with a commit`);
    return compareWith("HEAD", committed, `${stackFile} at HEAD (the working copy differs)`);
}

/**
 * The commit before `ref`'s version of `file` (short hash); `"none"` when that
 * version is the file's first (the stack's first update); undefined without history.
 */
function previousChange(dir: string, ref: string, file: string): string | "none" | undefined {
    // `ref` itself may not change the file: its version is then the newest change's, and the one before that is earlier.
    const commits = (git(dir, ["log", "--format=%h", "-n", "2", ref, "--", file]) ?? "").split("\n").filter((c) => c !== "");
    if (commits.length === 0) return undefined;
    return commits[1] ?? "none";
}

function readWorkingFile(dir: string, file: string, why: string): string {
    const full = path.join(dir, file);
    if (!fs.existsSync(full)) throw new UsageError(`${why} ${file}, which is not in the working directory`);
    return fs.readFileSync(full, "utf8");
}

function insideGitRepository(dir: string): boolean {
    return git(dir, ["rev-parse", "--is-inside-work-tree"])?.trim() === "true";
}

/** A file's text at a commit, relative to `dir`; undefined when the commit does not have it. */
function gitShow(dir: string, ref: string, file: string): string | undefined {
    return git(dir, ["show", `${ref}:./${file}`]);
}

/** Git's stdout, or undefined when git fails; git's arguments are never a shell line. */
function git(dir: string, args: string[]): string | undefined {
    try {
        return execFileSync("git", args, { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    } catch {
        return undefined;
    }
}
