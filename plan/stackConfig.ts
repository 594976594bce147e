import { isPlainObject } from "../core/values";
import { StackConfig } from "./mockProviders";

/*
 * js-yaml ships with @pulumi/pulumi and has no type declarations of its own;
 * `load` is all the plan needs. The core schema is YAML 1.2's, as the Pulumi CLI
 * reads stack files: `2026-11-22` stays text rather than becoming a date.
 */
const yaml: { load(text: string, options: { schema: unknown }): unknown; CORE_SCHEMA: unknown } = require("js-yaml");

/**
 * What an offline run cannot know: `secure:` values are encrypted for the
 * stack's secrets provider. Each one becomes this placeholder, marked secret,
 * and the plan never prints a config value. It is a URL because some secrets
 * (`release:notify.webhookUrl`) are checked to be one.
 */
export const SECRET_PLACEHOLDER = "https://secret.invalid/not-decrypted-offline";

/** Keys whose whole value, when `secure:`, is an object rather than text. */
const SECRET_OBJECT_PLACEHOLDERS: Record<string, unknown> = {
    "release:notify": { webhookUrl: SECRET_PLACEHOLDER },
};

/** A stack's config as `pulumi` would hand it to the program, with the keys to mark secret. */
export interface EvaluatedConfig {
    readonly config: StackConfig;
    readonly secretKeys: string[];
    /**
     * Secrets the config needs that the stack file does not hold: set once per
     * stack with `pulumi config set --secret`, often not committed. Offline they
     * are placeholders too, and the plan names them.
     */
    readonly assumedSecrets: string[];
}

/** A config file could not be read as YAML of the expected shape. */
export class StackFileError extends Error {}

/**
 * The defaults of the project's `config:` block (Pulumi.yaml). The CLI applies
 * them to every stack, so a key left out of a stack file still has its default.
 */
export function projectDefaults(projectText: string, file = "Pulumi.yaml"): StackConfig {
    const project = yamlObject(projectText, file);
    const name = project.name;
    if (typeof name !== "string" || name === "")
        throw new StackFileError(`\`name\` in ${file} must be the project name; got ${JSON.stringify(name)}`);
    const declared = optionalObject(project.config, `\`config\` in ${file}`);
    const defaults: StackConfig = {};
    for (const [key, declaration] of Object.entries(declared)) {
        const fullKey = key.includes(":") ? key : `${name}:${key}`;
        // A declaration is either an object (type, description, default) or the default itself.
        if (isPlainObject(declaration)) {
            if ("default" in declaration) defaults[fullKey] = declaration.default;
            else if ("value" in declaration) defaults[fullKey] = declaration.value;
        } else if (declaration !== null && declaration !== undefined) {
            defaults[fullKey] = declaration;
        }
    }
    return defaults;
}

/**
 * A stack file's `config:` on top of the project defaults. Each `secure:` value,
 * at the top or inside an object (`pulumi config set --secret --path`), becomes
 * `SECRET_PLACEHOLDER` and its top-level key is marked secret.
 */
export function evaluatedConfig(stackText: string, defaults: StackConfig, file: string): EvaluatedConfig {
    const stack = yamlObject(stackText, file);
    const values = optionalObject(stack.config, `\`config\` in ${file}`);
    const config: StackConfig = { ...defaults };
    const secretKeys: string[] = [];
    for (const [key, value] of Object.entries(values)) {
        if (isSecure(value) && SECRET_OBJECT_PLACEHOLDERS[key] !== undefined) {
            config[key] = SECRET_OBJECT_PLACEHOLDERS[key];
            secretKeys.push(key);
            continue;
        }
        const { plain, secret } = withPlaceholders(value);
        config[key] = plain;
        if (secret) secretKeys.push(key);
    }
    const assumedSecrets = neededSecrets(config).filter((key) => config[key] === undefined);
    for (const key of assumedSecrets) {
        config[key] = SECRET_PLACEHOLDER;
        secretKeys.push(key);
    }
    return { config, secretKeys: secretKeys.sort(), assumedSecrets };
}

/** The secret keys the program will read for this config. */
export function neededSecrets(config: StackConfig): string[] {
    const needed = new Set<string>();
    const migrate = config["release:migrate"];
    if (config["release:database"] !== undefined || (isPlainObject(migrate) && migrate.command !== undefined))
        needed.add("release:databaseUrl");
    const smoke = config["release:smoke"];
    const checks = Array.isArray(smoke)
        ? smoke.flatMap((item) => (isPlainObject(item) && Array.isArray(item.steps) ? item.steps : [item]))
        : [];
    if (checks.some((check) => isPlainObject(check) && check.useOperatorToken === true)) needed.add("release:smokeOperatorToken");
    const components = config["release:components"];
    for (const component of isPlainObject(components) ? Object.values(components) : []) {
        const refs = isPlainObject(component) && isPlainObject(component.secretEnv) ? Object.values(component.secretEnv) : [];
        for (const ref of refs)
            if (typeof ref === "string" && ref.startsWith("config:")) needed.add(`release:${ref.slice("config:".length)}`);
    }
    return [...needed].sort();
}

function withPlaceholders(value: unknown): { plain: unknown; secret: boolean } {
    if (isSecure(value)) return { plain: SECRET_PLACEHOLDER, secret: true };
    if (Array.isArray(value)) {
        const items = value.map(withPlaceholders);
        return { plain: items.map((i) => i.plain), secret: items.some((i) => i.secret) };
    }
    if (isPlainObject(value)) {
        const entries = Object.entries(value).map(([k, v]) => [k, withPlaceholders(v)] as const);
        return { plain: Object.fromEntries(entries.map(([k, i]) => [k, i.plain])), secret: entries.some(([, i]) => i.secret) };
    }
    return { plain: value, secret: false };
}

function isSecure(value: unknown): boolean {
    return isPlainObject(value) && Object.keys(value).length === 1 && typeof value.secure === "string";
}

function yamlObject(text: string, file: string): Record<string, unknown> {
    let parsed: unknown;
    try {
        parsed = yaml.load(text, { schema: yaml.CORE_SCHEMA });
    } catch (err) {
        // js-yaml's message quotes the lines around the mistake: a stack file's secrets are ciphertext, so this is safe.
        throw new StackFileError(`${file} is not valid YAML: ${(err as Error).message.split("\n")[0]}`);
    }
    if (parsed === undefined || parsed === null) return {};
    if (!isPlainObject(parsed))
        throw new StackFileError(`${file} must hold a YAML mapping; got ${Array.isArray(parsed) ? "a list" : typeof parsed}`);
    return parsed;
}

function optionalObject(value: unknown, what: string): Record<string, unknown> {
    if (value === undefined || value === null) return {};
    if (!isPlainObject(value))
        throw new StackFileError(`${what} must be a mapping of key → value; got ${Array.isArray(value) ? "a list" : typeof value}`);
    return value;
}
