import { CheckFailure } from "@pulumi/pulumi/provider";
import { checkLocalCommandInputs, decodeLocalCommandInputs, LOCAL_COMMAND_INPUTS, LocalCommandInputs } from "../local/inputs";
import { WireMap } from "../wire";
import { checkConnection, Connection, decodeConnection } from "./connection";

export const REMOTE_COMMAND_TYPE = "command:remote:Command";

/** The inputs of `command:remote:Command` v1.2.1: the local command's, less `dir`, `interpreter` and the path collectors, plus `connection`. */
export const REMOTE_COMMAND_INPUTS = [
    "addPreviousOutputInEnv",
    "connection",
    "create",
    "delete",
    "environment",
    "logging",
    "stdin",
    "triggers",
    "update",
] as const;

export const REMOTE_COMMAND_REPLACE_ON_CHANGES = ["triggers"] as const;

export type RemoteCommandInputs = Omit<LocalCommandInputs, "dir" | "interpreter"> & { readonly connection: Connection };

/** The local command's checks for the inputs both share, the connection's for `connection`; any other name is refused. */
export function checkRemoteCommandInputs(news: WireMap): CheckFailure[] {
    const failures: CheckFailure[] = [];
    const shared: WireMap = {};
    for (const [name, value] of Object.entries(news)) {
        if (value === null || value === undefined || name === "connection") continue;
        if (!(REMOTE_COMMAND_INPUTS as readonly string[]).includes(name)) {
            failures.push({
                property: name,
                reason: `\`${name}\` is not an input of ${REMOTE_COMMAND_TYPE}; valid inputs: ${REMOTE_COMMAND_INPUTS.join(", ")}`,
            });
        } else if ((LOCAL_COMMAND_INPUTS as readonly string[]).includes(name)) {
            shared[name] = value;
        }
    }
    return [...failures, ...checkLocalCommandInputs(shared), ...checkConnection(news.connection)];
}

export function decodeRemoteCommandInputs(wire: WireMap): RemoteCommandInputs {
    const { dir: _dir, interpreter: _interpreter, ...shared } = decodeLocalCommandInputs(wire);
    return { ...shared, connection: decodeConnection(wire.connection) };
}
