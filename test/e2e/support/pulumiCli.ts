import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { run, tempDir } from "../../support/processes";

/**
 * The real Pulumi CLI, language host and plugins, as `scripts/toolchain.sh`
 * builds and installs them, on a `file://` backend in a temporary directory.
 * Each stack runs the project's own compiled program from the repository root
 * (the data steps call `ops/` relative to it) with its config in a file of its
 * own (`--config-file`), so no test writes into the checkout's stack files.
 */

export const PROJECT_DIR = path.resolve(__dirname, "..", "..", "..");

export interface Toolchain {
    /** The environment every CLI call gets: PATH with the CLI and the stand-in plugins, PULUMI_HOME, no update checks. */
    readonly env: NodeJS.ProcessEnv;
    readonly home: string;
}

let toolchain: Promise<Toolchain> | undefined;
let toolchainHome: string | undefined;

/**
 * Builds (or reuses) the toolchain once per test run, into a PULUMI_HOME of its own, and compiles the program.
 * A home that the end of a run removed (the benches run one after another in one process) is made again:
 * without it the npm `pulumi` wrapper would try to download the CLI.
 */
export function ensureToolchain(): Promise<Toolchain> {
    if (toolchainHome !== undefined && !fs.existsSync(toolchainHome)) toolchain = toolchainHome = undefined;
    toolchain ??= (async () => {
        const home = await tempDir("safe-release-pulumi-home-");
        toolchainHome = home;
        const { stdout } = await run(path.join(PROJECT_DIR, "scripts", "toolchain.sh"), ["--print-env"], {
            env: { ...process.env, PULUMI_HOME: home },
            cwd: PROJECT_DIR,
        });
        const env: NodeJS.ProcessEnv = { ...process.env };
        for (const line of stdout.split("\n")) {
            const match = /^export ([A-Z_]+)=(.*)$/.exec(line);
            if (match === null) continue;
            const [, name, value] = match;
            env[name] = name === "PATH" ? value.replace(/"\$PATH"$/, env.PATH ?? "").replace(/'/g, "") : value.replace(/^'|'$/g, "");
        }
        await run(path.join(PROJECT_DIR, "scripts", "build-if-changed.sh"), [], { cwd: PROJECT_DIR });
        return { env, home };
    })();
    return toolchain;
}

export interface CliResult {
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
}

export interface StackConfig {
    /** `release:…` keys and their values, as a stack file holds them. */
    readonly [key: string]: unknown;
}

/** One stack of the project on its own backend: the CLI calls a release walk makes. */
export class E2eStack {
    private constructor(
        readonly name: string,
        readonly dir: string,
        private readonly env: NodeJS.ProcessEnv,
        readonly configFile: string,
    ) {}

    static async create(name: string, config: StackConfig, extraEnv: NodeJS.ProcessEnv = {}): Promise<E2eStack> {
        const { env } = await ensureToolchain();
        const dir = await tempDir(`safe-release-e2e-${name}-`);
        fs.mkdirSync(path.join(dir, "state"));
        const stackEnv: NodeJS.ProcessEnv = {
            ...env,
            ...extraEnv,
            PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`,
            PULUMI_CONFIG_PASSPHRASE: "e2e-only-not-secret",
        };
        const stackName = `e2e-${name}`;
        const stack = new E2eStack(stackName, dir, stackEnv, path.join(dir, `Pulumi.${stackName}.yaml`));
        await stack.cli(["stack", "init"]);
        // `stack init` writes the passphrase's salt into the checkout's Pulumi.<stack>.yaml (it takes no
        // --config-file): move it into the stack's own file so no test leaves a file in the checkout.
        const written = path.join(PROJECT_DIR, `Pulumi.${stackName}.yaml`);
        const salt = fs.existsSync(written) ? (yaml.load(fs.readFileSync(written, "utf8")) as { encryptionsalt?: string }) : {};
        fs.rmSync(written, { force: true });
        fs.writeFileSync(stack.configFile, yaml.dump({ encryptionsalt: salt?.encryptionsalt, config: {} }));
        stack.writeConfig(config);
        return stack;
    }

    /**
     * Replaces the stack's config, as a reviewed change to its stack file would;
     * the passphrase's salt and the secrets set with `setSecret` stay.
     */
    writeConfig(config: StackConfig): void {
        const existing = fs.existsSync(this.configFile)
            ? ((yaml.load(fs.readFileSync(this.configFile, "utf8")) ?? {}) as { encryptionsalt?: string; config?: Record<string, unknown> })
            : {};
        const secrets = Object.entries(existing.config ?? {}).filter(
            ([, value]) => typeof value === "object" && value !== null && "secure" in value,
        );
        fs.writeFileSync(
            this.configFile,
            yaml.dump({ encryptionsalt: existing.encryptionsalt, config: { ...config, ...Object.fromEntries(secrets) } }),
        );
    }

    async setSecret(key: string, value: string): Promise<void> {
        // The value goes in on stdin, never on the command line.
        await this.cli(["config", "set", "--secret", key], { input: value });
    }

    /** Runs the CLI on this stack; resolves with the exit code, never rejects for a non-zero one. */
    cli(args: string[], options: { input?: string; allowFailure?: boolean } = {}): Promise<CliResult> {
        const takesConfigFile = ["preview", "up", "refresh", "destroy", "config"].includes(args[0]);
        const full = [...args, "--stack", this.name, "--non-interactive", ...(takesConfigFile ? ["--config-file", this.configFile] : [])];
        return new Promise((resolve, reject) => {
            const child = spawn("pulumi", full, {
                cwd: PROJECT_DIR,
                env: this.env,
                stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
            });
            let stdout = "";
            let stderr = "";
            child.stdout!.on("data", (chunk) => (stdout += chunk));
            child.stderr!.on("data", (chunk) => (stderr += chunk));
            child.on("error", reject);
            child.on("close", (code) => {
                const result = { code: code ?? -1, stdout, stderr };
                if (result.code !== 0 && options.allowFailure !== true) {
                    reject(new Error(`pulumi ${args.join(" ")} exited ${result.code}:\n${stdout.slice(-4000)}\n${stderr.slice(-4000)}`));
                } else resolve(result);
            });
            if (options.input !== undefined) child.stdin!.end(options.input);
        });
    }

    /** `pulumi preview --json`: the steps the engine would take. */
    async preview(options: { allowFailure?: boolean } = {}): Promise<{ result: CliResult; json: PreviewJson }> {
        const result = await this.cli(["preview", "--json"], options);
        return { result, json: JSON.parse(result.stdout) as PreviewJson };
    }

    up(options: { allowFailure?: boolean } = {}): Promise<CliResult> {
        return this.cli(["up", "--yes", "--skip-preview"], options);
    }

    async outputs(): Promise<Record<string, unknown>> {
        return JSON.parse((await this.cli(["stack", "output", "--json", "--show-secrets"])).stdout);
    }

    async history(): Promise<HistoryEntry[]> {
        return JSON.parse((await this.cli(["stack", "history", "--json"])).stdout);
    }
}

/** The parts of `pulumi preview --json` the tests read. */
export interface PreviewJson {
    readonly steps?: Array<{ op: string; urn: string; oldState?: { type: string }; newState?: { type: string } }>;
    readonly diagnostics?: Array<{ message: string; severity: string; urn?: string }>;
    readonly changeSummary?: Record<string, number>;
}

export interface HistoryEntry {
    readonly kind: string;
    readonly result: string;
    readonly resourceChanges?: Record<string, number>;
    readonly config?: Record<string, unknown>;
}

/**
 * `{op} {type}::{name}` of each step that changes something (a read changes nothing), in the engine's
 * order; the type without its parents' (a URN's type is `Parent$Child`).
 */
export function changedSteps(json: PreviewJson): string[] {
    return (json.steps ?? [])
        .filter((step) => step.op !== "same" && step.op !== "read")
        .map((step) => {
            const [type, name] = step.urn.split("::").slice(-2);
            return `${step.op} ${type.split("$").pop()}::${name}`;
        });
}

/** The backup log a stack writes under `backupDir` (relative to the project): one JSON record per backup. */
export function loggedBackups(backupDir: string): Array<Record<string, unknown>> {
    const file = path.join(PROJECT_DIR, backupDir, "backups.log");
    if (!fs.existsSync(file)) return [];
    return fs
        .readFileSync(file, "utf8")
        .split("\n")
        .filter((line) => line.trim() !== "")
        .map((line) => JSON.parse(line) as Record<string, unknown>);
}
