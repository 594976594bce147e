import type * as provider from "@pulumi/pulumi/provider";
import { CONTAINER_TYPE } from "./container";
import { containerResource } from "./containerResource";
import { DockerEngine } from "./engine";
import { REMOTE_IMAGE_TYPE, remoteImageResource } from "./image";
import { NETWORK_TYPE, VOLUME_TYPE, networkResource, volumeResource } from "./network";
import { GET_REGISTRY_IMAGE, getRegistryImage } from "./registry";
import { InitFailedError, ResourceHandler } from "./resource";
import { Props, UNKNOWN, conceal, resourceName, resourceType, reveal, secretKeys } from "./wire";

/** The version `@pulumi/docker` 5.2.0 asks the engine for. */
export const PROVIDER_VERSION = "5.2.0";

const HANDLERS: Record<string, ResourceHandler> = {
    [CONTAINER_TYPE]: containerResource,
    [NETWORK_TYPE]: networkResource,
    [VOLUME_TYPE]: volumeResource,
    [REMOTE_IMAGE_TYPE]: remoteImageResource,
};

/** Provider configuration as `Configure` carries it: `host` (inputs of a `docker.Provider`, or stack config `docker:host`). */
export interface DockerConfig {
    readonly host?: string;
}

/**
 * The provider object `main` serves. Each call unwraps the engine's secret
 * markers, hands plain values to the resource's handler and wraps the same
 * top-level properties again on the way out: `envs` stays secret in the state
 * and is never written to a log or an error.
 */
export class DockerProvider implements provider.Provider {
    readonly version = PROVIDER_VERSION;
    private engine: DockerEngine;

    constructor(config: DockerConfig = {}) {
        this.engine = new DockerEngine(config.host);
    }

    /** The engine this provider talks to: `host`, else `DOCKER_HOST`, else Docker's default socket. */
    get host(): string {
        return this.engine.host;
    }

    configure(config: DockerConfig): void {
        const host = config.host === UNKNOWN || config.host === "" ? undefined : config.host;
        this.engine = new DockerEngine(host);
    }

    async check(urn: string, olds: Props, news: Props): Promise<provider.CheckResult> {
        const keys = secretKeys(news);
        const result = handlerFor(urn).check(reveal(olds ?? {}), reveal(news ?? {}), resourceName(urn));
        return { inputs: conceal(result.inputs, keys), failures: result.failures };
    }

    async diff(_id: string, urn: string, olds: Props, news: Props): Promise<provider.DiffResult> {
        return handlerFor(urn).diff(reveal(olds ?? {}), reveal(news ?? {}));
    }

    async create(urn: string, inputs: Props): Promise<provider.CreateResult> {
        const keys = secretKeys(inputs);
        try {
            const { id, outs } = await handlerFor(urn).create(this.engine, reveal(inputs));
            return { id, outs: conceal(outs, keys) };
        } catch (err) {
            if (err instanceof InitFailedError) err.properties = conceal(err.properties, keys);
            throw err;
        }
    }

    async read(id: string, urn: string, props: Props): Promise<provider.ReadResult> {
        const keys = secretKeys(props);
        const live = await handlerFor(urn).read(this.engine, id, reveal(props ?? {}));
        // An empty id tells the engine the object is gone (`pulumi refresh` drops it).
        return live === undefined ? { id: "", props: {} } : { id, props: conceal(live, keys) };
    }

    async update(id: string, urn: string, olds: Props, news: Props): Promise<provider.UpdateResult> {
        const keys = secretKeys(olds, news);
        const outs = await handlerFor(urn).update(this.engine, id, reveal(olds), reveal(news));
        return { outs: conceal(outs, keys) };
    }

    async delete(id: string, urn: string, props: Props): Promise<void> {
        await handlerFor(urn).delete(this.engine, id, reveal(props ?? {}));
    }

    async invoke(token: string, inputs: Props): Promise<provider.InvokeResult> {
        if (token !== GET_REGISTRY_IMAGE) {
            throw new Error(`the stand-in docker provider serves only the function ${GET_REGISTRY_IMAGE}; ${token} is not it`);
        }
        return { outputs: await getRegistryImage(reveal(inputs ?? {})) };
    }
}

function handlerFor(urn: string): ResourceHandler {
    const type = resourceType(urn);
    const handler = HANDLERS[type];
    if (handler === undefined) {
        throw new Error(`the stand-in docker provider serves ${Object.keys(HANDLERS).join(", ")}; ${type} is not one of them`);
    }
    return handler;
}
