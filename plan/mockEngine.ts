import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import { StackConfig, mockCall, mockState } from "./mockProviders";

/** One resource as the engine would have seen it: its inputs and the options that decide order and lifecycle. */
export interface RecordedResource {
    readonly urn: string;
    readonly type: string;
    readonly name: string;
    readonly custom: boolean;
    readonly parent: string;
    readonly inputs: Record<string, any>;
    /** URNs of explicit `dependsOn` and of resources whose outputs feed the inputs. */
    readonly dependencies: string[];
    readonly protect: boolean;
    readonly retainOnDelete: boolean;
    /** Inputs the resource marks secret (`additionalSecretOutputs`): what the policy pack reads as secret. */
    readonly additionalSecretOutputs: string[];
}

export interface ProgramRun {
    /** Registered resources (not reads such as the stack's self-reference), by URN. */
    readonly resources: Map<string, RecordedResource>;
    /** Stack outputs, awaited. */
    readonly outputs: Record<string, any>;
}

/** A failed evaluation: the program's own error, plus the URNs registered before it was raised. */
export interface ProgramError extends Error {
    readonly registered: string[];
}

export interface RunOptions {
    /** Stack config; a key whose value is `undefined` is left unset. */
    readonly config: StackConfig;
    /** Keys of `config` to mark secret, as `pulumi config set --secret` would. */
    readonly secretKeys?: string[];
    /** Outputs of the last update, served to the program's read of its own stack. */
    readonly lastOutputs?: Record<string, unknown>;
    /** `repo:tag` → digest answered by the registry look-up. */
    readonly registry?: Record<string, string>;
    /** The answer for an image `registry` does not list; without it, such a look-up fails. */
    readonly unlistedDigest?: (image: string) => string;
    readonly stack?: string;
    /** Evaluate as `pulumi preview` (true) or `pulumi up` (false). @default true */
    readonly preview?: boolean;
}

/** A mock monitor that also records parents, dependencies and lifecycle options, which plain mocks drop. */
class RecordingMonitor extends MockMonitor {
    public readonly recorded = new Map<string, RecordedResource>();

    async registerResource(req: any, callback: (err: any, response: any) => void): Promise<void> {
        await super.registerResource(req, (err: any, response: any) => {
            if (!err) {
                this.recorded.set(response.getUrn(), {
                    urn: response.getUrn(),
                    type: req.getType(),
                    name: req.getName(),
                    custom: req.getCustom(),
                    parent: req.getParent(),
                    inputs: pulumi.runtime.deserializeProperties(req.getObject()),
                    dependencies: [...req.getDependenciesList()].sort(),
                    protect: req.getProtect() === true,
                    retainOnDelete: req.getRetainondelete() === true,
                    additionalSecretOutputs: [...req.getAdditionalsecretoutputsList()],
                });
            }
            callback(err, response);
        });
    }
}

/**
 * Runs the program (`index.ts`) once under the SDK's mocks with the given stack
 * config, and returns what it registered and exported. Runs are independent, so
 * one process can evaluate the old and the new config of a transition: the
 * tests do, and so does the offline release plan.
 */
export async function runProgram(options: RunOptions): Promise<ProgramRun> {
    const monitor = new RecordingMonitor({
        newResource: (args) => mockState(args, options.lastOutputs ?? {}),
        call: (args) => mockCall(args, options.registry ?? {}, options.unlistedDigest),
    });
    const [project, stack, preview] = ["release", options.stack ?? "staging", options.preview ?? true];
    // `setMocks` turns on the engine features a real CLI has; the recording monitor then takes its place.
    await pulumi.runtime.setMocks(monitor.mocks, project, stack, preview, "organization");
    pulumi.runtime.setMockOptions(monitor, project, stack, preview, "organization");
    pulumi.runtime.setAllConfig(configStrings(options.config), options.secretKeys ?? []);
    // index.ts exports the program as a function, so every run evaluates it anew; this machine is not the stack's.
    (require("../config") as typeof import("../config")).skipMachineChecks();
    // Nor is its database: a mocked program reads no migration ledger (the stack's URL names another network's host).
    (require("../components/schemaHeadCheck") as typeof import("../components/schemaHeadCheck")).skipLedgerRead();
    // Nor an S3 backup store: its records are what the recorded outputs say.
    (require("../components/lastRelease") as typeof import("../components/lastRelease")).readStoresOffline();
    const program: () => Promise<Record<string, unknown>> = require("../index");
    const settle = () => (require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> }).waitForRPCs();
    const registered = () => new Map([...monitor.recorded].filter(([, r]) => r.type !== "pulumi:pulumi:Stack"));
    let outputs: Record<string, unknown> | undefined;
    try {
        outputs = await pulumi.runtime.runInPulumiStack(program);
    } catch (err) {
        await settle();
        throw Object.assign(err as Error, { registered: [...registered().keys()] });
    }
    await settle();
    const resources = registered();
    return { resources, outputs: await resolveOutputs(outputs ?? {}) };
}

/** Config as the CLI hands it to a program: text, with numbers, booleans, objects and lists as JSON; unset keys left out. */
export function configStrings(config: StackConfig): Record<string, string> {
    return Object.fromEntries(
        Object.entries(config)
            .filter(([, v]) => v !== undefined)
            .map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]),
    );
}

async function resolveOutputs(outputs: Record<string, unknown>): Promise<Record<string, any>> {
    const resolved: Record<string, any> = {};
    for (const [key, value] of Object.entries(outputs)) {
        resolved[key] = await new Promise((resolve) => pulumi.output(value as pulumi.Input<any>).apply(resolve));
    }
    return resolved;
}
