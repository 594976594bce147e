import { execFile } from "child_process";
import * as path from "path";

/** A `docker ps` that hangs (a dockerd that does not answer) must not hold the refusal back. */
const LIST_TIMEOUT_MS = 10000;

/** The `docker` with its global options (`-H …`) that a runner argv starts with; undefined for any other runner. */
export function dockerOfRunner(runner: readonly string[]): string[] | undefined {
    if (runner.length === 0 || path.basename(runner[0]) !== "docker") return undefined;
    const run = runner.indexOf("run");
    return run < 0 ? undefined : runner.slice(0, run);
}

/** `docker ps` of the one-off containers (components/dockerHost/containers.ts labels them) of one app version. */
export function listArgv(docker: readonly string[], app: string, version: string): string[] {
    return [
        ...docker,
        "ps",
        "--filter",
        "label=safe-release.role=one-off",
        "--filter",
        `label=safe-release.app=${app}`,
        "--filter",
        `label=safe-release.version=${version}`,
        "--format",
        "{{.ID}}\t{{.Names}}\t{{.RunningFor}}",
    ];
}

/**
 * Lines for a refusal over an unfinished ('running') migration run by `docker run`: a killed
 * migrate process leaves its container running under dockerd, still changing the schema.
 * Each one found is named with the command that stops it; none found, or a failed listing, is said too.
 */
export async function runningOneOffs(
    docker: readonly string[],
    app: string,
    versions: readonly string[],
    env: NodeJS.ProcessEnv,
): Promise<string[]> {
    const lines: string[] = [];
    for (const version of versions) {
        const argv = listArgv(docker, app, version);
        let stdout: string;
        try {
            stdout = await new Promise<string>((resolve, reject) =>
                execFile(argv[0], argv.slice(1), { env, timeout: LIST_TIMEOUT_MS }, (err, out, errOut) =>
                    err ? reject(new Error(errOut.trim() || err.message)) : resolve(out),
                ),
            );
        } catch (err) {
            const byHand = [
                ...docker,
                "ps",
                "--filter",
                "label=safe-release.role=one-off",
                "--filter",
                `label=safe-release.version=${version}`,
            ];
            lines.push(
                `  could not list the one-off containers of \`${app}\` ${version} (${(err as Error).message}): ` +
                    `look for one with \`${byHand.join(" ")}\` and stop it before anything else`,
            );
            continue;
        }
        const found = stdout.split("\n").filter((line) => line.trim() !== "");
        if (found.length === 0) lines.push(`  no one-off container of \`${app}\` ${version} is running (\`docker ps\` lists none)`);
        for (const line of found) {
            const [id, name, runningFor] = line.split("\t");
            lines.push(
                `  still running: one-off container ${name} (${id}, created ${runningFor}) of \`${app}\` ${version}: ` +
                    `stop it before anything else: \`${[...docker, "rm", "-f", id].join(" ")}\``,
            );
        }
    }
    return lines;
}
