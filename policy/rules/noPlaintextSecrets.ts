import { ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { UNKNOWN, describeResource, readKnown } from "../known";
import { isSecretKey, secretShapeOf } from "../secretLike";
import { TASK_DEFINITION } from "./imagesPinnedByDigest";

/** Where a plain-text secret sits and what gave it away; never the value itself. */
export interface SecretFinding {
    /** Path of the input, e.g. `environment.PGPASSWORD` or `containerDefinitions[0].environment[1].value`. */
    readonly field: string;
    readonly reason: string;
}

function isNameValuePair(value: object): value is { name: string; value: unknown } {
    return typeof readKnown(value, "name") === "string" && Object.prototype.hasOwnProperty.call(value, "value");
}

function checkText(text: string, field: string, key: string | undefined, findings: SecretFinding[]): void {
    if (key !== undefined && isSecretKey(key) && text.trim() !== "") {
        findings.push({ field, reason: `has a plain-text value under the secret-like name \`${key}\`` });
        return;
    }
    const shape = secretShapeOf(text);
    if (shape !== undefined) {
        findings.push({ field, reason: `holds ${shape} in plain text` });
    }
}

/**
 * Walks one input. `key` is the name the value is known by: its property name, the `name`
 * of a `{ name, value }` environment entry, or the `K` of a docker `K=V` env string.
 */
function visit(value: unknown, field: string, key: string | undefined, type: string, findings: SecretFinding[]): void {
    if (value === UNKNOWN || value === null || value === undefined) {
        return;
    }
    if (typeof value === "string") {
        if (type === TASK_DEFINITION && field === "containerDefinitions") {
            try {
                visit(JSON.parse(value), field, key, type, findings);
                return;
            } catch {
                // Not JSON: the text itself is all there is to check.
            }
        }
        checkText(value, field, key, findings);
        return;
    }
    if (Array.isArray(value)) {
        for (let index = 0; index < value.length; index++) {
            const item = readKnown(value, index);
            const itemField = `${field}[${index}]`;
            const separator = typeof item === "string" ? item.indexOf("=") : -1;
            if (key === "envs" && separator > 0) {
                const text = item as string;
                visit(text.slice(separator + 1), itemField, text.slice(0, separator), type, findings);
            } else {
                visit(item, itemField, key, type, findings);
            }
        }
        return;
    }
    if (typeof value === "object") {
        const pair = isNameValuePair(value);
        for (const property of Object.keys(value)) {
            const propertyField = field === "" ? property : `${field}.${property}`;
            const propertyKey = pair && property === "value" ? (value as { name: string }).name : property;
            visit(readKnown(value, property), propertyField, propertyKey, type, findings);
        }
    }
}

/**
 * Every plain-text secret in a resource's inputs. Top-level inputs listed in
 * `secretProperties` are skipped: `@pulumi/policy` hands policies the plain value of a
 * Pulumi secret, so a resource declares the inputs that carry secrets by listing them in
 * its `additionalSecretOutputs` option, which policies can see.
 */
export function plaintextSecrets(type: string, props: Record<string, unknown>, secretProperties: readonly string[]): SecretFinding[] {
    const findings: SecretFinding[] = [];
    for (const property of Object.keys(props)) {
        if (!secretProperties.includes(property)) {
            visit(readKnown(props, property), property, property, type, findings);
        }
    }
    return findings;
}

/** The violation message for one finding. */
export function secretViolationMessage(type: string, name: string, finding: SecretFinding): string {
    const property = /^[^.[]+/.exec(finding.field)?.[0] ?? finding.field;
    return (
        `\`${finding.field}\` of ${describeResource(type, name)} ${finding.reason}; pass secrets as Pulumi secrets ` +
        `(\`config.requireSecret\`, \`pulumi.secret\`) and list \`${property}\` in the resource's \`additionalSecretOutputs\``
    );
}

export const noPlaintextSecrets: ResourceValidationPolicy = {
    name: "no-plaintext-secrets",
    description: "No password, token, key or credentialed connection string sits in a resource's inputs as plain text.",
    enforcementLevel: "mandatory",
    validateResource: (args: ResourceValidationArgs, reportViolation) => {
        for (const finding of plaintextSecrets(args.type, args.props, args.opts.additionalSecretOutputs ?? [])) {
            reportViolation(secretViolationMessage(args.type, args.name, finding));
        }
    },
};
