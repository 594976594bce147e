import {
    PolicyResource,
    PolicyResourceOptions,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
    unknownCheckingProxy,
} from "@pulumi/policy";

/** The sentinel the engine sends for a string that preview cannot know yet (as `@pulumi/policy/proxy` defines it). */
export const UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** Props as the policy server hands them over: wrapped so that reading an unknown throws. */
export function engineProps(props: Record<string, unknown>): Record<string, any> {
    return unknownCheckingProxy(props);
}

export function urnOf(type: string, name: string): string {
    return `urn:pulumi:prod::safe-release::${type}::${name}`;
}

export function resourceOptions(overrides: Partial<PolicyResourceOptions> = {}): PolicyResourceOptions {
    return {
        protect: false,
        ignoreChanges: [],
        aliases: [],
        customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
        additionalSecretOutputs: [],
        ...overrides,
    };
}

function notApplicable(reason?: string): never {
    throw new Error(`not applicable: ${reason ?? ""}`);
}

export interface ResourceSpec {
    type: string;
    name: string;
    props: Record<string, unknown>;
    opts?: Partial<PolicyResourceOptions>;
    config?: object;
}

/** Hand-built `ResourceValidationArgs`, shaped like the policy server builds them. */
export function resourceArgs(spec: ResourceSpec): ResourceValidationArgs {
    const props = engineProps(spec.props);
    return {
        type: spec.type,
        props,
        urn: urnOf(spec.type, spec.name),
        name: spec.name,
        opts: resourceOptions(spec.opts),
        stackTags: new Map<string, string>(),
        isType: () => false,
        asType: () => undefined,
        getConfig: <T extends object>() => (spec.config ?? {}) as T,
        notApplicable,
    };
}

/** A `reportViolation` spy: every call, in order, as `[message, urn]`. */
export function violationSpy(): { report: ReportViolation; calls: Array<[string, string | undefined]> } {
    const calls: Array<[string, string | undefined]> = [];
    return {
        report: (message: string, urn?: string) => {
            calls.push([message, urn]);
        },
        calls,
    };
}

/** Runs a resource policy's validation the way the server does and returns the reported messages. */
export async function resourceViolations(policy: ResourceValidationPolicy, spec: ResourceSpec): Promise<string[]> {
    const spy = violationSpy();
    const validations = Array.isArray(policy.validateResource) ? policy.validateResource : [policy.validateResource!];
    for (const validate of validations) {
        await validate(resourceArgs(spec), spy.report);
    }
    return spy.calls.map(([message]) => message);
}

export interface StackNodeSpec {
    type: string;
    name: string;
    props?: Record<string, unknown>;
    parent?: PolicyResource;
    dependencies?: PolicyResource[];
}

/** Hand-built `PolicyResource` for stack validations. */
export function stackResource(spec: StackNodeSpec): PolicyResource {
    return {
        type: spec.type,
        props: engineProps(spec.props ?? {}),
        urn: urnOf(spec.type, spec.name),
        name: spec.name,
        opts: resourceOptions(spec.parent ? { parent: spec.parent.urn } : {}),
        parent: spec.parent,
        dependencies: spec.dependencies ?? [],
        propertyDependencies: {},
        isType: () => false,
        asType: () => undefined,
    };
}

/** Runs a stack policy over resources and returns every `[message, urn]` it reported. */
export async function stackViolations(
    policy: StackValidationPolicy,
    resources: PolicyResource[],
    config: object = {},
): Promise<Array<[string, string | undefined]>> {
    const spy = violationSpy();
    const args: StackValidationArgs = {
        resources,
        stackTags: new Map<string, string>(),
        getConfig: <T extends object>() => config as T,
        notApplicable,
    };
    await policy.validateStack(args, spy.report);
    return spy.calls;
}
