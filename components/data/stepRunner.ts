import * as pulumi from "@pulumi/pulumi";
import { commandLine, dependsOnList } from "./opsCommand";

/**
 * Where the ops program of a data step or a smoke test runs. Every step builds the
 * same ops argv (`OPS …`) and the same secret environment whatever the platform; the
 * runner only decides the command line that carries it out. On the machine running
 * Pulumi that is the argv itself; on aws-ecs with `dataStepsIn: task` it is `ecs-task`
 * of the runner image inside the VPC, which prints the ops program's one JSON result as
 * its own, so the steps read their results exactly as before.
 */
export interface StepRunner {
    /**
     * The argv that runs `argv` (an ops program's) there. `secrets` names the step's secret
     * environment variables: a task takes its own from its task definition, and the local
     * command keeps them only to mask them in what it prints. `extraMs` lengthens the
     * step's bound for a step that itself waits on something bounded (the migration's lock and task).
     */
    argv(argv: pulumi.Input<pulumi.Input<string>[]>, secrets: readonly string[], extraMs?: number): pulumi.Output<string[]>;
    /** False where the step has no stdin (an ECS task): what a step reads from stdin travels in its argv instead. */
    readonly stdin: boolean;
    /** How long one step may run there, in milliseconds (`release:aws.dataStepTimeout`); undefined: unbounded here. */
    readonly stepTimeoutMs?: number;
    /** What must exist before any step runs there (the runner's task definition and its roles' policies). */
    readonly needs: pulumi.Resource[];
}

/** The machine running Pulumi: the argv as it is. */
export const LOCAL_STEPS: StepRunner = {
    argv: (argv) => pulumi.output(argv).apply((words) => [...words]),
    stdin: true,
    needs: [],
};

/** A step's `runIn`: the platform's runner, where it has one (absent: the machine running Pulumi). */
export function runsIn(platform: { readonly stepRunner?: StepRunner }): { runIn?: StepRunner } {
    return platform.stepRunner !== undefined ? { runIn: platform.stepRunner } : {};
}

/** The `create` of a step's command: its argv as `runner` runs it, for the secret environment it has. */
export function stepCommand(
    runner: StepRunner | undefined,
    argv: pulumi.Input<pulumi.Input<string>[]>,
    environment?: Record<string, unknown>,
    extraMs?: number,
): pulumi.Output<string> {
    const secrets = Object.keys(environment ?? {}).sort();
    return commandLine((runner ?? LOCAL_STEPS).argv(argv, secrets, extraMs));
}

/** A step's `dependsOn`: what the component was given (a resource or a list, as every data component passes it), then what its runner needs. */
export function stepDependsOn(
    dependsOn: pulumi.ResourceOptions["dependsOn"],
    runner: StepRunner | undefined,
): pulumi.ResourceOptions["dependsOn"] {
    const needs = runner?.needs ?? [];
    return needs.length === 0 ? dependsOn : [...dependsOnList(dependsOn), ...needs];
}
