import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { NO_RERUN, commandLine } from "./opsCommand";
import { stepResource } from "../../core/runbook";

export interface QuiesceArgs {
    /** The components stopped, for the record (`release:migrate.quiesce`). */
    readonly components: string[];
    /** Argv that stops the writers of every running version. */
    readonly stop: pulumi.Output<string[]>;
    /** Argv that starts them again in the versions that stay live; none when no such version remains. */
    readonly start?: pulumi.Output<string[]>;
    /** Secret variables both commands need (`WriterControl.environment`: a remote host's SSH key). */
    readonly environment?: Record<string, pulumi.Output<string>>;
}

/**
 * Stops the writers (workers, frontends) for the migration and starts them
 * again after it. If the migration fails, the resume step never runs: writers
 * stay stopped, and the migration's message says how to go on.
 */
export class Quiesce extends pulumi.ComponentResource {
    /** Writers are stopped once this exists. */
    public readonly stopped: command.local.Command;
    private readonly name: string;
    private readonly start?: pulumi.Output<string[]>;
    private readonly environment?: Record<string, pulumi.Output<string>>;

    constructor(name: string, args: QuiesceArgs, opts: pulumi.ComponentResourceOptions = {}) {
        super(stepResource("quiesce").component, name, {}, opts);
        this.name = name;
        this.start = args.start;
        this.environment = args.environment;
        this.stopped = new command.local.Command(
            `${name}${stepResource("quiesce").child}`,
            { create: commandLine(args.stop), update: NO_RERUN, ...this.secretEnvironment() },
            {
                parent: this,
                dependsOn: opts.dependsOn,
                additionalSecretOutputs: ["environment"],
            },
        );
        this.registerOutputs({ components: args.components });
    }

    /** Starts the writers again once `after` (the migration) has succeeded; nothing when no version stays to start. */
    resumeAfter(after: pulumi.Resource[]): command.local.Command | undefined {
        if (this.start === undefined) return undefined;
        return new command.local.Command(
            `${this.name}${stepResource("resume").child}`,
            { create: commandLine(this.start), update: NO_RERUN, ...this.secretEnvironment() },
            {
                parent: this,
                dependsOn: after,
                additionalSecretOutputs: ["environment"],
            },
        );
    }

    private secretEnvironment(): { environment?: Record<string, pulumi.Output<string>> } {
        return this.environment !== undefined ? { environment: this.environment } : {};
    }
}
