import { CONTAINER_DIFF, checkContainer, connectBodies, createBody, inspectedOutputs } from "./container";
import { DockerEngine, query } from "./engine";
import { waitUntilHealthy } from "./health";
import { pullImage } from "./image";
import { InitFailedError, ResourceHandler, diffInputs } from "./resource";
import { Props } from "./wire";

const CREATE_TIMEOUT_MS = 60_000;

/** `docker:index/container:Container` against the engine: create, start, wait for health; refresh; restart policy in place; remove. */
export const containerResource: ResourceHandler = {
    check: checkContainer,
    diff: (olds, news) => {
        const { changes, replaces, deleteBeforeReplace } = diffInputs(olds, news, CONTAINER_DIFF);
        return { changes, replaces, deleteBeforeReplace };
    },

    async create(engine, inputs) {
        const id = await createContainer(engine, inputs);
        const partial = async (err: unknown): Promise<never> => {
            // The container exists: record it (the next update replaces it) and leave it for `docker logs`.
            const outs = { ...inputs, ...(await inspectOutputs(engine, id)) };
            throw new InitFailedError((err as Error).message, id, outs);
        };
        try {
            for (const { network, body } of connectBodies(inputs, id))
                await engine.json("POST", `/networks/${encodeURIComponent(network)}/connect`, body);
            if (inputs.start !== false) {
                await engine.json("POST", `/containers/${id}/start`);
                if (inputs.wait === true)
                    await waitUntilHealthy(engine, id, { name: inputs.name, timeoutSeconds: inputs.waitTimeout ?? 60 });
            }
        } catch (err) {
            return partial(err);
        }
        return { id, outs: { ...inputs, ...(await inspectOutputs(engine, id)) } };
    },

    async read(engine, id, props) {
        const inspect = await engine.json("GET", `/containers/${id}/json`);
        if (inspect === undefined) return undefined;
        const { exitCode: _previous, ...rest } = props;
        return { ...rest, ...inspectedOutputs(inspect) };
    },

    async update(engine, id, olds, news) {
        if (olds.restart !== news.restart || olds.maxRetryCount !== news.maxRetryCount) {
            await engine.json("POST", `/containers/${id}/update`, {
                RestartPolicy: { Name: news.restart ?? "no", MaximumRetryCount: news.maxRetryCount ?? 0 },
            });
        }
        return { ...news, ...pick(olds, CONTAINER_DIFF.computed) };
    },

    async delete(engine, id, props) {
        // Upstream stops with no grace period and removes with force; anonymous volumes go too unless `removeVolumes: false`.
        await engine.ignoringMissing("DELETE", `/containers/${id}${query({ force: true, v: props.removeVolumes !== false })}`);
    },
};

/** Like upstream, a missing image is pulled first (the program pulls it with a RemoteImage anyway). */
async function createContainer(engine: DockerEngine, inputs: Props): Promise<string> {
    const path = `/containers/create${query({ name: inputs.name })}`;
    let response = await engine.request("POST", path, createBody(inputs), CREATE_TIMEOUT_MS);
    if (response.status === 404 && /no such image/i.test(response.text)) {
        await pullImage(engine, inputs.image);
        response = await engine.request("POST", path, createBody(inputs), CREATE_TIMEOUT_MS);
    }
    engine.raiseFor("POST", path, response);
    return JSON.parse(response.text).Id;
}

async function inspectOutputs(engine: DockerEngine, id: string): Promise<Props> {
    const inspect = await engine.json("GET", `/containers/${id}/json`);
    return inspect === undefined ? {} : inspectedOutputs(inspect);
}

function pick(props: Props, keys: readonly string[]): Props {
    return Object.fromEntries(keys.filter((k) => props[k] !== undefined).map((k) => [k, props[k]]));
}
