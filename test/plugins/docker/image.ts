import { DockerEngine, query } from "./engine";
import { DiffRules, ResourceHandler, diffInputs, unsupportedInputs } from "./resource";
import { Props } from "./wire";

/**
 * `docker:index/remoteImage:RemoteImage` (upstream's `docker_image`): create
 * pulls `name` unless the engine has it, id is the image id followed by the
 * name, outputs `imageId` and `repoDigest`; delete removes the image unless
 * `keepLocally`; refresh reports it gone when the engine no longer has it.
 * `keepLocally` and `forceRemove` change in place; a new `name` replaces.
 */

export const REMOTE_IMAGE_TYPE = "docker:index/remoteImage:RemoteImage";
const REMOTE_IMAGE_INPUTS = ["name", "keepLocally", "forceRemove"] as const;
const PULL_TIMEOUT_MS = 10 * 60_000;

const REMOTE_IMAGE_DIFF: DiffRules = {
    updatable: ["keepLocally", "forceRemove"],
    computed: ["imageId", "repoDigest"],
    optionalComputed: [],
    deleteBeforeReplace: false,
};

/** `repo:tag` / `repo@sha256:…` / `repo` → what `POST /images/create` takes: `fromImage` and `tag` (a tag or a digest). */
export function pullParameters(name: string): { fromImage: string; tag: string } {
    const at = name.indexOf("@");
    if (at >= 0) return { fromImage: name.slice(0, at), tag: name.slice(at + 1) };
    const colon = name.lastIndexOf(":");
    if (colon > name.lastIndexOf("/")) return { fromImage: name.slice(0, colon), tag: name.slice(colon + 1) };
    return { fromImage: name, tag: "latest" };
}

/** The repo digest that belongs to `name`: the name itself when it is pinned, else the first of its repository. */
export function repoDigestFor(name: string, repoDigests: string[]): string {
    if (repoDigests.includes(name)) return name;
    const repository = pullParameters(name).fromImage;
    return repoDigests.find((d) => d.startsWith(`${repository}@`)) ?? repoDigests[0] ?? "";
}

export async function pullImage(engine: DockerEngine, name: string): Promise<void> {
    await engine.progress("POST", `/images/create${query(pullParameters(name))}`, PULL_TIMEOUT_MS);
}

async function inspectImage(engine: DockerEngine, name: string): Promise<Props | undefined> {
    return engine.json("GET", `/images/${encodeURIComponent(name)}/json`);
}

function imageOutputs(name: string, image: Props): Props {
    return { imageId: image.Id, repoDigest: repoDigestFor(name, image.RepoDigests ?? []) };
}

export const remoteImageResource: ResourceHandler = {
    check(_olds, news) {
        const failures = unsupportedInputs(news, REMOTE_IMAGE_INPUTS, "RemoteImage");
        if (typeof news.name !== "string" || news.name === "") {
            failures.push({ property: "name", reason: "`name` is required: the image to pull, e.g. `repo@sha256:…`" });
        }
        return { inputs: news, failures };
    },
    diff: (olds, news) => {
        const { changes, replaces, deleteBeforeReplace } = diffInputs(olds, news, REMOTE_IMAGE_DIFF);
        return { changes, replaces, deleteBeforeReplace };
    },

    async create(engine, inputs) {
        let image = await inspectImage(engine, inputs.name);
        if (image === undefined) {
            await pullImage(engine, inputs.name);
            image = await inspectImage(engine, inputs.name);
            if (image === undefined) throw new Error(`RemoteImage: pulled ${inputs.name}, but the engine does not list it`);
        }
        return { id: `${image.Id}${inputs.name}`, outs: { ...inputs, ...imageOutputs(inputs.name, image) } };
    },

    async read(engine, _id, props) {
        const image = await inspectImage(engine, props.name);
        return image === undefined ? undefined : { ...props, ...imageOutputs(props.name, image) };
    },

    async update(_engine, _id, olds, news) {
        return { ...news, imageId: olds.imageId, repoDigest: olds.repoDigest };
    },

    async delete(engine, _id, props) {
        // A rollback must find the last known good image on the host: `keepLocally` leaves it there.
        if (props.keepLocally === true) return;
        await engine.ignoringMissing("DELETE", `/images/${encodeURIComponent(props.name)}${query({ force: props.forceRemove === true })}`);
    },
};
