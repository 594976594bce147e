import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { freePortRun, run, tempDir } from "../../support/processes";
import { E2eStack, PROJECT_DIR, StackConfig, loggedBackups } from "./pulumiCli";

/**
 * The dev stack's demo service on `host`, in a world of its own: the config of
 * Pulumi.dev.yaml with its root (/var/tmp/safe-release-dev), ports and backup
 * directory replaced by a temp dir's and free ports, a private supervisord and
 * PostgreSQL under that root (scripts/dev-machine.sh), and an `E2eStack` on a
 * file backend. The checkout's dev stack and its state are never touched.
 */

export const APP = "demo";
const DEV_ROOT = "/var/tmp/safe-release-dev";

/** One release step, as the operator would write it into the stack file. */
export interface HostStep {
    readonly version: string;
    readonly previous?: string;
    readonly canaryWeight?: number;
    readonly restoreFrom?: string;
    /** Merged over the artifacts table: versions built by the test, or a bad pin. */
    readonly artifacts?: Record<string, { web: Record<string, unknown> }>;
    /** Merged over `release:host`. */
    readonly host?: Record<string, unknown>;
}

export interface HostWorld {
    readonly dir: string;
    readonly root: string;
    readonly stack: E2eStack;
    readonly routerPort: number;
    readonly basePort: number;
    /** Relative to the project directory, as `release:backup.dir` must be. */
    readonly backupDir: string;
    /** Writes the stack file of one step. */
    configure(step: HostStep): void;
    /** The config the step would write, without writing it. */
    config(step: HostStep): StackConfig;
}

export async function startHostWorld(name: string): Promise<HostWorld> {
    const dir = await tempDir(`safe-release-${name}-`);
    // The private PostgreSQL runs as `postgres` when the tests run as root: it must reach the root.
    fs.chmodSync(dir, 0o755);
    const root = `${dir}/root`;
    const backupDir = `.e2e-state/${path.basename(dir)}/backups`;
    // One run: the router's four ports, then the services' ten.
    const routerPort = await freePortRun(14);
    const basePort = routerPort + 4;
    const devText = fs
        .readFileSync(path.join(PROJECT_DIR, "Pulumi.dev.yaml"), "utf8")
        .split(DEV_ROOT)
        .join(root)
        .split(encodeURIComponent(DEV_ROOT))
        .join(encodeURIComponent(root));
    const devConfig = (yaml.load(devText) as { config: Record<string, unknown> }).config;
    const base: Record<string, unknown> = {
        ...devConfig,
        "release:host": { ...(devConfig["release:host"] as object), routerPort, basePort },
        "release:backup": { ...(devConfig["release:backup"] as object), dir: backupDir },
        // The artifacts are named relative to the project directory.
        "release:artifacts": devConfig["release:artifacts"],
    };
    const config = (step: HostStep): StackConfig => {
        const artifacts = { ...(base["release:artifacts"] as Record<string, unknown>), ...step.artifacts };
        return {
            ...base,
            "release:version": step.version,
            ...(step.previous !== undefined ? { "release:previous": step.previous } : {}),
            ...(step.canaryWeight !== undefined ? { "release:canaryWeight": step.canaryWeight } : {}),
            ...(step.restoreFrom !== undefined ? { "release:restoreFrom": step.restoreFrom } : {}),
            "release:artifacts": artifacts,
            "release:host": { ...(base["release:host"] as object), ...step.host },
        };
    };
    const stack = await E2eStack.create(name, config({ version: "v1.0.0" }));
    const world: HostWorld = {
        dir,
        root,
        stack,
        routerPort,
        basePort,
        backupDir,
        config,
        configure: (step) => stack.writeConfig(config(step)),
    };
    // The dev machine reads the root from the stack file, as `npm run up` does.
    await run(path.join(PROJECT_DIR, "scripts", "dev-machine.sh"), ["start", stack.configFile], { cwd: PROJECT_DIR });
    return world;
}

const stopped = new WeakSet<HostWorld>();

/** Stops the world's supervisord (and with it the router and the demo's programs) and PostgreSQL, and removes its files. */
export async function stopHostWorld(world: HostWorld | undefined): Promise<void> {
    // A test stops its world in `after` and again at the end of the run, in case `after` never ran.
    if (world === undefined || stopped.has(world)) return;
    stopped.add(world);
    await run(path.join(PROJECT_DIR, "scripts", "dev-machine.sh"), ["stop", world.stack.configFile], { cwd: PROJECT_DIR }).catch(
        (err: Error) => console.error(`stopping the dev machine of ${world.root} failed: ${err.message}`),
    );
    fs.rmSync(path.join(PROJECT_DIR, path.dirname(world.backupDir)), { recursive: true, force: true });
    fs.rmSync(world.stack.dir, { recursive: true, force: true });
    fs.rmSync(world.dir, { recursive: true, force: true });
}

/** `GET` through the world's router; the answer must be a 200 JSON. */
export async function getJson(world: HostWorld, pathname: string, headers: Record<string, string> = {}): Promise<Record<string, unknown>> {
    const response = await fetch(`http://127.0.0.1:${world.routerPort}${pathname}`, { headers, signal: AbortSignal.timeout(5000) });
    const text = await response.text();
    if (response.status !== 200) throw new Error(`GET ${pathname} through the router answered ${response.status}: ${text}`);
    return JSON.parse(text) as Record<string, unknown>;
}

/** `POST /notes` through the router; resolves with the status. */
export async function postNote(world: HostWorld, text: string): Promise<number> {
    const response = await fetch(`http://127.0.0.1:${world.routerPort}/notes`, {
        method: "POST",
        body: JSON.stringify({ text }),
        signal: AbortSignal.timeout(5000),
    });
    await response.text();
    return response.status;
}

/** Which version answers `GET /` through the router, over `count` requests. */
export async function versionsAnswering(world: HostWorld, count: number): Promise<Record<string, number>> {
    const answers: Record<string, number> = {};
    for (let i = 0; i < count; i++) {
        const version = String((await getJson(world, "/")).version);
        answers[version] = (answers[version] ?? 0) + 1;
    }
    return answers;
}

export async function supervisorctl(world: HostWorld, args: string[]): Promise<string> {
    const { stdout } = await run("supervisorctl", ["-c", `${world.root}/supervisor/supervisord.conf`, ...args]);
    return stdout.trim();
}

/** Program name → supervisord pid, of every program the world's supervisord knows: the same pid means not restarted. */
export async function programPids(world: HostWorld): Promise<Record<string, string>> {
    // `status` exits non-zero when a program is not running; its output still lists every program.
    const { stdout } = await run("sh", ["-c", `supervisorctl -c '${world.root}/supervisor/supervisord.conf' status || true`]);
    const pids: Record<string, string> = {};
    for (const line of stdout.split("\n").filter((l) => l.trim() !== "")) {
        const [program, state] = line.trim().split(/\s+/);
        const pid = /pid (\d+)/.exec(line)?.[1];
        pids[program] = state === "RUNNING" && pid !== undefined ? `running ${pid}` : state;
    }
    return pids;
}

/** The migration ledger as `<version> <status>` rows, oldest first, from the world's PostgreSQL. */
export async function ledger(world: HostWorld): Promise<string[]> {
    const pgBin = fs
        .readdirSync("/usr/lib/postgresql")
        .sort((a, b) => Number(a) - Number(b))
        .pop();
    const { stdout } = await run(`/usr/lib/postgresql/${pgBin}/bin/psql`, [
        "-h",
        `${world.root}/postgres`,
        "-U",
        "postgres",
        "-d",
        "demo",
        "-tAc",
        "SELECT version || ' ' || status || coalesce(' restored by ' || restored_by, '') FROM safe_release_migrations ORDER BY started_at, version",
    ]);
    return stdout.split("\n").filter((line) => line !== "");
}

/** The backup log the stack writes: one JSON record per backup. */
export function backupLog(world: HostWorld): Array<Record<string, unknown>> {
    return loggedBackups(world.backupDir);
}

/** File path (relative to the directory) → bytes, of every file under `dir`: a directory's content to compare. */
export function directoryBytes(dir: string): Record<string, string> {
    const files: Record<string, string> = {};
    const walk = (sub: string) => {
        for (const entry of fs.readdirSync(path.join(dir, sub), { withFileTypes: true })) {
            const relative = path.join(sub, entry.name);
            if (entry.isDirectory()) walk(relative);
            else files[relative] = fs.readFileSync(path.join(dir, relative)).toString("base64");
        }
    };
    walk("");
    return Object.fromEntries(Object.entries(files).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/**
 * Builds a demo artifact of `version` into `outDir` the way scripts/demo-artifacts.sh
 * builds the committed ones (server.js, a store.js and a migrate.js, sorted,
 * mtime 0, `gzip -n`), from the given sources; returns its path and sha256.
 */
export async function buildDemoArtifact(
    outDir: string,
    version: string,
    files: { store: string; migrate: string },
): Promise<{ path: string; sha256: string }> {
    const sources = fs.mkdtempSync(path.join(outDir, `.${version}-`));
    fs.writeFileSync(path.join(sources, "store.js"), files.store);
    fs.writeFileSync(path.join(sources, "migrate.js"), files.migrate);
    const target = path.join(outDir, `demo-${version}.tar.gz`);
    // Packed as the committed demo artifacts are (scripts/release-tarball.sh), from this version's own store and migration.
    const { stdout } = await run(path.join(PROJECT_DIR, "scripts", "release-tarball.sh"), [
        target,
        path.join(PROJECT_DIR, "examples", "demo", "server.js"),
        path.join(sources, "store.js"),
        path.join(sources, "migrate.js"),
    ]);
    fs.rmSync(sources, { recursive: true, force: true });
    return { path: target, sha256: stdout.split(" ")[0] };
}
