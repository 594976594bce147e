import * as assert from "assert";
import * as fs from "fs";
import { PolicyResource, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { evaluatedConfig, projectDefaults } from "../../plan/stackConfig";
import { policies } from "../../policy/policies";
import { makeStateRetainedInProduction } from "../../policy/rules/stateRetainedInProduction";
import { dockerConfig } from "../support/dockerFixtures";
import { isSecret } from "../support/inspect";
import { ProgramRun, RecordedResource, runProgram } from "../support/mockEngine";
import { StackConfig } from "../support/mockProviders";
import { engineProps, resourceOptions, violationSpy } from "./policyArgs";

/** Secret inputs reach a policy as plain values (`@pulumi/policy` does not mark them): unwrap them the same way. */
function asPolicySees(value: unknown): unknown {
    if (isSecret(value)) return asPolicySees((value as { value: unknown }).value);
    if (Array.isArray(value)) return value.map(asPolicySees);
    if (typeof value === "object" && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, asPolicySees(v)]));
    return value;
}

function policyResources(run: ProgramRun): Map<string, PolicyResource> {
    const byUrn = new Map<string, PolicyResource>();
    const recorded = [...run.resources.values()];
    for (const r of recorded) {
        byUrn.set(r.urn, {
            type: r.type,
            name: r.name,
            urn: r.urn,
            props: engineProps(asPolicySees(r.inputs) as Record<string, unknown>),
            opts: resourceOptions({
                protect: r.protect,
                additionalSecretOutputs: r.additionalSecretOutputs,
                ...(r.parent ? { parent: r.parent } : {}),
            }),
            dependencies: [],
            propertyDependencies: {},
            isType: () => false,
            asType: () => undefined,
        });
    }
    for (const r of recorded) {
        const node = byUrn.get(r.urn)! as { dependencies: PolicyResource[]; parent?: PolicyResource };
        node.dependencies = r.dependencies.map((urn) => byUrn.get(urn)).filter((d): d is PolicyResource => d !== undefined);
        node.parent = byUrn.get(r.parent);
    }
    return byUrn;
}

/** Every violation the pack reports for what the program registered, as `[policy, message]`. */
async function violations(run: ProgramRun, stack: string): Promise<Array<[string, string]>> {
    const found: Array<[string, string]> = [];
    const resources = policyResources(run);
    const pack = policies.map((p) => (p.name === "state-retained-in-production" ? makeStateRetainedInProduction(() => stack) : p));
    for (const policy of pack) {
        const spy = violationSpy();
        if ("validateResource" in policy && policy.validateResource !== undefined) {
            const validations = [(policy as ResourceValidationPolicy).validateResource].flat();
            for (const resource of resources.values()) {
                const record: RecordedResource = run.resources.get(resource.urn)!;
                for (const validate of validations) {
                    await validate!(
                        {
                            type: resource.type,
                            props: resource.props,
                            urn: resource.urn,
                            name: record.name,
                            opts: resource.opts,
                            stackTags: new Map(),
                            isType: () => false,
                            asType: () => undefined,
                            getConfig: <T extends object>() => ({}) as T,
                            notApplicable: () => {
                                throw new Error("not applicable");
                            },
                        },
                        spy.report,
                    );
                }
            }
        }
        if ("validateStack" in policy && policy.validateStack !== undefined) {
            await (policy as StackValidationPolicy).validateStack(
                {
                    resources: [...resources.values()],
                    stackTags: new Map(),
                    getConfig: <T extends object>() => ({}) as T,
                    notApplicable: () => {
                        throw new Error("not applicable");
                    },
                },
                spy.report,
            );
        }
        found.push(...spy.calls.map(([message]) => [policy.name, message] as [string, string]));
    }
    return found;
}

async function stackRun(stack: string, overrides: StackConfig = {}): Promise<ProgramRun> {
    const config = evaluatedConfig(
        fs.readFileSync(`Pulumi.${stack}.yaml`, "utf8"),
        projectDefaults(fs.readFileSync("Pulumi.yaml", "utf8")),
        `Pulumi.${stack}.yaml`,
    );
    const first = await runProgram({ config: config.config, secretKeys: config.secretKeys, stack });
    const release: StackConfig = {
        ...config.config,
        "release:version": "v1.5.0",
        "release:previous": "v1.4.2",
        "release:canaryWeight": 0,
        ...overrides,
    };
    const pinned = release["release:digests"] as Record<string, unknown>;
    const digests = { ...pinned, "v1.5.0": pinned["v1.4.2"] };
    return runProgram({
        config: { ...release, "release:digests": digests },
        secretKeys: config.secretKeys,
        stack,
        lastOutputs: first.outputs,
    });
}

describe("the program under its own policy pack", () => {
    it("prod, starting a release with every data step, violates no policy", async () => {
        const run = await stackRun("prod");
        assert.ok(
            [...run.resources.values()].some((r) => r.type === "safe-release:data:Migration"),
            "the release migrates",
        );
        assert.deepEqual(await violations(run, "prod"), []);
    });

    it("docker-host with secrets and a migration violates no policy", async () => {
        const config = dockerConfig({
            "release:version": "v1.5.0",
            "release:previous": "v1.4.2",
            "release:databaseUrl": "postgres://shop:pw@db/shop",
            "release:migrate": { command: "npx prisma migrate deploy", component: "api", quiesce: ["worker"] },
        });
        (config["release:components"] as any).api.secretEnv = { DATABASE_URL: "config:databaseUrl" };
        const run = await runProgram({ config, secretKeys: ["release:databaseUrl"], stack: "prod" });
        assert.deepEqual(await violations(run, "prod"), []);
    });

    it("would be caught: a release runner whose task role reaches every bucket, or whose database URL is plain", async () => {
        const run = await stackRun("prod");
        const policy = [...run.resources.values()].find(
            (r) => r.type === "aws:iam/rolePolicy:RolePolicy" && r.name === "shop-ecs-runner-task",
        )!;
        policy.inputs.policy = policy.inputs.policy.replace('"arn:aws:s3:::acme-shop-backups-prod/shop/*"', '"*"');
        const runner = [...run.resources.values()].find(
            (r) => r.type === "aws:ecs/taskDefinition:TaskDefinition" && r.name === "shop-ecs-runner",
        )!;
        runner.inputs.containerDefinitions = runner.inputs.containerDefinitions.replace(
            '"environment":[',
            '"environment":[{"name":"DATABASE_URL","value":"postgres://shop@db/shop"},',
        );
        assert.deepEqual(
            (await violations(run, "prod")).map(([policy]) => policy),
            ["release-runner-least-privilege", "release-runner-least-privilege"],
        );
    });

    it("would be caught: an unpinned container image", async () => {
        const run = await stackRun("prod");
        const task = [...run.resources.values()].find((r) => r.type === "aws:ecs/taskDefinition:TaskDefinition")!;
        task.inputs.containerDefinitions = task.inputs.containerDefinitions.replace(/@sha256:[0-9a-f]{64}/, ":latest");
        assert.deepEqual(
            (await violations(run, "prod")).map(([policy]) => policy),
            ["images-pinned-by-digest"],
        );
    });
});
