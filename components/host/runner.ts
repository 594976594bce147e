import { createHash } from "crypto";
import * as fs from "fs";
import { isBuiltin } from "module";
import * as path from "path";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { ArtifactSource, HostSettings } from "../../settings/host";
import { ConfigError } from "../../settings/checks";
import { SSH_KEY_ENV } from "../../core/sshExec";
import { OPS, dependsOnList } from "../data/opsCommand";
import { RemoteDataAccess } from "../platform";
import { agentDir } from "./argv";

/** A host step, whichever machine runs it: both command types have the same inputs and `stdout`. */
export type HostStep = command.local.Command | command.remote.Command;

export interface HostStepArgs {
    readonly create: pulumi.Input<string>;
    readonly update?: pulumi.Input<string>;
    readonly delete?: pulumi.Input<string>;
    readonly stdin?: pulumi.Input<string>;
    readonly environment?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    readonly triggers?: pulumi.Input<unknown[]>;
}

/**
 * Creates each host step as a `command.local.Command` on the machine running
 * Pulumi, or, with `release:host.address`, as a `command.remote.Command` of the
 * same command line over SSH (the key a secret, in the connection only). A file
 * the remote needs reaches it first by `CopyToRemote`: the host agent (the
 * compiled host steps) and each artifact given by `path`.
 */
export class HostRunner {
    private agent?: command.remote.CopyToRemote;

    constructor(
        private readonly name: string,
        private readonly settings: HostSettings,
        private readonly privateKey: pulumi.Output<string> | undefined,
        private readonly parent: pulumi.Resource,
    ) {}

    step(name: string, args: HostStepArgs, opts: pulumi.CustomResourceOptions = {}): HostStep {
        const options = { parent: this.parent, ...opts };
        if (this.settings.remote === undefined) return new command.local.Command(name, args, options);
        const guarded = (line: pulumi.Input<string> | undefined) =>
            line === undefined ? undefined : pulumi.interpolate`${this.nodeGuard()}${line}`;
        return new command.remote.Command(
            name,
            {
                ...args,
                create: guarded(args.create)!,
                update: guarded(args.update),
                delete: guarded(args.delete),
                connection: this.connection(),
            },
            { ...options, dependsOn: [...dependsOnList(opts.dependsOn), this.agentCopy()] },
        );
    }

    /**
     * A command the data steps run on the machine running Pulumi (the migration
     * under the local `migrate`'s lock, stopping and starting writers) that must
     * act on the host: here, as is; on a remote host, through
     * `safe-release-ops ssh-exec`, which gets the key (and the secrets to pass
     * on, by SSH SendEnv) in its environment, never on its command line.
     */
    onHost(
        argv: string[],
        secrets: Record<string, pulumi.Output<string>> = {},
    ): { argv: string[]; environment?: Record<string, pulumi.Output<string>> } {
        const remote = this.settings.remote;
        if (remote === undefined) return { argv, ...(Object.keys(secrets).length > 0 ? { environment: secrets } : {}) };
        const names = Object.keys(secrets).sort();
        return {
            argv: [
                ...OPS,
                "ssh-exec",
                "--host",
                remote.host,
                "--port",
                String(remote.port),
                "--user",
                remote.user,
                ...(names.length > 0 ? ["--send-env", names.join(",")] : []),
                "--",
                ...argv,
            ],
            environment: { ...secrets, [SSH_KEY_ENV]: this.privateKey! },
        };
    }

    /**
     * How the data directory's archive and restore reach a remote host: local ops
     * commands (`host-archive`, `host-restore`) that stream over SSH themselves,
     * so the archive lands, and stays, on the machine running Pulumi.
     */
    remoteData(): RemoteDataAccess | undefined {
        const remote = this.settings.remote;
        if (remote === undefined) return undefined;
        return {
            hostFlags: ["--host", remote.host, "--port", String(remote.port), "--user", remote.user],
            agentDir: agentDir(this.settings.root),
            environment: { [SSH_KEY_ENV]: this.privateKey! },
            needs: [this.agentCopy()],
        };
    }

    /** Where host-install reads a `path` artifact: here as configured, or the copy on the remote host (with the step that copies it). */
    artifact(version: string, component: string, artifact: ArtifactSource): { source: ArtifactSource; needs: pulumi.Resource[] } {
        if (this.settings.remote === undefined || artifact.path === undefined) return { source: artifact, needs: [] };
        const remotePath = `${this.settings.root}/artifacts/${version}/${component}/${path.basename(artifact.path)}`;
        const copy = new command.remote.CopyToRemote(
            `${this.name}-${version}-${component}-artifact`,
            { connection: this.connection(), source: new pulumi.asset.FileAsset(artifact.path), remotePath, triggers: [artifact.sha256] },
            { parent: this.parent },
        );
        return { source: { path: remotePath, sha256: artifact.sha256 }, needs: [copy] };
    }

    private connection(): command.types.input.remote.ConnectionArgs {
        const remote = this.settings.remote!;
        return {
            host: remote.host,
            port: remote.port,
            user: remote.user,
            privateKey: this.privateKey!,
            dialErrorLimit: 3,
            perDialTimeout: 15,
        };
    }

    /** Without Node.js the agent cannot run: say so rather than `node: not found`. */
    private nodeGuard(): string {
        const remote = this.settings.remote!;
        const message = `safe-release: the host steps run as node ${agentDir(this.settings.root)}/ops/hostAgent.js on ${remote.host}, which has no node; install Node.js 20 or newer there`;
        return `command -v node >/dev/null 2>&1 || { echo '${message}' >&2; exit 127; }; `;
    }

    /** One copy of the agent per stack; replaced (copied again) when any of its files changes. */
    private agentCopy(): command.remote.CopyToRemote {
        if (this.agent !== undefined) return this.agent;
        const staged = stageAgent();
        this.agent = new command.remote.CopyToRemote(
            `${this.name}-agent`,
            {
                connection: this.connection(),
                source: new pulumi.asset.FileArchive(`${path.relative(process.cwd(), staged.dir)}/`),
                remotePath: agentDir(this.settings.root),
                triggers: [staged.sha256],
            },
            { parent: this.parent },
        );
        return this.agent;
    }
}

/**
 * Copies the compiled agent and exactly what it requires into `bin/host-agent/`:
 * the compiled modules reached from its relative `require`s (keeping their paths
 * under `bin/`), and each npm package it requires (with the packages that one
 * depends on) under `node_modules/`, where Node finds them from the agent's files.
 * Files left from an earlier build are removed, so the copy holds nothing else.
 * Returns that directory with a digest of its files.
 */
export function stageAgent(buildDir = defaultBuildDir()): { dir: string; sha256: string } {
    const entry = path.join(buildDir, "ops", "hostAgent.js");
    if (!fs.existsSync(entry)) {
        throw new ConfigError(
            `\`release:host.address\` runs the host steps over SSH from the compiled agent ${entry}, which is missing; run \`npm run build\``,
        );
    }
    const dir = path.join(buildDir, "host-agent");
    /** Staged path (relative to `dir`) → source file. */
    const files = new Map<string, string>();
    const packages = new Set<string>();
    const visit = (file: string) => {
        const relative = path.relative(buildDir, file);
        if (files.has(relative)) return;
        files.set(relative, file);
        for (const match of fs.readFileSync(file, "utf8").matchAll(/require\("([^"]+)"\)/g)) {
            const request = match[1];
            if (request.startsWith(".")) visit(require.resolve(path.resolve(path.dirname(file), request)));
            else if (!isBuiltin(request)) addPackage(packageName(request), path.dirname(file));
        }
    };
    const addPackage = (name: string, from: string) => {
        if (packages.has(name)) return;
        packages.add(name);
        const root = packageRoot(name, from);
        for (const file of listFiles(root)) files.set(path.join("node_modules", name, path.relative(root, file)), file);
        const manifest = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as { dependencies?: Record<string, string> };
        for (const dependency of Object.keys(manifest.dependencies ?? {})) addPackage(dependency, root);
    };
    visit(entry);
    const digest = createHash("sha256");
    for (const relative of [...files.keys()].sort()) {
        const content = fs.readFileSync(files.get(relative)!);
        digest.update(`${relative}\0${content.length}\0`).update(content);
        const target = path.join(dir, relative);
        if (!fs.existsSync(target) || !fs.readFileSync(target).equals(content)) {
            fs.mkdirSync(path.dirname(target), { recursive: true });
            fs.writeFileSync(target, content);
        }
    }
    if (fs.existsSync(dir)) {
        for (const file of listFiles(dir, true)) if (!files.has(path.relative(dir, file))) fs.rmSync(file);
    }
    return { dir, sha256: digest.digest("hex") };
}

/** `bin/`, whether this module runs compiled (from `bin/components/host/`) or from its source (tests). */
function defaultBuildDir(): string {
    const project = path.resolve(__dirname, "..", "..");
    return __filename.endsWith(".ts") ? path.join(project, "bin") : project;
}

/** `semver/functions/parse` → `semver`; `@scope/name/x` → `@scope/name`. */
function packageName(request: string): string {
    const parts = request.split("/");
    return request.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

/** The directory of the package Node would load for `name` from `from`. */
function packageRoot(name: string, from: string): string {
    for (let dir = from; ; dir = path.dirname(dir)) {
        const candidate = path.join(dir, "node_modules", name);
        if (fs.existsSync(path.join(candidate, "package.json"))) return candidate;
        if (path.dirname(dir) === dir) {
            throw new ConfigError(`the host agent requires the npm package \`${name}\`, which is not installed; run \`npm ci\``);
        }
    }
}

/** Every file under `dir`; a package's nested `node_modules` only with `all` (a dependency is staged as a package of its own). */
function listFiles(dir: string, all = false): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) return entry.name === "node_modules" && !all ? [] : listFiles(full, all);
        return entry.isFile() ? [full] : [];
    });
}
