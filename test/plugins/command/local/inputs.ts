import { CheckFailure } from "@pulumi/pulumi/provider";
import { containsUnknown, isObject, isSecret, isUnknown, reveal, WireMap, WireValue } from "../wire";

export const LOCAL_COMMAND_TYPE = "command:local:Command";

export type Logging = "stdout" | "stderr" | "stdoutAndStderr" | "none";
const LOGGING_VALUES: readonly Logging[] = ["stdout", "stderr", "stdoutAndStderr", "none"];

/** The inputs of `command:local:Command` v1.2.1 (`CommandInputs`: `ResourceInputs` + `BaseInputs`). */
export const LOCAL_COMMAND_INPUTS = [
    "addPreviousOutputInEnv",
    "archivePaths",
    "assetPaths",
    "create",
    "delete",
    "dir",
    "environment",
    "interpreter",
    "logging",
    "stdin",
    "triggers",
    "update",
] as const;

/** Upstream tags only `triggers` with `replaceOnChanges`; every other change is an update. */
export const LOCAL_COMMAND_REPLACE_ON_CHANGES = ["triggers"] as const;

/** The inputs with secrets revealed, as the command sees them. */
export interface LocalCommandInputs {
    readonly create?: string;
    readonly update?: string;
    readonly delete?: string;
    readonly stdin?: string;
    readonly logging?: Logging;
    readonly interpreter?: string[];
    readonly dir?: string;
    readonly environment?: Record<string, string>;
    readonly addPreviousOutputInEnv?: boolean;
}

const STRING_INPUTS = ["create", "update", "delete", "stdin", "dir"] as const;

/**
 * Check: the failures that upstream's typed decoding would report, in words that
 * say what is valid. Unknown values (a preview) pass; they are checked again once known.
 * `assetPaths` and `archivePaths` are refused: the program collects no files
 * from its commands, so this stand-in does not serve them.
 */
export function checkLocalCommandInputs(news: WireMap): CheckFailure[] {
    const failures: CheckFailure[] = [];
    const fail = (property: string, reason: string) => failures.push({ property, reason });
    for (const [name, wire] of Object.entries(news)) {
        const value = reveal(wire);
        if (value === null || value === undefined || isUnknown(value)) continue;
        if (!(LOCAL_COMMAND_INPUTS as readonly string[]).includes(name)) {
            fail(name, `\`${name}\` is not an input of ${LOCAL_COMMAND_TYPE}; valid inputs: ${LOCAL_COMMAND_INPUTS.join(", ")}`);
        } else if ((STRING_INPUTS as readonly string[]).includes(name)) {
            if (typeof value !== "string") fail(name, `\`${name}\` must be a string, not ${describe(value)}`);
        } else if (name === "logging") {
            if (!LOGGING_VALUES.includes(value as Logging)) {
                const given = typeof value === "string" && !isSecret(wire) ? JSON.stringify(value) : describe(value);
                fail(name, `\`logging\` must be one of ${LOGGING_VALUES.map((v) => `"${v}"`).join(", ")}, not ${given}`);
            }
        } else if (name === "interpreter") {
            if (!isStringList(value))
                fail(name, `\`interpreter\` must be a list of strings (program, then arguments), not ${describe(value)}`);
        } else if (name === "environment") {
            checkEnvironment(value, fail);
        } else if (name === "addPreviousOutputInEnv") {
            if (typeof value !== "boolean") fail(name, `\`addPreviousOutputInEnv\` must be true or false, not ${describe(value)}`);
        } else if (name === "triggers") {
            if (!Array.isArray(value)) fail(name, `\`triggers\` must be a list (of any values), not ${describe(value)}`);
        } else if (name === "assetPaths" || name === "archivePaths") {
            fail(
                name,
                `\`${name}\` is not served by the stand-in command provider (the program collects no files from its commands); ` +
                    `remove it, or install the real pulumi-resource-command`,
            );
        }
    }
    return failures;
}

function checkEnvironment(value: WireValue, fail: (property: string, reason: string) => void): void {
    if (!isObject(value)) {
        fail("environment", `\`environment\` must map variable names to strings, not ${describe(value)}`);
        return;
    }
    for (const [key, entry] of Object.entries(value)) {
        if (typeof entry !== "string" && !containsUnknown(entry)) {
            fail(`environment.${key}`, `\`environment.${key}\` must be a string, not ${describe(entry)}`);
        }
    }
}

/** Checked wire inputs as the command sees them; null (an unset input) reads as absent. */
export function decodeLocalCommandInputs(wire: WireMap): LocalCommandInputs {
    const value = reveal(wire) as Record<string, unknown>;
    const pick = <T>(name: string): T | undefined => (value[name] === null ? undefined : (value[name] as T | undefined));
    return {
        create: pick("create"),
        update: pick("update"),
        delete: pick("delete"),
        stdin: pick("stdin"),
        logging: pick("logging"),
        interpreter: pick("interpreter"),
        dir: pick("dir"),
        environment: pick("environment"),
        addPreviousOutputInEnv: pick("addPreviousOutputInEnv"),
    };
}

function isStringList(value: WireValue): value is string[] {
    return Array.isArray(value) && value.every((entry) => typeof entry === "string" || isUnknown(entry));
}

/** A value's kind, never the value itself: it may be a secret. */
function describe(value: WireValue): string {
    if (Array.isArray(value)) return "a list";
    if (isObject(value)) return "an object";
    return typeof value === "number" ? "a number" : `a ${typeof value}`;
}
