import { ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { UNKNOWN, describeResource, quote, readKnown } from "../known";
import { isSecretKey, secretShapeOf } from "../secretLike";
import { TASK_DEFINITION } from "./imagesPinnedByDigest";

export const ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy";

/*
 * How the program marks the release runner (components/awsEcs/runnerTask.ts, runnerPolicy.ts); the pack
 * is loaded on its own, so the markers are repeated here rather than imported.
 */
/** The tag `safe-release:purpose` of the runner's task definition. */
export const RUNNER_PURPOSE = "release-runner";
/** The `name` of the runner task role's inline policy. */
export const RUNNER_TASK_POLICY_NAME = "safe-release-runner-task";
/** What the runner's tasks hold that must only ever come from `secrets`. */
export const RUNNER_SECRETS = ["DATABASE_URL", "SAFE_RELEASE_LEDGER_URL", "SMOKE_OPERATOR_TOKEN"];
/** Actions without resource-level permissions: IAM grants them only on `Resource: "*"`. */
export const WITHOUT_RESOURCE_LEVEL = ["ecs:DescribeTaskDefinition"];

/** Problems of the runner's container definitions: secrets as plain environment values, or secrets not named by ARN. */
export function runnerContainerProblems(containerDefinitions: string): string[] {
    let containers: unknown;
    try {
        containers = JSON.parse(containerDefinitions);
    } catch {
        return ["`containerDefinitions` must be a JSON array of container definitions; got text that is not JSON"];
    }
    if (!Array.isArray(containers)) return ["`containerDefinitions` must be a JSON array of container definitions"];
    const problems: string[] = [];
    containers.forEach((container, c) => {
        const environment = Array.isArray(container?.environment) ? container.environment : [];
        environment.forEach((entry: { name?: unknown; value?: unknown }, e: number) => {
            const field = `containerDefinitions[${c}].environment[${e}]`;
            const name = String(entry?.name ?? "");
            const shape = typeof entry?.value === "string" ? secretShapeOf(entry.value) : undefined;
            if (RUNNER_SECRETS.includes(name) || isSecretKey(name)) {
                problems.push(
                    `\`${field}\` sets \`${name}\` as a plain environment value; the runner must take it from \`secrets\` (a Secrets Manager ARN)`,
                );
            } else if (shape !== undefined) {
                problems.push(
                    `\`${field}\` (\`${name}\`) holds ${shape} in plain text; the runner must take it from \`secrets\` (a Secrets Manager ARN)`,
                );
            }
        });
        const secrets = Array.isArray(container?.secrets) ? container.secrets : [];
        secrets.forEach((entry: { name?: unknown; valueFrom?: unknown }, s: number) => {
            if (typeof entry?.valueFrom !== "string" || !entry.valueFrom.startsWith("arn:")) {
                problems.push(
                    `\`containerDefinitions[${c}].secrets[${s}].valueFrom\` of \`${String(entry?.name)}\` must be the ARN of a Secrets Manager secret or SSM parameter; got ${quote(entry?.valueFrom)}`,
                );
            }
        });
    });
    return problems;
}

const asList = (value: unknown): unknown[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** Problems of the runner task role's policy document: wildcard actions, `NotAction`/`NotResource`, `Resource: "*"` beyond the exceptions. */
export function runnerPolicyProblems(document: string): string[] {
    let parsed: { Statement?: unknown };
    try {
        parsed = JSON.parse(document);
    } catch {
        return ["`policy` must be a JSON policy document; got text that is not JSON"];
    }
    const problems: string[] = [];
    asList(parsed.Statement).forEach((raw, i) => {
        const statement = (raw ?? {}) as Record<string, unknown>;
        const where = `\`policy\` statement ${i}${typeof statement.Sid === "string" ? ` (${statement.Sid})` : ""}`;
        if (statement.Effect !== "Allow") return;
        for (const key of ["NotAction", "NotResource"]) {
            if (statement[key] !== undefined)
                problems.push(`${where} allows by \`${key}\`, which grants everything not listed; list the actions and resources instead`);
        }
        const actions = asList(statement.Action).map(String);
        const wild = actions.filter((a) => a.includes("*"));
        if (wild.length > 0) problems.push(`${where} allows ${wild.map((a) => `\`${a}\``).join(", ")}: name each action the runner needs`);
        const everything = asList(statement.Resource).map(String).includes("*");
        const scoped = actions.filter((a) => !WITHOUT_RESOURCE_LEVEL.includes(a));
        if (everything && scoped.length > 0) {
            problems.push(
                `${where} allows ${scoped.map((a) => `\`${a}\``).join(", ")} on \`Resource: "*"\`; only ` +
                    `${WITHOUT_RESOURCE_LEVEL.map((a) => `\`${a}\``).join(", ")} (no resource-level permission) may be; name the bucket prefix, key, task or role`,
            );
        }
    });
    return problems;
}

function validateTaskDefinition(args: ResourceValidationArgs, report: (message: string) => void): void {
    if (args.type !== TASK_DEFINITION) return;
    const tags = readKnown(args.props, "tags");
    if (tags === UNKNOWN || readKnown(tags, "safe-release:purpose") !== RUNNER_PURPOSE) return;
    const definitions = readKnown(args.props, "containerDefinitions");
    if (typeof definitions !== "string") return;
    for (const problem of runnerContainerProblems(definitions)) report(`${problem}, in ${describeResource(args.type, args.name)}`);
}

function validateTaskPolicy(args: ResourceValidationArgs, report: (message: string) => void): void {
    if (args.type !== ROLE_POLICY || readKnown(args.props, "name") !== RUNNER_TASK_POLICY_NAME) return;
    const document = readKnown(args.props, "policy");
    if (typeof document !== "string") return;
    for (const problem of runnerPolicyProblems(document)) report(`${problem}, in ${describeResource(args.type, args.name)}`);
}

export const releaseRunnerLimited: ResourceValidationPolicy = {
    name: "release-runner-least-privilege",
    description:
        "The release runner's task definition takes its secrets by ARN only, and its task role names every action and resource " +
        '(no `*` action, no `Resource: "*"` but for actions without resource-level permissions).',
    enforcementLevel: "mandatory",
    validateResource: [validateTaskDefinition, validateTaskPolicy],
};
