import { Operation, ResourceType } from "../resourceType";
import { containsUnknown, reveal, secretStrings, UNKNOWN, WireMap } from "../wire";
import { NO_PREVIOUS_OUTPUT, PreviousOutput } from "../local/environment";
import {
    checkRemoteCommandInputs,
    decodeRemoteCommandInputs,
    REMOTE_COMMAND_INPUTS,
    REMOTE_COMMAND_REPLACE_ON_CHANGES,
    REMOTE_COMMAND_TYPE,
} from "./inputs";
import { runRemoteCommand } from "./run";

/**
 * `command:remote:Command` with upstream v1.2.1's lifecycle, the local
 * command's over SSH: create runs `create`; update runs `update`, or `create`
 * when `update` is unset, or nothing; delete runs `delete` with the stored
 * inputs. Each run dials anew (`dialErrorLimit` retries). Outputs are the inputs
 * (the connection stays secret) plus `stdout` and `stderr`.
 */
export const remoteCommand: ResourceType = {
    token: REMOTE_COMMAND_TYPE,
    inputNames: REMOTE_COMMAND_INPUTS,
    replaceOnChanges: REMOTE_COMMAND_REPLACE_ON_CHANGES,
    check: checkRemoteCommandInputs,

    async create(operation, news) {
        if (containsUnknown(news)) return { ...news, stdout: UNKNOWN, stderr: UNKNOWN };
        const inputs = decodeRemoteCommandInputs(news);
        if (inputs.create === undefined) return { ...news, stdout: "", stderr: "" };
        return { ...news, ...(await run(operation, inputs.create, news, NO_PREVIOUS_OUTPUT)) };
    },

    async update(operation, olds, news) {
        const kept = { stdout: olds.stdout ?? "", stderr: olds.stderr ?? "" };
        if (containsUnknown(news)) return { ...news, stdout: UNKNOWN, stderr: UNKNOWN };
        const inputs = decodeRemoteCommandInputs(news);
        const command = inputs.update ?? inputs.create;
        if (command === undefined) return { ...news, ...kept };
        return { ...news, ...(await run(operation, command, { ...news, ...kept }, previousOutput(olds))) };
    },

    async delete(operation, state) {
        const inputs = decodeRemoteCommandInputs(state);
        if (inputs.delete === undefined) return;
        await run(operation, inputs.delete, state, previousOutput(state));
    },
};

function run(operation: Operation, command: string, wire: WireMap, previous: PreviousOutput) {
    const { connection: _connection, ...rest } = wire;
    return runRemoteCommand({
        command,
        inputs: decodeRemoteCommandInputs(wire),
        previous,
        log: operation.log,
        // The connection's host and user are secret too, but masking them would garble every line; its credentials are masked.
        secrets: secretStrings(rest),
    });
}

function previousOutput(state: WireMap): PreviousOutput {
    const text = (value: unknown) => (typeof reveal(value) === "string" ? (reveal(value) as string) : "");
    return { stdout: text(state.stdout), stderr: text(state.stderr) };
}
