import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { WriterControl } from "../platform";
import { NO_RERUN, commandLine } from "./opsCommand";

export interface QuiesceArgs {
    /** The components stopped, for the record (`release:migrate.quiesce`). */
    readonly components: string[];
    readonly control: WriterControl;
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
    private readonly control: WriterControl;

    constructor(name: string, args: QuiesceArgs, opts: pulumi.ComponentResourceOptions = {}) {
        super("safe-release:data:Quiesce", name, {}, opts);
        this.name = name;
        this.control = args.control;
        this.stopped = new command.local.Command(`${name}-stop`, { create: commandLine(args.control.stop), update: NO_RERUN }, {
            parent: this,
            dependsOn: opts.dependsOn,
        });
        this.registerOutputs({ components: args.components });
    }

    /** Starts the writers again once `after` (the migration) has succeeded. */
    resumeAfter(after: pulumi.Resource[]): command.local.Command {
        return new command.local.Command(`${this.name}-resume`, { create: commandLine(this.control.start), update: NO_RERUN }, {
            parent: this,
            dependsOn: after,
        });
    }
}
