import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { NO_RERUN, OPS } from "./data/opsCommand";
import { StepRunner, stepCommand, stepDependsOn } from "./data/stepRunner";
import { stepResource } from "../core/runbook";

export interface SmokeTestArgs {
    readonly version: string;
    /** Where the version answers on its own, before it takes any weight. */
    readonly baseUrl: pulumi.Output<string>;
    /** Headers that pin each request to the version (e.g. `X-Release-Target`). */
    readonly headers: Record<string, string>;
    /** The `release:smoke` list, passed on stdin (or inline where the runner has none: it holds no secret). */
    readonly checks: unknown;
    /** `release:smokeOperatorToken`, for checks with `useOperatorToken`. */
    readonly operatorToken?: pulumi.Output<string>;
    /** Where the checks run (a runner task inside the VPC, on aws-ecs). @default the machine running Pulumi */
    readonly runIn?: StepRunner;
}

/**
 * The runbooks' smoke tests against one new version, after its services are
 * healthy and before the listener may give it weight: a failed check fails the
 * update, naming the check, the request and the start of the response (secrets
 * masked), and the weights stay as they were. Runs once per version; a change to
 * the checks runs them again.
 */
export class SmokeTest extends pulumi.ComponentResource {
    public readonly run: command.local.Command;

    constructor(name: string, args: SmokeTestArgs, opts: pulumi.ComponentResourceOptions = {}) {
        super(stepResource("smoke").component, name, {}, opts);
        const checks = JSON.stringify(args.checks);
        const onStdin = args.runIn?.stdin ?? true;
        const argv = args.baseUrl.apply((baseUrl) => [
            ...OPS,
            "smoke",
            "--base-url",
            baseUrl,
            ...(onStdin ? ["--checks", "-"] : ["--checks-json", checks]),
            ...Object.entries(args.headers).flatMap(([header, value]) => ["--header", `${header}:${value}`]),
        ]);
        const environment = args.operatorToken !== undefined ? { SMOKE_OPERATOR_TOKEN: args.operatorToken } : undefined;
        this.run = new command.local.Command(
            `${name}${stepResource("smoke").child}`,
            {
                create: stepCommand(args.runIn, argv, environment),
                update: NO_RERUN,
                ...(onStdin ? { stdin: checks } : {}),
                triggers: [checks],
                ...(environment !== undefined ? { environment } : {}),
            },
            {
                parent: this,
                dependsOn: stepDependsOn(opts.dependsOn, args.runIn),
                ...(environment !== undefined ? { additionalSecretOutputs: ["environment"] } : {}),
            },
        );
        this.registerOutputs({ version: args.version });
    }
}
