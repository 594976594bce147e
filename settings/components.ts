import {
    ConfigError,
    fail,
    optionalInteger,
    optionalString,
    optionalStringList,
    optionalStringMap,
    rejectUnknownKeys,
    requireObject,
    requireString,
} from "./checks";

export type ComponentRole = "web" | "worker";

/** One container of the service, as declared under `release:components`. */
export interface ComponentSpec {
    readonly name: string;
    /** Repository only (`ghcr.io/acme/api`); the tag is the release version, the digest is pinned. */
    readonly image: string;
    readonly role: ComponentRole;
    /** Container port that takes traffic; web components only. */
    readonly port?: number;
    /** Path the load balancer and health gates probe; web components only. @default "/healthz" */
    readonly healthPath: string;
    /**
     * Path prefix routed to this component when several web components share the
     * listener (`/api`). Exactly one web component has none: it takes everything else.
     */
    readonly pathPrefix?: string;
    /** Overrides the image's command, e.g. a Celery worker started from the app image. */
    readonly command?: string[];
    /** Fargate CPU units. @default 256 */
    readonly cpu: number;
    /** Fargate memory in MiB. @default 512 */
    readonly memory: number;
    /** Containers per live version. @default 1 */
    readonly desiredCount: number;
    readonly env: Record<string, string>;
    /** Env var name → reference to a secret (see `parseSecretReference`); never a value. */
    readonly secretEnv: Record<string, string>;
}

export const COMPONENT_KEYS = [
    "image",
    "role",
    "port",
    "healthPath",
    "pathPrefix",
    "command",
    "cpu",
    "memory",
    "desiredCount",
    "env",
    "secretEnv",
] as const;

const COMPONENT_NAME = /^[a-z][a-z0-9-]{0,19}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** A Docker repository: optional registry host[:port], then lower-case path components. */
const REPOSITORY =
    /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?(?::\d+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
/** Memory (MiB) that Fargate accepts for each CPU size. */
const FARGATE_MEMORY: Record<number, { min: number; max: number; step: number }> = {
    256: { min: 512, max: 2048, step: 512 },
    512: { min: 1024, max: 4096, step: 1024 },
    1024: { min: 2048, max: 8192, step: 1024 },
    2048: { min: 4096, max: 16384, step: 1024 },
    4096: { min: 8192, max: 30720, step: 1024 },
    8192: { min: 16384, max: 61440, step: 4096 },
    16384: { min: 32768, max: 122880, step: 8192 },
};

export function parseImageRepository(key: string, value: unknown): string {
    const image = requireString(key, value);
    const lastSegment = image.slice(image.lastIndexOf("/") + 1);
    if (image.includes("@")) {
        fail(key, "a repository without a digest; digests are pinned per version in `release:digests`", image);
    }
    if (lastSegment.includes(":")) {
        fail(key, "a repository without a tag (tags such as `:latest` can move; the version comes from `release:version`)", image);
    }
    if (!REPOSITORY.test(image)) fail(key, "an image repository such as `ghcr.io/acme/api` (lower-case path)", image);
    return image;
}

export function parseComponents(value: unknown): ComponentSpec[] {
    const key = "release:components";
    const components = requireObject(key, value);
    const names = Object.keys(components).sort();
    if (names.length === 0) fail(key, "an object with at least one component", value);
    const specs = names.map((name) => parseComponent(name, components[name]));
    checkWebRouting(specs);
    return specs;
}

function parseComponent(name: string, value: unknown): ComponentSpec {
    const key = `release:components.${name}`;
    if (!COMPONENT_NAME.test(name)) {
        fail(key, "named with lower-case letters, digits and `-`, starting with a letter, at most 20 characters", name);
    }
    const raw = requireObject(key, value);
    rejectUnknownKeys(key, raw, COMPONENT_KEYS);
    const role = raw.role ?? "web";
    if (role !== "web" && role !== "worker") fail(`${key}.role`, '"web" or "worker"', role);
    const port = optionalInteger(`${key}.port`, raw.port, 1, 65535);
    if (role === "web" && port === undefined)
        fail(`${key}.port`, "set for a web component (the container port that takes traffic)", undefined);
    if (role === "worker") {
        for (const webOnly of ["port", "healthPath", "pathPrefix"] as const) {
            if (raw[webOnly] !== undefined) {
                throw new ConfigError(`\`${key}.${webOnly}\` applies only to web components; remove it or set \`${key}.role\` to "web"`);
            }
        }
    }
    const healthPath = optionalString(`${key}.healthPath`, raw.healthPath) ?? "/healthz";
    if (!/^\/[^\s]*$/.test(healthPath)) fail(`${key}.healthPath`, "a path starting with `/`", healthPath);
    const pathPrefix = optionalString(`${key}.pathPrefix`, raw.pathPrefix);
    if (pathPrefix !== undefined && !/^\/[A-Za-z0-9._~\/-]*[A-Za-z0-9._~-]$/.test(pathPrefix)) {
        fail(`${key}.pathPrefix`, "a path such as `/api` (starts with `/`, no trailing `/`, no wildcards)", pathPrefix);
    }
    const cpu = optionalInteger(`${key}.cpu`, raw.cpu, 256, 16384) ?? 256;
    const memoryRule = FARGATE_MEMORY[cpu];
    if (!memoryRule) fail(`${key}.cpu`, `one of the Fargate sizes ${Object.keys(FARGATE_MEMORY).join(", ")}`, raw.cpu);
    const memory = optionalInteger(`${key}.memory`, raw.memory, 512, 122880) ?? memoryRule.min;
    if (memory < memoryRule.min || memory > memoryRule.max || (memory - memoryRule.min) % memoryRule.step !== 0) {
        fail(
            `${key}.memory`,
            `a Fargate memory size for ${cpu} CPU units: ${memoryRule.min} to ${memoryRule.max} MiB in steps of ${memoryRule.step}`,
            raw.memory,
        );
    }
    const command = optionalStringList(`${key}.command`, raw.command);
    return {
        name,
        image: parseImageRepository(`${key}.image`, raw.image),
        role,
        ...(port !== undefined && role === "web" ? { port } : {}),
        healthPath,
        ...(pathPrefix !== undefined ? { pathPrefix } : {}),
        ...(command !== undefined ? { command } : {}),
        cpu,
        memory,
        desiredCount: optionalInteger(`${key}.desiredCount`, raw.desiredCount, 1, 100) ?? 1,
        env: optionalStringMap(`${key}.env`, raw.env, ENV_NAME, "an environment variable (letters, digits, `_`)"),
        secretEnv: parseSecretEnv(`${key}.secretEnv`, raw.secretEnv),
    };
}

/**
 * A secret env var names where its value lives, never the value: an ARN of a
 * Secrets Manager secret or SSM parameter (read by ECS at task start), or
 * `config:<key>` for a secret in this stack's config (`pulumi config set --secret release:<key>`).
 */
function parseSecretEnv(key: string, value: unknown): Record<string, string> {
    const refs = optionalStringMap(key, value, ENV_NAME, "an environment variable (letters, digits, `_`)");
    for (const [name, ref] of Object.entries(refs)) {
        if (!/^arn:aws[a-z-]*:(secretsmanager|ssm):/.test(ref) && !/^config:[A-Za-z][A-Za-z0-9]*$/.test(ref)) {
            fail(
                `${key}.${name}`,
                "a secret reference: an `arn:aws:secretsmanager:…` or `arn:aws:ssm:…` ARN, or `config:<key>` naming a secret in `release:`",
                ref,
            );
        }
    }
    return refs;
}

/** Several web components share one listener: one takes the default route, the others a distinct prefix. */
function checkWebRouting(specs: ComponentSpec[]): void {
    const web = specs.filter((s) => s.role === "web");
    const defaults = web.filter((s) => s.pathPrefix === undefined);
    if (web.length > 0 && defaults.length !== 1) {
        throw new ConfigError(
            `\`release:components\` must have exactly one web component without \`pathPrefix\` (it takes the default route); ` +
                `found ${defaults.length === 0 ? "none" : defaults.map((s) => `\`${s.name}\``).join(", ")}`,
        );
    }
    const seen = new Map<string, string>();
    for (const spec of web) {
        if (spec.pathPrefix === undefined) continue;
        const other = seen.get(spec.pathPrefix);
        if (other) fail(`release:components.${spec.name}.pathPrefix`, `different from \`${other}\`'s`, spec.pathPrefix);
        seen.set(spec.pathPrefix, spec.name);
    }
}
