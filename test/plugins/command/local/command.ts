import { Operation, ResourceType } from "../resourceType";
import { containsUnknown, reveal, secretStrings, UNKNOWN, WireMap } from "../wire";
import { NO_PREVIOUS_OUTPUT, PreviousOutput } from "./environment";
import {
    checkLocalCommandInputs,
    decodeLocalCommandInputs,
    LOCAL_COMMAND_INPUTS,
    LOCAL_COMMAND_REPLACE_ON_CHANGES,
    LOCAL_COMMAND_TYPE,
} from "./inputs";
import { runLocalCommand } from "./run";

/**
 * `command:local:Command` with upstream v1.2.1's lifecycle: create runs
 * `create`; update runs `update`, or `create` when `update` is unset, or nothing
 * when both are; delete runs `delete` with the stored inputs. Outputs are the
 * inputs (secrets still wrapped) plus the last run's `stdout` and `stderr`,
 * which stay as they were when an update runs nothing. A failed run stores nothing.
 */
export const localCommand: ResourceType = {
    token: LOCAL_COMMAND_TYPE,
    inputNames: LOCAL_COMMAND_INPUTS,
    replaceOnChanges: LOCAL_COMMAND_REPLACE_ON_CHANGES,
    check: checkLocalCommandInputs,

    async create(operation, news) {
        if (containsUnknown(news)) return { ...news, stdout: UNKNOWN, stderr: UNKNOWN };
        const inputs = decodeLocalCommandInputs(news);
        if (inputs.create === undefined) return { ...news, stdout: "", stderr: "" };
        return { ...news, ...(await run(operation, inputs.create, news, NO_PREVIOUS_OUTPUT)) };
    },

    async update(operation, olds, news) {
        const kept = { stdout: olds.stdout ?? "", stderr: olds.stderr ?? "" };
        if (containsUnknown(news)) return { ...news, stdout: UNKNOWN, stderr: UNKNOWN };
        const inputs = decodeLocalCommandInputs(news);
        const command = inputs.update ?? inputs.create;
        if (command === undefined) return { ...news, ...kept };
        return { ...news, ...(await run(operation, command, { ...news, ...kept }, previousOutput(olds))) };
    },

    async delete(operation, state) {
        const inputs = decodeLocalCommandInputs(state);
        if (inputs.delete === undefined) return;
        await run(operation, inputs.delete, state, previousOutput(state));
    },
};

function run(operation: Operation, command: string, wire: WireMap, previous: PreviousOutput) {
    return runLocalCommand({
        command,
        inputs: decodeLocalCommandInputs(wire),
        previous,
        log: operation.log,
        secrets: secretStrings(wire),
    });
}

function previousOutput(state: WireMap): PreviousOutput {
    const text = (value: unknown) => (typeof reveal(value) === "string" ? (reveal(value) as string) : "");
    return { stdout: text(state.stdout), stderr: text(state.stderr) };
}
