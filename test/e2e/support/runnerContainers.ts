import { spawn } from "child_process";
import * as path from "path";
import { DockerEngine } from "./dockerEngine";

/**
 * The release runner image (runner/Dockerfile) built by scripts/runner-image.sh into a
 * test engine, and its commands run as one-off containers the way a platform runs
 * them: argv `node ops/bin/safe-release-ops.js <command> …`, secrets only as
 * environment variables passed by name (`-e DATABASE_URL`, the value in the docker
 * CLI's own environment), never `NAME=value` on a command line.
 */
export const OPS_ARGV = ["node", "ops/bin/safe-release-ops.js"];
const SCRIPT = path.resolve(__dirname, "..", "..", "..", "scripts", "runner-image.sh");

export interface RunnerImage {
    readonly tag: string;
    /** `sha256:…`, the image ID. */
    readonly id: string;
    readonly sizeBytes: number;
    readonly buildSeconds: number;
}

export interface Exit {
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
}

/** Runs `docker` against the engine with `secrets` added to its environment; resolves with the exit code whatever it is. */
function docker(engine: DockerEngine, args: string[], secrets: Record<string, string>): Promise<Exit> {
    return new Promise((resolve, reject) => {
        const child = spawn("docker", args, {
            env: { ...engine.env, ...secrets },
            // No stdin: a runner task has none, so nothing here may depend on one.
            stdio: ["ignore", "pipe", "pipe"],
        });
        let stdout = "";
        let stderr = "";
        child.stdout!.on("data", (chunk) => (stdout += chunk));
        child.stderr!.on("data", (chunk) => (stderr += chunk));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });
}

/** Builds the image with the script (its progress goes to this process's stderr). */
export async function buildRunnerImage(engine: DockerEngine, tag: string): Promise<RunnerImage> {
    const started = Date.now();
    const built = await new Promise<Exit>((resolve, reject) => {
        const child = spawn(SCRIPT, ["--tag", tag], { env: engine.env, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (chunk) => (stdout += chunk));
        child.stderr.on("data", (chunk) => {
            stderr += chunk;
            process.stderr.write(chunk);
        });
        child.on("error", reject);
        child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });
    if (built.code !== 0)
        throw new Error(`scripts/runner-image.sh exited ${built.code}: ${built.stderr.trim().split("\n").slice(-10).join("\n")}`);
    const { stdout } = await engine.docker(["image", "inspect", "--format", "{{.Id}} {{.Size}}", tag]);
    const [id, size] = stdout.trim().split(" ");
    return { tag, id, sizeBytes: Number(size), buildSeconds: (Date.now() - started) / 1000 };
}

export interface OneOff {
    /** Container name; each one-off has its own, kept until `removeAll` so its log can be read. */
    readonly name: string;
    /** `safe-release-ops <command>` arguments. */
    readonly args: string[];
    /** Environment variables for the container: passed by name, values only in the docker CLI's environment. */
    readonly secrets?: Record<string, string>;
    /** Plain (non-secret) variables, `NAME=value`. */
    readonly env?: string[];
    readonly volumes?: string[];
}

/** One-off runner containers on one network, each recorded (argv and output) for the secret scan. */
export class RunnerContainers {
    /** Every docker CLI argv this ran, in order. */
    readonly argvs: string[][] = [];
    /** Everything the docker CLI printed for each one-off. */
    readonly outputs: string[] = [];
    /** Every container this started, in order. */
    readonly names: string[] = [];

    constructor(
        private readonly engine: DockerEngine,
        private readonly image: string,
        private readonly network: string,
    ) {}

    /** `docker run` of one ops command; the exit code is the container's. */
    async run(oneOff: OneOff): Promise<Exit> {
        const secrets = oneOff.secrets ?? {};
        const args = [
            "run",
            "--name",
            oneOff.name,
            "--network",
            this.network,
            ...Object.keys(secrets).flatMap((name) => ["-e", name]),
            ...(oneOff.env ?? []).flatMap((entry) => ["-e", entry]),
            ...(oneOff.volumes ?? []).flatMap((volume) => ["-v", volume]),
            this.image,
            ...OPS_ARGV,
            ...oneOff.args,
        ];
        this.names.push(oneOff.name);
        this.argvs.push(args);
        const exit = await docker(this.engine, args, secrets);
        this.outputs.push(exit.stdout, exit.stderr);
        return exit;
    }

    /** `docker run -d` of a long-running container (`image`'s own command) on the network, secrets by name as for one-offs. */
    async detached(name: string, image: string, secrets: Record<string, string>, extra: string[]): Promise<Exit> {
        const args = [
            "run",
            "-d",
            "--name",
            name,
            "--network",
            this.network,
            ...Object.keys(secrets).flatMap((key) => ["-e", key]),
            ...extra,
            image,
        ];
        this.names.push(name);
        this.argvs.push(args);
        return docker(this.engine, args, secrets);
    }

    /** `docker logs` (stdout and stderr) of every container this started, by name. */
    async logs(): Promise<Record<string, string>> {
        const logs: Record<string, string> = {};
        for (const name of this.names) {
            const { stdout, stderr } = await docker(this.engine, ["logs", name], {});
            logs[name] = stdout + stderr;
        }
        return logs;
    }

    async removeAll(): Promise<void> {
        if (this.names.length > 0) await docker(this.engine, ["rm", "-f", "-v", ...this.names], {});
    }
}

/** The names of `secrets` (name → value) whose value occurs in `text`. */
export function secretsIn(text: string, secrets: Record<string, string>): string[] {
    return Object.entries(secrets)
        .filter(([, value]) => text.includes(value))
        .map(([name]) => name);
}
