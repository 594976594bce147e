import * as fs from "fs";
import * as path from "path";
import { atTestEnd, tempDir } from "../../support/processes";
import { postgresBinDir } from "../../support/postgres";
import { CliResult } from "./pulumiCli";

/**
 * Faults for the e2e tier: a `pulumi up` killed with SIGKILL at a chosen step,
 * and a pg_dump that can be held at its end, so "during the backup" is a state
 * the test waits for rather than a moment it hopes to hit.
 */

/** Polls `probe` every 200 ms until it returns a value other than undefined; fails naming `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 120_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const value = await probe();
        if (value !== undefined) return value;
        if (Date.now() > deadline) throw new Error(`gave up after ${timeoutMs / 1000} s waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
    }
}

interface ProcStat {
    readonly pid: number;
    readonly ppid: number;
}

function processes(): ProcStat[] {
    const stats: ProcStat[] = [];
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        try {
            // The command name (field 2) is in parentheses and may hold spaces: the ppid is the 2nd field after it.
            const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
            const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
            stats.push({ pid: Number(entry), ppid });
        } catch {
            // Exited while being listed.
        }
    }
    return stats;
}

function commandLineOf(pid: number): string[] {
    try {
        return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
    } catch {
        return [];
    }
}

function descendants(root: number): number[] {
    const all = processes();
    const found = [root];
    for (let i = 0; i < found.length; i++) for (const p of all) if (p.ppid === found[i]) found.push(p.pid);
    return found;
}

/** The `pulumi <verb>` of `stack` that this test process started, if it runs. */
export function cliProcess(stack: string, verb: string): number | undefined {
    return processes().find((p) => {
        if (p.ppid !== process.pid) return false;
        const argv = commandLineOf(p.pid);
        return path.basename(argv[0] ?? "") === "pulumi" && argv[1] === verb && argv.includes(stack);
    })?.pid;
}

/**
 * SIGKILL to the CLI and everything it started — the language host, the
 * plugins (each in a process group of its own), the commands they run — as
 * when the machine or CI runner running `pulumi up` dies. The tree is stopped
 * first (SIGSTOP, until no new process appears), so nothing forks or finishes
 * between the listing and the kill. What runs outside the tree, such as a
 * container that `docker run` asked dockerd for, keeps running.
 */
export function killTree(root: number): number[] {
    let stopped: number[] = [];
    for (;;) {
        const tree = descendants(root);
        for (const pid of tree) signal(pid, "SIGSTOP");
        if (tree.length === stopped.length) break;
        stopped = tree;
    }
    for (const pid of stopped) signal(pid, "SIGKILL");
    return stopped;
}

function signal(pid: number, name: NodeJS.Signals): void {
    try {
        process.kill(pid, name);
    } catch {
        // Already gone.
    }
}

/**
 * Runs `up`, waits until `running` says the step is under way, then kills the
 * CLI's whole tree; resolves with what the killed CLI had printed.
 */
export async function upKilledWhen(
    stack: string,
    up: () => Promise<CliResult>,
    what: string,
    running: () => Promise<boolean>,
): Promise<{ result: CliResult; killed: number[] }> {
    const updating = up();
    let failedEarly: CliResult | undefined;
    void updating.then((r) => (failedEarly = r));
    const cli = await waitFor(`\`pulumi up\` to reach ${what}`, async () => {
        if (failedEarly !== undefined) throw new Error(`pulumi up ended (${failedEarly.code}) before ${what}:\n${failedEarly.stdout}`);
        return (await running()) ? cliProcess(stack, "up") : undefined;
    });
    const killed = killTree(cli);
    return { result: await updating, killed };
}

/**
 * A `SAFE_RELEASE_PG_BIN` whose pg_dump, while `hold()` is in force, finishes
 * the dump and then keeps its output open (at most two minutes), so the backup
 * sits between "every byte written" and "verified and logged".
 */
export interface HeldDump {
    readonly env: NodeJS.ProcessEnv;
    hold(): void;
    release(): void;
    /** True once a held pg_dump has written everything it will write. */
    holding(): boolean;
}

export async function heldPgDump(): Promise<HeldDump> {
    const real = postgresBinDir();
    const dir = await tempDir("sr-held-pg-dump-");
    atTestEnd(async () => fs.rmSync(dir, { recursive: true, force: true }));
    const bin = path.join(dir, "bin");
    fs.mkdirSync(bin);
    for (const tool of fs.readdirSync(real)) if (tool !== "pg_dump") fs.symlinkSync(path.join(real, tool), path.join(bin, tool));
    const hold = path.join(dir, "hold");
    const holding = path.join(dir, "holding");
    fs.writeFileSync(
        path.join(bin, "pg_dump"),
        [
            "#!/bin/sh",
            `"${real}/pg_dump" "$@" || exit $?`,
            `[ -e "${hold}" ] || exit 0`,
            `: > "${holding}"`,
            "i=0",
            `while [ -e "${hold}" ] && [ "$i" -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done`,
            "",
        ].join("\n"),
        { mode: 0o755 },
    );
    return {
        env: { SAFE_RELEASE_PG_BIN: bin },
        hold: () => {
            fs.rmSync(holding, { force: true });
            fs.writeFileSync(hold, "");
        },
        release: () => fs.rmSync(hold, { force: true }),
        holding: () => fs.existsSync(holding),
    };
}
