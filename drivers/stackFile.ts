import { execFile } from "child_process";
import * as path from "path";
import { shellQuote } from "../core/shell";

/**
 * Keeps `Pulumi.<stack>.yaml` in git in step with the stack. The release workflow
 * runs `pulumi up` from the committed file, so a weight a driver set and left
 * uncommitted would be put back by the workflow's next run.
 */
export interface StackFileRecorder {
    /** Before the first change: throws when the stack file is not tracked or has uncommitted changes. */
    checkClean(): Promise<void>;
    /**
     * After a step changed the stack: commits the file with `subject` and one body
     * paragraph per line of `body`, or prints the command that would.
     */
    record(subject: string, body?: readonly string[]): Promise<void>;
}

/** The file the Pulumi CLI keeps a stack's config in; a qualified `org/project/stack` keeps it under the last part. */
export function stackFileName(stack: string): string {
    return `Pulumi.${stack.split("/").pop()}.yaml`;
}

/** The commit subject of one driver step: `release(<stack>): <what> <from> → <to>`. */
export function transitionSubject(stack: string, transition: string): string {
    return `release(${stack}): ${transition}`;
}

export interface GitStackFileOptions {
    /** The Pulumi project directory (the stack file's directory). */
    readonly workDir: string;
    readonly stack: string;
    /** Print the git commands instead of running them. */
    readonly noCommit: boolean;
    readonly progress: (line: string) => void;
}

/** Runs `git` in `workDir`; rejects with git's own message. */
function git(workDir: string, args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
        execFile("git", ["-C", workDir, ...args], { encoding: "utf8", timeout: 60_000 }, (err, stdout, stderr) => {
            if (err) {
                const code = (err as NodeJS.ErrnoException).code;
                if (code === "ENOENT")
                    return reject(new Error("git is not installed (Debian package `git`); pass `--no-commit` to run without it"));
                return reject(new Error((stderr || err.message).trim()));
            }
            resolve(stdout);
        });
    });
}

/** `StackFileRecorder` over the `git` CLI. */
export class GitStackFile implements StackFileRecorder {
    readonly file: string;
    private readonly workDir: string;

    constructor(private readonly options: GitStackFileOptions) {
        this.workDir = path.resolve(options.workDir);
        this.file = stackFileName(options.stack);
    }

    async checkClean(): Promise<void> {
        const { file, workDir } = this;
        try {
            await git(workDir, ["rev-parse", "--show-toplevel"]);
        } catch {
            if (this.options.noCommit) {
                // Committing is someone else's job here, and there is no tree to be dirty.
                this.options.progress(`--no-commit: \`${workDir}\` is not in a git work tree; commit \`${file}\` wherever it is kept`);
                return;
            }
            throw new Error(
                `\`${workDir}\` is not in a git work tree, so the driver cannot commit \`${file}\`; ` +
                    "run it in the project's clone, or pass `--no-commit` to commit by hand",
            );
        }
        const status = (await git(workDir, ["status", "--porcelain", "--", file])).replace(/\n$/, "");
        if (status.startsWith("??")) {
            throw new Error(
                `\`${file}\` is not tracked by git; commit it before a driver changes it, so each step's commit holds only that step`,
            );
        }
        if (status !== "") {
            throw new Error(
                `\`${file}\` has uncommitted changes (git status \`${status.slice(0, 2)}\`); commit or discard them first ` +
                    `(\`git -C ${shellQuote([workDir])} diff -- ${file}\`), so each step's commit holds only that step's change`,
            );
        }
        try {
            await git(workDir, ["ls-files", "--error-unmatch", "--", file]);
        } catch {
            // Clean yet unknown to git: the file is missing or ignored.
            throw new Error(
                `\`${file}\` is not tracked by git (missing or ignored) in \`${workDir}\`; commit it before a driver changes it`,
            );
        }
    }

    /** The exact command that commits the stack file alone (a pathspec commits only it, whatever else is staged). */
    commitCommand(subject: string, body: readonly string[] = []): string[] {
        // One line per `-m`: the printed command stays one line a person can copy.
        const paragraphs = [subject, ...body].map((line) => line.replace(/\s*\n\s*/g, " "));
        return ["git", "-C", this.workDir, "commit", ...paragraphs.flatMap((p) => ["-m", p]), "--", this.file];
    }

    async record(subject: string, body?: readonly string[]): Promise<void> {
        const { file, workDir } = this;
        const command = this.commitCommand(subject, body);
        if (this.options.noCommit) {
            this.options.progress(`--no-commit: record this step with: ${shellQuote(command)}`);
            return;
        }
        const status = await git(workDir, ["status", "--porcelain", "--", file]);
        if (status.trim() === "") {
            this.options.progress(`${file} unchanged: nothing to commit for "${subject}"`);
            return;
        }
        try {
            await git(workDir, command.slice(3));
        } catch (err) {
            throw new Error(
                `committing \`${file}\` failed: ${(err as Error).message}; the stack already runs this step: commit it by hand with \`${shellQuote(command)}\``,
            );
        }
        const head = (await git(workDir, ["rev-parse", "--short", "HEAD"])).trim();
        this.options.progress(`committed ${file} as ${head}: ${subject}`);
    }
}

/** For dry runs and callers that keep the file elsewhere: changes nothing, records nothing. */
export const NO_RECORDING: StackFileRecorder = {
    checkClean: async () => undefined,
    record: async () => undefined,
};
