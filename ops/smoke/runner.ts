import { SmokeCheck, SmokeItem } from "../../core/smokeConfig";
import { jsonEqual, substitute, valueAtPath } from "./json";
import { firstBytes, maskSecrets } from "../../core/mask";

export const BODY_EXCERPT_BYTES = 500;

export interface SmokeResult {
    /** `check`, or `flow/step` for a flow's steps. */
    readonly name: string;
    readonly method: string;
    /** The request path after `{{var}}` substitution, secrets masked; never headers. */
    readonly path: string;
    /** Null when no response arrived (timeout, connection error) or the step was skipped. */
    readonly status: number | null;
    readonly durationMs: number;
    readonly ok: boolean;
    /** True for flow steps not run because an earlier step failed. */
    readonly skipped?: boolean;
    readonly error?: string;
}

export interface SmokeReport {
    readonly ok: boolean;
    readonly passed: number;
    readonly failed: number;
    readonly results: readonly SmokeResult[];
}

export interface SmokeOptions {
    /** e.g. `https://staging.example.com` or `http://127.0.0.1:8080/api`; check paths are appended. */
    readonly baseUrl: string;
    /** Sent with every request, e.g. `X-Release-Target: v1.5.0` to pin the new version. */
    readonly headers?: Readonly<Record<string, string>>;
    /** From `SMOKE_OPERATOR_TOKEN`; masked wherever a response echoes it. */
    readonly operatorToken?: string;
    readonly onProgress?: (line: string) => void;
}

const SECRET_NAME = /token|password|passwd|secret|api[_-]?key/i;

/** Captured values that are credentials: named so by their variable or by the field they came from. */
export function isSecretCapture(variable: string, path: string): boolean {
    return SECRET_NAME.test(variable) || SECRET_NAME.test(path.split(".").pop() ?? "");
}

/** Checks that need the operator token, so a missing token fails before any request is sent. */
export function checksNeedingOperatorToken(items: readonly SmokeItem[]): string[] {
    return items.flatMap((item) =>
        item.kind === "check"
            ? item.check.useOperatorToken
                ? [item.check.name]
                : []
            : item.flow.steps.filter((s) => s.useOperatorToken).map((s) => `${item.flow.name}/${s.name}`),
    );
}

export async function runSmoke(items: readonly SmokeItem[], options: SmokeOptions): Promise<SmokeReport> {
    const needing = checksNeedingOperatorToken(items);
    if (needing.length > 0 && !options.operatorToken) {
        throw new Error(
            `\`SMOKE_OPERATOR_TOKEN\` is not set; ${needing.map((n) => `\`${n}\``).join(", ")} need the operator token (\`release:smokeOperatorToken\`)`,
        );
    }
    const secrets = options.operatorToken ? [options.operatorToken] : [];
    const results: SmokeResult[] = [];
    for (const item of items) {
        if (item.kind === "check") {
            results.push((await runCheck(item.check, item.check.name, new Map(), secrets, options)).result);
            continue;
        }
        const variables = new Map<string, string>();
        let failedStep: string | undefined;
        for (const step of item.flow.steps) {
            const label = `${item.flow.name}/${step.name}`;
            if (failedStep !== undefined) {
                const error = `smoke check \`${label}\` skipped: earlier step \`${failedStep}\` failed`;
                results.push({
                    name: label,
                    method: step.method,
                    path: step.path,
                    status: null,
                    durationMs: 0,
                    ok: false,
                    skipped: true,
                    error,
                });
                options.onProgress?.(`skip ${step.method} ${step.path}  (${label})`);
                continue;
            }
            const { result } = await runCheck(step, label, variables, secrets, options);
            results.push(result);
            if (!result.ok) failedStep = step.name;
        }
    }
    const passed = results.filter((r) => r.ok).length;
    return { ok: passed === results.length, passed, failed: results.length - passed, results };
}

interface Exchange {
    readonly status: number | null;
    readonly body: string;
    /** Why no response arrived. */
    readonly transportError?: string;
}

async function exchange(url: string, init: RequestInit, timeoutMs: number): Promise<Exchange> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    try {
        // The timeout covers the whole body too: a server that sends headers and then stalls still fails.
        const response = await fetch(url, { ...init, signal: controller.signal, redirect: "manual" });
        return { status: response.status, body: await response.text() };
    } catch (err) {
        if (controller.signal.aborted) return { status: null, body: "", transportError: `did not respond within ${timeoutMs} ms` };
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        return { status: null, body: "", transportError: `could not be sent: ${cause?.code ?? cause?.message ?? (err as Error).message}` };
    } finally {
        clearTimeout(timer);
    }
}

/** Why a response does not meet the check, or undefined when it does; `variables` receives the captures. */
export function judgeResponse(
    check: SmokeCheck,
    status: number,
    body: string,
    variables: Map<string, string>,
    secrets: string[],
): string | undefined {
    if (status !== check.expectStatus) return `returned ${status}, expected ${check.expectStatus}`;
    const needsJson = check.expectJson !== undefined || Object.keys(check.capture).length > 0;
    if (!needsJson) return undefined;
    let document: unknown;
    try {
        document = JSON.parse(body);
    } catch {
        return `returned ${status} but the response body is not JSON`;
    }
    for (const [path, expected] of Object.entries(check.expectJson ?? {})) {
        const actual = valueAtPath(document, path);
        if (!jsonEqual(actual, expected)) {
            const got = actual === undefined ? "missing" : JSON.stringify(actual);
            return `returned ${status} but \`${path}\` is ${got}, expected ${JSON.stringify(expected)}`;
        }
    }
    for (const [variable, path] of Object.entries(check.capture)) {
        const value = valueAtPath(document, path);
        if (typeof value !== "string" && typeof value !== "number") {
            return `returned ${status} but capture \`${variable}\` found no string or number at \`${path}\``;
        }
        variables.set(variable, String(value));
        if (isSecretCapture(variable, path)) secrets.push(String(value));
    }
    return undefined;
}

async function runCheck(
    check: SmokeCheck,
    label: string,
    variables: Map<string, string>,
    secrets: string[],
    options: SmokeOptions,
): Promise<{ result: SmokeResult }> {
    const path = substitute(check.path, variables, true);
    const headers: Record<string, string> = { ...options.headers, ...substitute(check.headers, variables) };
    if (check.useOperatorToken) headers.Authorization = `Bearer ${options.operatorToken}`;
    let body: string | undefined;
    if (check.body !== undefined) {
        body = JSON.stringify(substitute(check.body, variables));
        headers["Content-Type"] = "application/json";
    }
    const url = `${options.baseUrl.replace(/\/+$/, "")}${path}`;
    const started = process.hrtime.bigint();
    const reply = await exchange(url, { method: check.method, headers, body }, check.timeoutMs);
    const durationMs = Math.round(Number(process.hrtime.bigint() - started) / 1e5) / 10;
    const shownPath = maskSecrets(path, secrets);
    const problem = reply.transportError ?? judgeResponse(check, reply.status!, reply.body, variables, secrets);
    let error: string | undefined;
    if (problem !== undefined) {
        error = `smoke check \`${label}\` failed: ${check.method} ${shownPath} ${problem}`;
        if (reply.status !== null) {
            const excerpt = firstBytes(maskSecrets(reply.body, secrets), BODY_EXCERPT_BYTES);
            error += `; response body (first ${BODY_EXCERPT_BYTES} bytes, secrets masked): ${excerpt}`;
        }
        error = maskSecrets(error, secrets);
    }
    const ok = error === undefined;
    options.onProgress?.(`${ok ? "ok  " : "FAIL"} ${check.method} ${shownPath} ${reply.status ?? "-"} ${durationMs} ms  (${label})`);
    return {
        result: { name: label, method: check.method, path: shownPath, status: reply.status, durationMs, ok, ...(error ? { error } : {}) },
    };
}
