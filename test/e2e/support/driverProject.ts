import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { atTestEnd, run } from "../../support/processes";
import { E2eStack, PROJECT_DIR, ensureToolchain } from "./pulumiCli";

/**
 * The promote and rollback drivers on an e2e stack, as an operator runs them:
 * `drivers/cli.ts` in a process of its own, through the Automation API and the
 * toolchain's CLI, with `--cwd` a project directory.
 *
 * The drivers edit `Pulumi.<stack>.yaml` in that directory, and an e2e stack keeps
 * its config in a file outside the checkout (`E2eStack.configFile`, in the stack's
 * temp dir). So the stack's temp dir becomes the project directory: a copy of
 * Pulumi.yaml (the CLI finds the project by that file and resolves no link) and a
 * link to every other entry of the checkout (package.json, bin/, node_modules/,
 * ops/, .e2e-state/ …), so the program and the commands it runs (`node
 * ops/bin/safe-release-ops.js`, the relative `release:backup.dir`) find what they
 * find in the checkout. The drivers and `E2eStack` then read and write one file,
 * and nothing is written into the checkout's stack files.
 * PATH starts with a `pulumi` that fails, so a driver that took the first CLI on
 * PATH instead of the toolchain's fails here.
 * The directory is a git repository holding the stack file alone, as a clone
 * holds it: the drivers commit each step there. The test's own edits of the file
 * (a new release's config) are committed before each driver run, as an operator
 * commits theirs.
 */
export interface DriverProject {
    /** The project directory the drivers get as `--cwd`. */
    readonly dir: string;
    /** Runs `drivers/cli.ts <command> <stack> …args --cwd <dir>` to its end; kills it after `timeoutMs`. */
    run(command: "promote" | "rollback", args: string[], timeoutMs: number): Promise<DriverRun>;
    /** The subjects of the repository's commits, newest first. */
    commitSubjects(): Promise<string[]>;
}

export interface DriverRun {
    readonly code: number;
    /** The JSON event lines the driver printed on stdout, parsed, in order. */
    readonly events: Array<Record<string, unknown>>;
    /** The same lines as printed. */
    readonly eventLines: string[];
    /** Progress for people (stderr). */
    readonly stderr: string;
}

/** Checkout entries a project directory must not link: the stack files and state belong to the checkout's own stacks. */
function linked(name: string): boolean {
    return name !== "Pulumi.yaml" && !/^Pulumi\..+\.ya?ml$/.test(name) && ![".git", ".pulumi-state"].includes(name);
}

/**
 * Makes `stack.dir` a project directory of the checkout. `env` repeats what
 * `E2eStack.create` gives its own CLI calls (the same backend and passphrase);
 * `extraEnv` is what the stack was created with (DOCKER_HOST).
 */
export async function driverProject(stack: E2eStack, extraEnv: NodeJS.ProcessEnv): Promise<DriverProject> {
    const { env: toolchainEnv } = await ensureToolchain();
    const dir = stack.dir;
    fs.copyFileSync(path.join(PROJECT_DIR, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
    for (const name of fs.readdirSync(PROJECT_DIR).filter(linked)) {
        const link = path.join(dir, name);
        if (!fs.existsSync(link)) fs.symlinkSync(path.join(PROJECT_DIR, name), link);
    }
    if (!fs.existsSync(stack.configFile) || path.dirname(stack.configFile) !== dir) {
        throw new Error(`the stack's config file ${stack.configFile} is not Pulumi.${stack.name}.yaml of ${dir}`);
    }
    // A `pulumi` ahead of the toolchain's on PATH that only fails: the drivers must run the toolchain's CLI by its path.
    const decoy = path.join(dir, "decoy-bin");
    fs.mkdirSync(decoy, { recursive: true });
    fs.writeFileSync(path.join(decoy, "pulumi"), `#!/bin/sh\necho "not the toolchain's pulumi" >&2\nexit 3\n`, { mode: 0o755 });
    const env: NodeJS.ProcessEnv = {
        ...toolchainEnv,
        PATH: `${decoy}:${toolchainEnv.PATH ?? ""}`,
        ...extraEnv,
        PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`,
        PULUMI_CONFIG_PASSPHRASE: "e2e-only-not-secret",
    };
    const git = (...args: string[]) => run("git", ["-C", dir, ...args]);
    await git("init", "--quiet");
    // The identity lives in this repository's config only: nothing of the machine's is read or changed.
    await git("config", "user.name", "e2e operator");
    await git("config", "user.email", "operator@e2e.invalid");
    const stackFile = path.basename(stack.configFile);
    const commitTestEdits = async () => {
        await git("add", "--", stackFile);
        const staged = await git("diff", "--cached", "--name-only");
        if (staged.stdout.trim() !== "") await git("commit", "--quiet", "-m", "test: the release's config", "--", stackFile);
    };
    return {
        dir,
        run: async (command, args, timeoutMs) => {
            await commitTestEdits();
            return runDriver(env, [command, stack.name, ...args, "--cwd", dir], timeoutMs);
        },
        commitSubjects: async () => (await git("log", "--format=%s")).stdout.trim().split("\n"),
    };
}

const running = new Set<ChildProcess>();
// A driver left running by a failed test would keep changing the stack: ended with the run.
atTestEnd(async () => {
    for (const child of running) child.kill("SIGKILL");
});

function runDriver(env: NodeJS.ProcessEnv, argv: string[], timeoutMs: number): Promise<DriverRun> {
    const cli = path.join(PROJECT_DIR, "drivers", "cli.ts");
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", cli, ...argv], {
            cwd: PROJECT_DIR,
            env,
            stdio: ["ignore", "pipe", "pipe"],
        });
        running.add(child);
        let stdout = "";
        let stderr = "";
        child.stdout!.on("data", (chunk) => (stdout += chunk));
        child.stderr!.on("data", (chunk) => (stderr += chunk));
        const timer = setTimeout(() => {
            child.kill("SIGKILL");
            reject(new Error(`drivers ${argv.join(" ")} did not end within ${timeoutMs} ms:\n${stderr.slice(-4000)}`));
        }, timeoutMs);
        child.on("error", (err) => {
            clearTimeout(timer);
            running.delete(child);
            reject(err);
        });
        child.on("close", (code) => {
            clearTimeout(timer);
            running.delete(child);
            const eventLines = stdout.split("\n").filter((line) => line.trim() !== "");
            try {
                const events = eventLines.map((line) => JSON.parse(line) as Record<string, unknown>);
                resolve({ code: code ?? -1, events, eventLines, stderr });
            } catch {
                reject(new Error(`drivers ${argv[0]} printed a stdout line that is not JSON:\n${stdout}\n${stderr.slice(-4000)}`));
            }
        });
    });
}
