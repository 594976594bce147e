import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { ComponentSpec } from "../../settings/components";
import { DockerSettings } from "../../settings/docker";
import { DeployedVersion, TestEndpoint } from "../platform";
import { plainEnv, replicaNames, volumeInputs, webHealthcheck } from "./containers";
import { TARGET_HEADER } from "../../core/nginxConfig";
import { routerUrl } from "./router";

/** What every version shares, made once by `DockerPlatform`. */
export interface DockerShared {
    readonly app: string;
    readonly settings: DockerSettings;
    readonly provider: docker.Provider;
    readonly networkName: pulumi.Output<string>;
    /** Named volumes the containers mount; they exist before any container. */
    readonly volumes: docker.Volume[];
    /** Component → secret variables as `NAME=value` Pulumi secrets (from `secretEnv` and the env file). */
    readonly secretEnvs: Record<string, pulumi.Output<string>[]>;
}

export interface DockerVersionArgs {
    readonly shared: DockerShared;
    readonly version: string;
    readonly components: ComponentSpec[];
    /** Component → `repo@sha256:…` */
    readonly images: Record<string, pulumi.Output<string>>;
    /** Containers start after these: the data steps of a forward upgrade. */
    readonly after: pulumi.Resource[];
}

/**
 * Everything one live version runs on the Docker host: per component the image,
 * pulled by digest, and `desiredCount` containers named after the version, with
 * the component's environment, mounts, restart policy and (web) a health check
 * on `healthPath`. Nothing here depends on the weights, so shifting traffic or
 * swapping `version` and `previous` leaves it untouched.
 */
export class DockerVersion extends pulumi.ComponentResource implements DeployedVersion {
    public readonly version: string;
    public readonly targets: Record<string, pulumi.Output<string>> = {};
    /** Web component → `container:port` of each replica, for the router. */
    public readonly backends: Record<string, string[]> = {};
    public readonly ready: pulumi.Resource[] = [];
    /** The router's `X-Release-Target` route reaches this version alone, once the router config carries it. */
    public readonly testEndpoint: TestEndpoint;

    constructor(name: string, args: DockerVersionArgs, opts: pulumi.ComponentResourceOptions = {}) {
        super("safe-release:docker:DockerVersion", name, {}, opts);
        const { shared, version } = args;
        this.version = version;
        this.testEndpoint = { baseUrl: pulumi.output(routerUrl(shared.settings)), headers: { [TARGET_HEADER]: version }, viaRouting: true };
        for (const component of args.components) {
            const image = new docker.RemoteImage(
                `${name}-${component.name}-image`,
                {
                    name: args.images[component.name],
                    // A rollback must find the last known good image on the host even if the registry is gone.
                    keepLocally: true,
                },
                { parent: this, provider: shared.provider },
            );
            const names = replicaNames(shared.app, component, version);
            names.forEach((containerName, i) => {
                this.ready.push(
                    this.container(`${name}-${component.name}${i === 0 ? "" : `-${i + 1}`}`, containerName, args, component, image),
                );
            });
            if (component.role === "web") {
                this.backends[component.name] = names.map((n) => `${n}:${component.port}`);
                this.targets[component.name] = pulumi.output(this.backends[component.name].join(","));
            }
        }
        this.registerOutputs({ version, targets: this.targets });
    }

    private container(
        resourceName: string,
        name: string,
        args: DockerVersionArgs,
        component: ComponentSpec,
        image: docker.RemoteImage,
    ): docker.Container {
        const { shared, version } = args;
        const { settings } = shared;
        const secrets = shared.secretEnvs[component.name] ?? [];
        const plain = plainEnv(component, version);
        const envs = secrets.length === 0 ? plain : pulumi.secret(pulumi.all(secrets).apply((values) => [...plain, ...values]));
        const web = component.role === "web";
        return new docker.Container(
            resourceName,
            {
                name,
                // The pinned reference itself (not the image id) so the plan and the policy pack see the digest.
                image: args.images[component.name],
                ...(component.command !== undefined ? { command: component.command } : {}),
                envs,
                networksAdvanced: [{ name: shared.networkName, aliases: [name] }],
                volumes: volumeInputs(settings.volumes[component.name] ?? []),
                restart: settings.restart,
                logDriver: "json-file",
                // One host's disk holds every log: bounded per container.
                logOpts: { "max-size": "10m", "max-file": "3" },
                labels: [
                    { label: "safe-release.app", value: shared.app },
                    { label: "safe-release.component", value: component.name },
                    { label: "safe-release.version", value: version },
                ],
                ...(web
                    ? {
                          healthcheck: webHealthcheck(component, settings),
                          // `pulumi up` waits for the health check to pass, so the router gets a version only once it is healthy.
                          wait: true,
                          waitTimeout: settings.healthyWaitSeconds,
                      }
                    : {}),
            },
            {
                parent: this,
                provider: shared.provider,
                dependsOn: [image, ...shared.volumes, ...args.after],
                additionalSecretOutputs: ["envs"],
            },
        );
    }
}
