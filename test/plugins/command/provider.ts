import { randomBytes } from "crypto";
import * as provider from "@pulumi/pulumi/provider";
import { diffInputs } from "./diff";
import { EngineLog } from "./engineLog";
import { localCommand } from "./local/command";
import { killRunningCommands } from "./local/run";
import { remoteCommand } from "./remote/command";
import { copyToRemote } from "./remote/copy";
import { closeRemoteConnections } from "./remote/run";
import { Operation, ResourceType } from "./resourceType";
import { WireMap } from "./wire";

/** The upstream release whose semantics this plugin follows; the engine is told this version. */
export const UPSTREAM_VERSION = "1.2.1";

export const SERVED_TYPES: readonly ResourceType[] = [localCommand, remoteCommand, copyToRemote];

/** The provider object for `@pulumi/pulumi/provider`'s `main`: routes each resource operation to its type. */
export function commandProvider(log: EngineLog, types: readonly ResourceType[] = SERVED_TYPES): provider.Provider {
    const typeOf = (urn: string): ResourceType => {
        const token = urnType(urn);
        const type = types.find((t) => t.token === token);
        if (type === undefined) {
            throw new Error(`the stand-in command provider does not serve ${token}; it serves ${types.map((t) => t.token).join(", ")}`);
        }
        return type;
    };
    // Log lines reach the engine before the operation's result does, as upstream's synchronous logging guarantees.
    const operation = async <T>(urn: string, act: (op: Operation) => Promise<T>): Promise<T> => {
        try {
            return await act({ urn, log: (line) => log.line(urn, line) });
        } finally {
            await log.flushed();
        }
    };
    return {
        version: UPSTREAM_VERSION,
        async check(urn, _olds, news: WireMap) {
            return { inputs: news, failures: typeOf(urn).check(news) };
        },
        async diff(_id, urn, olds: WireMap, news: WireMap) {
            const type = typeOf(urn);
            const { changed, replaces } = diffInputs(type.inputNames, type.replaceOnChanges, olds, news);
            return { changes: changed.length > 0, replaces, deleteBeforeReplace: false };
        },
        async create(urn, news: WireMap) {
            const outs = await operation(urn, (op) => typeOf(urn).create(op, news));
            // Upstream's id: the resource's name and 8 random hex digits.
            const hex = randomBytes(4).toString("hex");
            return { id: typeOf(urn).randomId === true ? hex : `${urnName(urn)}${hex}`, outs };
        },
        async update(_id, urn, olds: WireMap, news: WireMap) {
            return { outs: await operation(urn, (op) => typeOf(urn).update(op, olds, news)) };
        },
        async delete(_id, urn, state: WireMap) {
            await operation(urn, (op) => typeOf(urn).delete(op, state));
        },
        async invoke(token) {
            throw new Error(`the stand-in command provider serves no functions (${token}); the program calls none`);
        },
        async cancel() {
            killRunningCommands();
            closeRemoteConnections();
        },
    };
}

/** `urn:pulumi:<stack>::<project>::<parent types$>type::<name>` → type. */
export function urnType(urn: string): string {
    const qualifiedType = urn.split("::")[2] ?? "";
    return qualifiedType.split("$").pop()!;
}

export function urnName(urn: string): string {
    return urn.split("::").slice(3).join("::");
}
