import { CheckFailure } from "@pulumi/pulumi/provider";
import { WireMap } from "./wire";

/** What one operation knows of the resource it acts on. */
export interface Operation {
    readonly urn: string;
    /** Writes one line to the engine's log for this resource (upstream logs command output as ephemeral info). */
    readonly log: (line: string) => void;
}

/**
 * One resource type the plugin serves (`command:local:Command`,
 * `command:remote:Command`, `command:remote:CopyToRemote`). Inputs and outputs are wire maps, secrets wrapped.
 */
export interface ResourceType {
    readonly token: string;
    /** The declared input names: the only ones the diff compares. */
    readonly inputNames: readonly string[];
    /** Inputs whose change replaces the resource instead of updating it. */
    readonly replaceOnChanges: readonly string[];
    /** An id of 8 random hex digits alone, without the resource's name (upstream's `CopyToRemote`). */
    readonly randomId?: boolean;
    check(news: WireMap): CheckFailure[];
    /** Returns the outputs to store. */
    create(operation: Operation, news: WireMap): Promise<WireMap>;
    update(operation: Operation, olds: WireMap, news: WireMap): Promise<WireMap>;
    delete(operation: Operation, state: WireMap): Promise<void>;
}
