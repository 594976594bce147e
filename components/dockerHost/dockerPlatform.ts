import * as fs from "fs";
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "../../settings/checks";
import { ComponentSpec } from "../../settings/components";
import { DockerSettings, splitImageReference } from "../../settings/docker";
import { imagesCheck } from "../data/rollbackCheck";
import { PinnedImage } from "../pinnedImage";
import { OneOffTask, PlatformAdapter, PlatformArgs, Routing, VersionImages, WeightedVersion, WriterControl } from "../platform";
import { checkDistinctNames, oneOffArgv, parseEnvFile, routerContainerName, writerArgv } from "./containers";
import { DockerShared, DockerVersion } from "./dockerVersion";
import { renderNginxConfig } from "../../core/nginxConfig";
import { ROUTER_LISTEN_PORT, ROUTER_STATUS_PORT, applyConfigCommand, routerSpec, routerUrl } from "./router";

/**
 * The `docker-host` platform: one Docker engine, a network and named volumes
 * shared by every version, and an nginx router whose config carries the canary
 * weights; `deployVersion` adds one `DockerVersion` per live version. The router
 * container never changes with the weights: a command writes each new config
 * into it and reloads nginx.
 */
export class DockerPlatform extends pulumi.ComponentResource implements PlatformAdapter {
    private readonly name: string;
    private readonly components: ComponentSpec[];
    private readonly settings: DockerSettings;
    private readonly shared: DockerShared;
    /** The engine's provider, which also answers the registry lookups of the images (`PinnedImage`). */
    readonly engineProvider: docker.Provider;
    /** Secret variables of each component, by name, for one-off containers (`-e NAME` takes them from the runner). */
    private readonly secretValues: Record<string, Record<string, pulumi.Output<string>>>;
    private readonly network: docker.Network;
    private readonly router?: docker.Container;
    private readonly deployed = new Map<string, DockerVersion>();

    constructor(name: string, args: PlatformArgs, opts: pulumi.ComponentResourceOptions = {}) {
        super("safe-release:docker:DockerPlatform", name, {}, opts);
        const { config } = args;
        this.name = name;
        this.components = config.components;
        this.settings = config.docker!;
        const settings = this.settings;
        const envFiles = readEnvFiles(config.components, settings);
        this.secretValues = Object.fromEntries(
            config.components.map((c) => [
                c.name,
                Object.fromEntries(Object.entries(c.secretEnv).map(([env, ref]) => [env, args.secrets[ref.slice("config:".length)]])),
            ]),
        );

        const provider = new docker.Provider(`${name}-engine`, settings.host !== undefined ? { host: settings.host } : {}, {
            parent: this,
        });
        this.engineProvider = provider;
        const labels = [{ label: "safe-release.app", value: config.app }];
        this.network = new docker.Network(
            `${name}-network`,
            { name: settings.network, driver: "bridge", labels },
            { parent: this, provider },
        );
        const volumeNames = [
            ...new Set(
                Object.values(settings.volumes)
                    .flat()
                    .filter((m) => m.kind === "volume")
                    .map((m) => m.source),
            ),
        ].sort();
        // Named volumes hold the service's data: removing them from the program must never delete them.
        const volumes = volumeNames.map(
            (volume) =>
                new docker.Volume(`${name}-volume-${volume}`, { name: volume, labels }, { parent: this, provider, retainOnDelete: true }),
        );

        this.shared = {
            app: config.app,
            settings,
            provider,
            networkName: this.network.name,
            volumes,
            secretEnvs: Object.fromEntries(
                config.components.map((c) => [
                    c.name,
                    [
                        ...Object.keys(c.secretEnv)
                            .sort()
                            .map((env) => pulumi.secret(pulumi.interpolate`${env}=${this.secretValues[c.name][env]}`)),
                        ...(envFiles[c.name] ?? []).map((entry) => pulumi.secret(entry)),
                    ],
                ]),
            ),
        };
        if (config.components.some((c) => c.role === "web")) this.router = this.routerContainer(name, config.app, provider);
        this.registerOutputs({ network: this.network.name });
    }

    deployVersion(version: string, images: VersionImages, after: pulumi.Resource[]): DockerVersion {
        const deployed = new DockerVersion(
            `${this.name}-${version}`,
            {
                shared: this.shared,
                version,
                components: this.components,
                images,
                after,
            },
            { parent: this },
        );
        this.deployed.set(version, deployed);
        return deployed;
    }

    /** `docker run --rm` of the component's image; its exit code is the task's. */
    oneOffTask(version: string, component: string, image: pulumi.Output<string>, commandArgv: string[]): OneOffTask {
        const spec = this.components.find((c) => c.name === component)!;
        const argv = image.apply((ref) =>
            oneOffArgv({ app: this.shared.app, version, component: spec, settings: this.settings, image: ref, command: commandArgv }),
        );
        return { argv, needs: [this.network, ...this.shared.volumes], environment: this.secretValues[component] };
    }

    /** The registry must still serve each pinned digest of `version`. */
    rollbackCheck(version: string, images: VersionImages): OneOffTask | undefined {
        return imagesCheck(version, images);
    }

    /** `docker stop` / `docker start` of the components' containers of the given versions. */
    writerControl(versions: string[], components: string[]): WriterControl {
        const specs = this.components.filter((c) => components.includes(c.name));
        const router = this.router !== undefined ? routerContainerName(this.shared.app) : undefined;
        const { stop, start } = writerArgv(this.shared.app, this.settings, specs, versions, router);
        return { stop: pulumi.output(stop), start: pulumi.output(start) };
    }

    /**
     * The only resource a traffic shift or a warm rollback changes: the command
     * that loads the rendered config into the router. Its inputs are the config,
     * so a weight change is exactly one update, and re-running it on change is
     * the point: `create` and `update` both apply.
     */
    routeTraffic(versions: WeightedVersion[]): Routing {
        if (this.router === undefined) return { url: pulumi.output(""), applied: [] };
        const ready = versions.flatMap((v) => v.deployed.ready);
        const spec = routerSpec(
            this.components,
            versions.map((v) => ({
                version: v.deployed.version,
                weight: v.weight,
                backends: this.deployed.get(v.deployed.version)!.backends,
            })),
        );
        const config = renderNginxConfig(spec);
        const apply = applyConfigCommand(routerContainerName(this.shared.app), config);
        const applied = new command.local.Command(
            `${this.name}-router-config`,
            {
                create: apply,
                update: apply,
                stdin: config,
                ...(this.settings.host !== undefined ? { environment: { DOCKER_HOST: this.settings.host } } : {}),
                // A new router container starts from the image's config: load ours into it again.
                triggers: [this.router.id],
            },
            { parent: this, dependsOn: [this.router, ...ready] },
        );
        return { url: pulumi.output(routerUrl(this.settings)), applied: [applied] };
    }

    private routerContainer(name: string, app: string, provider: docker.Provider): docker.Container {
        const { settings } = this;
        const pinned = routerImageRef(`${name}-router`, settings.routerImage, this, provider);
        const image = new docker.RemoteImage(`${name}-router-image`, { name: pinned, keepLocally: true }, { parent: this, provider });
        return new docker.Container(
            `${name}-router`,
            {
                name: routerContainerName(app),
                image: pinned,
                ports: [{ internal: ROUTER_LISTEN_PORT, external: settings.routerPort, ip: settings.routerAddress }],
                networksAdvanced: [{ name: this.network.name }],
                restart: settings.restart,
                logDriver: "json-file",
                logOpts: { "max-size": "10m", "max-file": "3" },
                labels: [
                    { label: "safe-release.app", value: app },
                    { label: "safe-release.component", value: "router" },
                ],
                healthcheck: {
                    tests: ["CMD", "wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${ROUTER_STATUS_PORT}/healthz`],
                    interval: `${settings.healthIntervalSeconds}s`,
                    timeout: "5s",
                    retries: settings.healthRetries,
                },
            },
            { parent: this, provider, dependsOn: [image] },
        );
    }
}

/** The router runs by digest too: a tag (allowed where pinning is not required) is looked up at preview. */
function routerImageRef(name: string, image: string, parent: pulumi.Resource, provider: docker.Provider): pulumi.Output<string> {
    const { repository, tag, digest } = splitImageReference(image);
    if (digest !== undefined) return pulumi.output(image);
    return new PinnedImage(name, { repository, version: tag!, lookupProvider: provider }, { parent }).ref;
}

/** Env files are read where Pulumi runs; a missing or malformed one stops the update before anything changes. */
function readEnvFiles(components: ComponentSpec[], settings: DockerSettings): Record<string, string[]> {
    const files: Record<string, string[]> = {};
    for (const component of components) {
        const path = settings.envFile[component.name];
        const key = `release:dockerHost.envFile.${component.name}`;
        let entries: string[] = [];
        if (path !== undefined) {
            let text: string;
            try {
                text = fs.readFileSync(path, "utf8");
            } catch (err) {
                throw new ConfigError(
                    `\`${key}\` names ${path}, which cannot be read (${(err as NodeJS.ErrnoException).code ?? "error"}); give a path relative to the project or an absolute one`,
                );
            }
            entries = parseEnvFile(key, path, text);
        }
        checkDistinctNames(component, entries);
        files[component.name] = entries;
    }
    return files;
}
