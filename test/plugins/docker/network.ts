import { DiffRules, ResourceHandler, autoname, diffInputs, labelMap, unsupportedInputs } from "./resource";

/**
 * `docker:index/network:Network` and `docker:index/volume:Volume`: every input
 * is ForceNew upstream, so any change replaces (create-before-delete, as
 * upstream: neither sets DeleteBeforeReplace). A volume's delete removes it;
 * the engine never calls it for a resource with `retainOnDelete`.
 */

export const NETWORK_TYPE = "docker:index/network:Network";
export const VOLUME_TYPE = "docker:index/volume:Volume";

const NETWORK_INPUTS = ["name", "driver", "labels", "internal", "attachable", "options"] as const;
const VOLUME_INPUTS = ["name", "driver", "labels", "driverOpts"] as const;

const NETWORK_DIFF: DiffRules = {
    updatable: [],
    computed: ["scope"],
    optionalComputed: ["driver", "options"],
    deleteBeforeReplace: false,
};
const VOLUME_DIFF: DiffRules = { updatable: [], computed: ["mountpoint"], optionalComputed: ["driver"], deleteBeforeReplace: false };

export const networkResource: ResourceHandler = {
    check: (olds, news, resourceName) => ({
        inputs: { ...news, name: autoname(olds, news, resourceName) },
        failures: unsupportedInputs(news, NETWORK_INPUTS, "Network"),
    }),
    diff: (olds, news) => {
        const { changes, replaces, deleteBeforeReplace } = diffInputs(olds, news, NETWORK_DIFF);
        return { changes, replaces, deleteBeforeReplace };
    },
    async create(engine, inputs) {
        const created = await engine.json("POST", "/networks/create", {
            Name: inputs.name,
            // Docker allows two networks of one name; upstream's client refuses the second, and so does this.
            CheckDuplicate: true,
            Driver: inputs.driver ?? "bridge",
            Internal: inputs.internal ?? false,
            Attachable: inputs.attachable ?? false,
            Options: inputs.options ?? {},
            Labels: labelMap(inputs.labels),
        });
        const network = await engine.json("GET", `/networks/${created.Id}`);
        return { id: created.Id, outs: { ...inputs, driver: network.Driver, options: network.Options ?? {}, scope: network.Scope } };
    },
    async read(engine, id, props) {
        const network = await engine.json("GET", `/networks/${id}`);
        return network === undefined ? undefined : { ...props, name: network.Name, driver: network.Driver, scope: network.Scope };
    },
    async update(_engine, _id, olds, news) {
        return { ...olds, ...news };
    },
    async delete(engine, id) {
        await engine.ignoringMissing("DELETE", `/networks/${id}`);
    },
};

export const volumeResource: ResourceHandler = {
    check: (olds, news, resourceName) => ({
        inputs: { ...news, name: autoname(olds, news, resourceName) },
        failures: unsupportedInputs(news, VOLUME_INPUTS, "Volume"),
    }),
    diff: (olds, news) => {
        const { changes, replaces, deleteBeforeReplace } = diffInputs(olds, news, VOLUME_DIFF);
        return { changes, replaces, deleteBeforeReplace };
    },
    async create(engine, inputs) {
        const volume = await engine.json("POST", "/volumes/create", {
            Name: inputs.name,
            Driver: inputs.driver ?? "local",
            DriverOpts: inputs.driverOpts ?? {},
            Labels: labelMap(inputs.labels),
        });
        return { id: volume.Name, outs: { ...inputs, driver: volume.Driver, mountpoint: volume.Mountpoint } };
    },
    async read(engine, id, props) {
        const volume = await engine.json("GET", `/volumes/${encodeURIComponent(id)}`);
        return volume === undefined ? undefined : { ...props, driver: volume.Driver, mountpoint: volume.Mountpoint };
    },
    async update(_engine, _id, olds, news) {
        return { ...olds, ...news };
    },
    async delete(engine, id) {
        await engine.ignoringMissing("DELETE", `/volumes/${encodeURIComponent(id)}`);
    },
};
