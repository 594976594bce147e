import * as pulumi from "@pulumi/pulumi";
import { ComponentSpec } from "../../settings/components";
import { ArtifactTable, HostSettings, assignSlots, servicePort } from "../../settings/host";
import { commandLine } from "../data/opsCommand";
import { RouterSpec, renderNginxConfig } from "../../core/nginxConfig";
import { LastRelease } from "../plan";
import {
    OneOffTask,
    PlatformAdapter,
    PlatformArgs,
    RemoteDataAccess,
    Routing,
    VersionImages,
    WeightedVersion,
    WriterControl,
} from "../platform";
import {
    hostOps,
    installArgv,
    pruneArgv,
    routerApplyArgv,
    routerCommand,
    routerDirectPort,
    routerPrepareArgv,
    routerStatusPort,
    routerUrl,
    serviceDownArgv,
    serviceUpArgv,
    writerArgv,
} from "./argv";
import { HostVersion, plainEnvironment, programCommand, programPlan } from "./hostVersion";
import { readLiveSlots, releaseDir, routerPaths, routerProgramName } from "../../core/hostLayout";
import { HostRunner, HostStep } from "./runner";
import { renderProgramSection } from "../../core/supervisord";

export interface HostPlatformArgs extends PlatformArgs {
    /** What the last update exported: the schema head's release directory is never pruned. */
    readonly last?: LastRelease;
}

/**
 * The `host` platform: each live version's artifact verified and unpacked into
 * its own release directory, its components run by the service manager
 * (supervisord or systemd) on ports that stay put while the version is live, and
 * an nginx on the host, started by the same manager, whose config carries the
 * weights. Only `@pulumi/command`: every step is an argv of `safe-release-ops host-…`.
 */
export class HostPlatform extends pulumi.ComponentResource implements PlatformAdapter {
    private readonly name: string;
    private readonly app: string;
    private readonly settings: HostSettings;
    private readonly components: ComponentSpec[];
    private readonly current: string;
    /** Version → slot (see `assignSlots`). */
    private readonly slots: Record<string, number>;
    private readonly secrets: Record<string, Record<string, pulumi.Output<string>>>;
    /** Version → component → the command that installs its release directory. */
    private readonly installs: Record<string, Record<string, HostStep>> = {};
    private readonly router?: HostStep;
    /** Runs each step here, or over SSH with `release:host.address`. */
    private readonly runner: HostRunner;
    private readonly artifacts: ArtifactTable;
    private readonly deployed = new Map<string, HostVersion>();
    public readonly remoteData?: RemoteDataAccess;

    constructor(name: string, args: HostPlatformArgs, opts: pulumi.ComponentResourceOptions = {}) {
        super("safe-release:host:HostPlatform", name, {}, opts);
        const { config } = args;
        this.name = name;
        this.app = config.app;
        this.settings = config.host!;
        this.components = config.components;
        this.current = config.version;
        const live = [config.version, ...(config.previous !== undefined ? [config.previous] : [])];
        const remote = this.settings.remote;
        this.runner = new HostRunner(name, this.settings, remote === undefined ? undefined : args.secrets[remote.privateKeyConfig], this);
        this.remoteData = this.runner.remoteData();
        this.slots = assignSlots(live, heldSlots(this.settings, args.last));
        this.secrets = Object.fromEntries(
            config.components.map((c) => [
                c.name,
                Object.fromEntries(Object.entries(c.secretEnv).map(([env, ref]) => [env, args.secrets[ref.slice("config:".length)]])),
            ]),
        );
        this.artifacts = config.artifacts!;
        for (const version of live) this.installs[version] = this.installCommands(version, this.artifacts);
        if (config.components.some((c) => c.role === "web")) this.router = this.routerProgram();
        this.protectReleases(live, args.last?.schemaHead);
        this.registerOutputs({ slots: this.slots });
    }

    deployVersion(version: string, _images: VersionImages, after: pulumi.Resource[]): HostVersion {
        const canary = this.components.filter((c) => this.settings.mode[c.name] === "canary");
        const replaced = this.components.filter((c) => this.settings.mode[c.name] === "replace");
        const ready: pulumi.Resource[] = [];
        const backends: Record<string, string[]> = {};
        // A replaced component runs only the version that takes traffic, in one program keyed by the component.
        if (version === this.current) {
            for (const component of replaced) {
                const port = this.port(component, 0);
                ready.push(
                    programCommand(
                        `${this.name}-${component.name}`,
                        {
                            app: this.app,
                            settings: this.settings,
                            component,
                            version,
                            ...(port !== undefined ? { port } : {}),
                            secrets: this.secrets[component.name] ?? {},
                            installed: [this.installs[version][component.name]],
                            after,
                            replaced: true,
                            runner: this.runner,
                        },
                        this,
                    ),
                );
                if (port !== undefined) backends[component.name] = [`127.0.0.1:${port}`];
            }
        }
        const deployed = new HostVersion(
            `${this.name}-${version}`,
            {
                app: this.app,
                settings: this.settings,
                version,
                components: canary,
                ports: Object.fromEntries(
                    canary.flatMap((c) => {
                        const port = this.port(c, this.slots[version]);
                        return port === undefined ? [] : [[c.name, port]];
                    }),
                ),
                secrets: this.secrets,
                installed: this.installs[version],
                after,
                replaced: { ready, backends },
                runner: this.runner,
            },
            { parent: this },
        );
        this.deployed.set(version, deployed);
        return deployed;
    }

    /** The command run from the version's release directory with the component's environment; secrets come from the runner's. */
    oneOffTask(version: string, component: string, _image: pulumi.Output<string>, commandArgv: string[]): OneOffTask {
        const spec = this.components.find((c) => c.name === component)!;
        const env = plainEnvironment(spec, version);
        const argv = [
            "env",
            "-C",
            releaseDir(this.settings.root, version, component),
            ...Object.keys(env)
                .sort()
                .map((k) => `${k}=${env[k]}`),
            ...commandArgv,
        ];
        // On a remote host, through the local `migrate` (lock, ledger) and `ssh-exec` to the host.
        const task = this.runner.onHost(argv, this.secrets[component]);
        return { argv: pulumi.output(task.argv), needs: Object.values(this.installs[version] ?? {}), environment: task.environment };
    }

    /**
     * `host-check` of `version`'s release directories (the agent's, on a remote host): each must
     * still hold its pinned digest and every file it was installed with. Undefined when the
     * stack no longer lists that version's artifacts (nothing to compare with).
     */
    rollbackCheck(version: string): OneOffTask | undefined {
        const pinned = this.artifacts[version];
        if (pinned === undefined || this.components.some((c) => pinned[c.name] === undefined)) return undefined;
        const components = this.components.map((c) => `${c.name}=${pinned[c.name].sha256}`).join(",");
        const check = this.runner.onHost([
            ...hostOps(this.settings),
            "host-check",
            "--root",
            this.settings.root,
            "--version",
            version,
            "--components",
            components,
        ]);
        return { argv: pulumi.output(check.argv), needs: this.remoteData?.needs ?? [], environment: check.environment };
    }

    /**
     * Stop and start of the writers' programs. Stopping waits for every live
     * version's artifact to be verified: a bad digest fails the update before
     * anything stops. A replaced component has one program for all versions:
     * it is started again only while this update keeps its version; when the
     * version changes, its new program's `host-service up` starts it, and a
     * resume would start the old version on data the new one just migrated.
     */
    writerControl(versions: string[], components: string[]): WriterControl {
        const writers = this.components.filter((c) => components.includes(c.name));
        const programsOf = (startable: ComponentSpec[]) => [
            ...new Set(
                versions.flatMap((version) =>
                    startable.map(
                        (c) =>
                            programPlan({
                                app: this.app,
                                settings: this.settings,
                                component: c,
                                version,
                                replaced: this.settings.mode[c.name] === "replace",
                            }).name,
                    ),
                ),
            ),
        ];
        const keepsVersion = versions.includes(this.current);
        const restartable = writers.filter((c) => this.settings.mode[c.name] !== "replace" || keepsVersion);
        const { stop } = writerArgv(this.settings, programsOf(writers));
        const verified = Object.values(this.installs).flatMap((perComponent) => Object.values(perComponent).map((c) => c.stdout));
        const started = programsOf(restartable);
        // On a remote host both go through `ssh-exec`, its key in the environment.
        const stopOnHost = this.runner.onHost(stop);
        const { environment } = stopOnHost;
        return {
            stop: pulumi.all(verified).apply(() => stopOnHost.argv),
            ...(started.length > 0 ? { start: pulumi.output(this.runner.onHost(writerArgv(this.settings, started).start).argv) } : {}),
            ...(environment !== undefined ? { environment } : {}),
        };
    }

    /**
     * The only resource a traffic shift or a warm rollback changes: the command
     * that loads the rendered config into the host's nginx and records the
     * routed slots. `create` and `update` both apply.
     */
    routeTraffic(versions: WeightedVersion[]): Routing {
        if (this.router === undefined) return { url: pulumi.output(""), applied: [] };
        const spec = this.routerSpec(versions);
        const config = renderNginxConfig(spec);
        const slots = Object.fromEntries(versions.map((v) => [v.deployed.version, this.slots[v.deployed.version]]));
        const apply = commandLine(routerApplyArgv(this.settings, routerProgramName(this.app), slots));
        const applied = this.runner.step(
            `${this.name}-router-config`,
            { create: apply, update: apply, stdin: config, triggers: [this.router.id] },
            { dependsOn: [this.router, ...versions.flatMap((v) => v.deployed.ready)] },
        );
        return { url: pulumi.output(routerUrl(this.settings)), applied: [applied], slots: applied.stdout.apply(() => slots) };
    }

    private routerSpec(versions: WeightedVersion[]): RouterSpec {
        const paths = routerPaths(this.settings.root);
        return {
            listenPort: this.settings.routerPort,
            listenAddress: this.settings.routerAddress,
            statusPort: routerStatusPort(this.settings),
            versions: versions.map((v) => ({
                name: v.deployed.version,
                weight: v.weight,
                directPort: routerDirectPort(this.settings, this.slots[v.deployed.version]),
            })),
            components: this.components
                .filter((c) => c.role === "web")
                .map((c) => ({
                    name: c.name,
                    pathPrefix: c.pathPrefix === undefined ? "/" : `${c.pathPrefix}/`,
                    backends: Object.fromEntries(
                        versions.map((v) => [v.deployed.version, this.deployed.get(v.deployed.version)?.backends[c.name] ?? []]),
                    ),
                })),
            accessLogPath: paths.accessLog,
            tempDirectory: paths.temp,
        };
    }

    private port(component: ComponentSpec, slot: number): number | undefined {
        const web = this.components.filter((c) => c.role === "web");
        const index = web.findIndex((c) => c.name === component.name);
        return index < 0 ? undefined : servicePort(this.settings.basePort, index, slot);
    }

    /** Verified release directories are kept when the version leaves the live set: a rollback needs nothing downloaded. */
    private installCommands(version: string, artifacts: ArtifactTable): Record<string, HostStep> {
        return Object.fromEntries(
            this.components.map((c) => {
                const artifact = artifacts[version][c.name];
                // On a remote host, host-install reads the artifact where its copy landed.
                const { source, needs } = this.runner.artifact(version, c.name, artifact);
                const install = commandLine(installArgv(this.settings, version, c.name, source));
                return [
                    c.name,
                    this.runner.step(
                        `${this.name}-${version}-${c.name}-release`,
                        { create: install, update: install, triggers: [artifact.sha256] },
                        { dependsOn: needs },
                    ),
                ];
            }),
        );
    }

    /** nginx under the service manager, started from a bootstrap config until the first routed one arrives. */
    private routerProgram(): HostStep {
        const name = routerProgramName(this.app);
        const section = renderProgramSection({
            name,
            root: this.settings.root,
            directory: `${this.settings.root}/router`,
            command: routerCommand(this.settings),
            description: `${this.app} router (nginx)`,
            withEnvFile: false,
        });
        const up = serviceUpArgv(this.settings, { program: name, healthUrl: `http://127.0.0.1:${routerStatusPort(this.settings)}/` });
        return this.runner.step(`${this.name}-router`, {
            create: pulumi.interpolate`${commandLine(routerPrepareArgv(this.settings))} && ${commandLine(up)}`,
            delete: commandLine(serviceDownArgv(this.settings, name)),
            stdin: section,
        });
    }

    /** Old release directories beyond `keep` go once the update has routed; the live set and the schema head's stay. */
    private protectReleases(live: string[], schemaHead: string | undefined): void {
        const prune = commandLine(pruneArgv(this.settings, [...live, ...(schemaHead !== undefined ? [schemaHead] : [])]));
        this.runner.step(
            `${this.name}-prune`,
            { create: prune, update: prune },
            { dependsOn: Object.values(this.installs).flatMap((p) => Object.values(p)) },
        );
    }
}

/**
 * The slots the running versions hold: on this machine, the router's own
 * record (`router/live.json`, written once it routes to them); on a remote
 * host, which the program cannot read, the last update's `slots` output.
 */
export function heldSlots(
    settings: HostSettings,
    last: LastRelease | undefined,
    readLocal: (file: string) => Record<string, number> = readLiveSlots,
): Record<string, number> {
    if (settings.remote !== undefined) return last?.slots ?? {};
    return readLocal(routerPaths(settings.root).live);
}
