import { Writable } from "stream";
import { envRedactor } from "./mask";

/**
 * What every AWS SDK v3 client of the ops programs and drivers is built with. The ops
 * programs take their environment as an argument (`io.env`, which is `process.env`
 * when run by hand), so the settings the SDK would read from `process.env` are read
 * from that environment instead; everything else is the SDK's own default: the
 * credential chain (environment, `AWS_PROFILE`/SSO/config files, container and
 * instance roles), the standard retry mode (throttling and transient errors retried
 * with backoff, `AWS_MAX_ATTEMPTS`) and the endpoint resolution.
 */
export interface AwsClientConfig {
    readonly region?: string;
    readonly endpoint?: string;
    readonly profile?: string;
    readonly maxAttempts?: number;
    readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string };
}

function setting(env: NodeJS.ProcessEnv, name: string): string | undefined {
    const value = env[name];
    return value !== undefined && value !== "" ? value : undefined;
}

/** The services the programs call, as the SDK names their endpoint variables (`AWS_ENDPOINT_URL_<SERVICE>`). */
export type AwsService = "S3" | "KMS" | "ECS" | "CLOUDWATCH" | "CLOUDWATCH_LOGS" | "RDS" | "ECR";

/**
 * The client settings that `env` names: `AWS_REGION` (or `AWS_DEFAULT_REGION`) unless
 * `region` overrides it for one client (a log group may live in another region than the
 * cluster); the endpoint of an AWS-compatible API, `AWS_ENDPOINT_URL_<SERVICE>` before
 * `AWS_ENDPOINT_URL` and neither with `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`, as the
 * SDK itself ranks them; `AWS_PROFILE`; `AWS_MAX_ATTEMPTS`; and keys from
 * `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` (`AWS_SESSION_TOKEN`), which head the
 * SDK's own chain too. Unset ones stay unset, so the SDK resolves them its usual way.
 */
export function awsClientConfig(env: NodeJS.ProcessEnv, service: AwsService, region?: string): AwsClientConfig {
    const accessKeyId = setting(env, "AWS_ACCESS_KEY_ID");
    const secretAccessKey = setting(env, "AWS_SECRET_ACCESS_KEY");
    const sessionToken = setting(env, "AWS_SESSION_TOKEN");
    const resolvedRegion = region ?? setting(env, "AWS_REGION") ?? setting(env, "AWS_DEFAULT_REGION");
    const endpoint =
        setting(env, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS") === "true"
            ? undefined
            : (setting(env, `AWS_ENDPOINT_URL_${service}`) ?? setting(env, "AWS_ENDPOINT_URL"));
    const profile = setting(env, "AWS_PROFILE");
    const attempts = Number(setting(env, "AWS_MAX_ATTEMPTS"));
    return {
        ...(resolvedRegion !== undefined ? { region: resolvedRegion } : {}),
        ...(endpoint !== undefined ? { endpoint } : {}),
        ...(profile !== undefined ? { profile } : {}),
        ...(Number.isInteger(attempts) && attempts > 0 ? { maxAttempts: attempts } : {}),
        ...(accessKeyId !== undefined && secretAccessKey !== undefined
            ? { credentials: { accessKeyId, secretAccessKey, ...(sessionToken !== undefined ? { sessionToken } : {}) } }
            : {}),
    };
}

/** An SDK client as far as the ops programs need it: closed when the run ends, so no socket holds the process. */
export interface Closable {
    destroy(): void;
}

/** Runs `use` with a fresh client and closes the client afterwards, also when `use` fails. */
export async function withClient<C extends Closable, T>(client: C, use: (client: C) => Promise<T>): Promise<T> {
    try {
        return await use(client);
    } finally {
        client.destroy();
    }
}

/**
 * `KMS DescribeKey failed: NotFoundException: Key '…' does not exist`: which call failed
 * and the service's own error code and text. The SDK's errors carry no credentials, but
 * the text is scrubbed of the environment's secrets all the same.
 */
export function awsErrorText(operation: string, err: unknown, env: NodeJS.ProcessEnv): string {
    const redact = envRedactor(env);
    if (err instanceof Error) {
        const name = err.name !== "Error" && err.name !== "" ? `${err.name}: ` : "";
        return redact(`${operation} failed: ${name}${err.message}`);
    }
    return redact(`${operation} failed: ${String(err)}`);
}

/** Calls AWS and turns a failure into an Error naming the operation (see `awsErrorText`). */
export async function awsCall<T>(operation: string, env: NodeJS.ProcessEnv, call: () => Promise<T>): Promise<T> {
    try {
        return await call();
    } catch (err) {
        throw new Error(awsErrorText(operation, err, env));
    }
}

export function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Progress lines on stderr, scrubbed of environment secrets. */
export function progress(name: string, stderr: Writable, env: NodeJS.ProcessEnv): (line: string) => void {
    const redact = envRedactor(env);
    return (line) => stderr.write(`${redact(`${name}: ${line}`)}\n`);
}

/** `12s`, `4m05s`: elapsed time as an operator reads it in a progress line. */
export function formatElapsed(ms: number): string {
    const seconds = Math.floor(ms / 1000);
    if (seconds < 60) return `${seconds}s`;
    return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, "0")}s`;
}
