/** The shape of `release:smoke`: standalone checks and ordered flows whose steps share captured values. */
import { isPlainObject } from "./values";

export const SMOKE_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"] as const;
export type SmokeMethod = (typeof SMOKE_METHODS)[number];

export const DEFAULT_TIMEOUT_MS = 5000;

export interface SmokeCheck {
    readonly name: string;
    readonly method: SmokeMethod;
    /** Starts with `/`; may use `{{var}}` captured by an earlier step of the same flow. */
    readonly path: string;
    readonly expectStatus: number;
    /** Dot path into the JSON response body → the exact JSON value expected there. */
    readonly expectJson?: Readonly<Record<string, unknown>>;
    /** Sent as JSON; strings inside may use `{{var}}`. */
    readonly body?: unknown;
    readonly headers: Readonly<Record<string, string>>;
    /** Sends `Authorization: Bearer $SMOKE_OPERATOR_TOKEN`. */
    readonly useOperatorToken: boolean;
    readonly timeoutMs: number;
    /** Variable name → dot path into the JSON response body; only inside flows. */
    readonly capture: Readonly<Record<string, string>>;
}

export interface SmokeFlow {
    readonly name: string;
    readonly steps: readonly SmokeCheck[];
}

export type SmokeItem = { readonly kind: "check"; readonly check: SmokeCheck } | { readonly kind: "flow"; readonly flow: SmokeFlow };

const CHECK_FIELDS = ["name", "method", "path", "expectStatus", "expectJson", "body", "headers", "useOperatorToken", "timeoutMs"];
const TEMPLATE = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;
const VARIABLE = /^[A-Za-z_][A-Za-z0-9_]*$/;

function describe(value: unknown): string {
    return value === undefined ? "nothing" : JSON.stringify(value);
}

/** Stack config arrives as a JSON string through the Automation API and as an object through `pulumi.Config`. */
export function fromJsonConfig(key: string, raw: unknown): unknown {
    if (typeof raw !== "string") return raw;
    try {
        return JSON.parse(raw);
    } catch {
        throw new Error(`\`${key}\` must be JSON; got ${JSON.stringify(raw.slice(0, 80))}`);
    }
}

/** Every `{{var}}` a string uses, in order. */
export function templateVariables(text: string): string[] {
    return [...text.matchAll(TEMPLATE)].map((match) => match[1]);
}

function variablesIn(value: unknown): string[] {
    if (typeof value === "string") return templateVariables(value);
    if (Array.isArray(value)) return value.flatMap(variablesIn);
    if (isPlainObject(value)) return Object.values(value).flatMap(variablesIn);
    return [];
}

function requireText(at: string, value: unknown, what: string): string {
    if (typeof value !== "string" || value.trim() === "") throw new Error(`\`${at}\` must be ${what}; got ${describe(value)}`);
    return value;
}

function parseCheck(at: string, raw: unknown, inFlow: boolean, known: Set<string>): SmokeCheck {
    if (!isPlainObject(raw)) throw new Error(`\`${at}\` must be an object with \`name\` and \`path\`; got ${describe(raw)}`);
    const allowed = inFlow ? [...CHECK_FIELDS, "capture"] : CHECK_FIELDS;
    for (const field of Object.keys(raw)) {
        if (!allowed.includes(field)) {
            const hint = field === "capture" ? " (`capture` is only valid in a flow's steps)" : "";
            throw new Error(`\`${at}.${field}\` is not a smoke check field${hint}; valid fields: ${allowed.join(", ")}`);
        }
    }
    const name = requireText(`${at}.name`, raw.name, "a non-empty string");
    const method = raw.method ?? "GET";
    if (!SMOKE_METHODS.includes(method as SmokeMethod)) {
        throw new Error(`\`${at}.method\` must be one of ${SMOKE_METHODS.join(", ")}; got ${describe(raw.method)}`);
    }
    const path = requireText(`${at}.path`, raw.path, "a path starting with `/`");
    if (!path.startsWith("/")) throw new Error(`\`${at}.path\` must be a path starting with \`/\`; got ${describe(path)}`);
    const expectStatus = raw.expectStatus ?? 200;
    if (!Number.isInteger(expectStatus) || (expectStatus as number) < 100 || (expectStatus as number) > 599) {
        throw new Error(`\`${at}.expectStatus\` must be an integer HTTP status from 100 to 599; got ${describe(raw.expectStatus)}`);
    }
    if (raw.expectJson !== undefined && !isPlainObject(raw.expectJson)) {
        throw new Error(
            `\`${at}.expectJson\` must be an object of dot paths to expected values, such as {"status":"ok"}; got ${describe(raw.expectJson)}`,
        );
    }
    const headers = raw.headers ?? {};
    if (!isPlainObject(headers) || Object.values(headers).some((v) => typeof v !== "string")) {
        throw new Error(`\`${at}.headers\` must be an object of header names to string values; got ${describe(raw.headers)}`);
    }
    // A literal credential in stack config would be readable by anyone with the repository; a captured one is not.
    if (Object.entries(headers).some(([h, v]) => h.toLowerCase() === "authorization" && templateVariables(v as string).length === 0)) {
        throw new Error(
            `\`${at}.headers\` must not hard-code Authorization; use \`useOperatorToken\` or a captured \`{{token}}\` in a flow`,
        );
    }
    const useOperatorToken = raw.useOperatorToken ?? false;
    if (typeof useOperatorToken !== "boolean")
        throw new Error(`\`${at}.useOperatorToken\` must be true or false; got ${describe(raw.useOperatorToken)}`);
    const timeoutMs = raw.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isInteger(timeoutMs) || (timeoutMs as number) < 1 || (timeoutMs as number) > 300000) {
        throw new Error(`\`${at}.timeoutMs\` must be an integer number of milliseconds from 1 to 300000; got ${describe(raw.timeoutMs)}`);
    }
    for (const [field, value] of [
        ["path", path],
        ["body", raw.body],
        ["headers", headers],
    ] as const) {
        for (const variable of variablesIn(value)) {
            if (known.has(variable)) continue;
            const captured = known.size > 0 ? [...known].join(", ") : "none";
            throw new Error(
                `\`${at}.${field}\` uses \`{{${variable}}}\`, which no earlier step of the flow captures; captured so far: ${captured}`,
            );
        }
    }
    const capture = parseCapture(`${at}.capture`, raw.capture);
    for (const variable of Object.keys(capture)) known.add(variable);
    return {
        name,
        method: method as SmokeMethod,
        path,
        expectStatus: expectStatus as number,
        expectJson: raw.expectJson as Record<string, unknown> | undefined,
        body: raw.body,
        headers: headers as Record<string, string>,
        useOperatorToken,
        timeoutMs: timeoutMs as number,
        capture,
    };
}

function parseCapture(at: string, raw: unknown): Record<string, string> {
    if (raw === undefined) return {};
    if (!isPlainObject(raw))
        throw new Error(`\`${at}\` must be an object of variable names to dot paths, such as {"projectId":"id"}; got ${describe(raw)}`);
    for (const [variable, path] of Object.entries(raw)) {
        if (!VARIABLE.test(variable))
            throw new Error(`\`${at}\` variable names must match [A-Za-z_][A-Za-z0-9_]*; got ${JSON.stringify(variable)}`);
        requireText(`${at}.${variable}`, path, "a dot path into the JSON response, such as data.id");
    }
    return raw as Record<string, string>;
}

/** Validates `release:smoke`; throws an `Error` naming the exact element and field at fault. */
export function parseSmokeConfig(raw: unknown, key = "release:smoke"): SmokeItem[] {
    const value = fromJsonConfig(key, raw);
    if (!Array.isArray(value) || value.length === 0) {
        throw new Error(`\`${key}\` must be a non-empty list of checks and flows; got ${describe(value)}`);
    }
    const seen = new Map<string, string>();
    return value.map((entry, index): SmokeItem => {
        const at = `${key}[${index}]`;
        const item: SmokeItem =
            isPlainObject(entry) && "steps" in entry
                ? { kind: "flow", flow: parseFlow(at, entry) }
                : { kind: "check", check: parseCheck(at, entry, false, new Set()) };
        const name = item.kind === "flow" ? item.flow.name : item.check.name;
        const earlier = seen.get(name);
        if (earlier) throw new Error(`\`${at}.name\` must be unique; ${JSON.stringify(name)} is already used by \`${earlier}\``);
        seen.set(name, at);
        return item;
    });
}

function parseFlow(at: string, raw: Record<string, unknown>): SmokeFlow {
    for (const field of Object.keys(raw)) {
        if (field !== "name" && field !== "steps")
            throw new Error(`\`${at}.${field}\` is not a flow field; a flow has only \`name\` and \`steps\``);
    }
    const name = requireText(`${at}.name`, raw.name, "a non-empty string");
    if (!Array.isArray(raw.steps) || raw.steps.length === 0) {
        throw new Error(`\`${at}.steps\` must be a non-empty list of checks; got ${describe(raw.steps)}`);
    }
    const known = new Set<string>();
    const steps = raw.steps.map((step, index) => parseCheck(`${at}.steps[${index}]`, step, true, known));
    const names = steps.map((s) => s.name);
    const duplicate = names.find((n, i) => names.indexOf(n) !== i);
    if (duplicate !== undefined) throw new Error(`\`${at}.steps\` step names must be unique; ${JSON.stringify(duplicate)} appears twice`);
    return { name, steps };
}
