import { performance } from "perf_hooks";
import { Writable } from "stream";
import { ChangeSummary, ReleaseStack, ReleaseUpdate } from "../../drivers/types";

/** An in-memory stack that records every config change and update, in order. */
export class FakeStack implements ReleaseStack {
    readonly calls: string[] = [];
    /** `performance.now()` at the start of each `up`. */
    readonly upStartedAt: number[] = [];
    readonly config: Map<string, string>;
    /** Lines each `up` prints, so tests can check they are masked. */
    upOutput: string[] = ["Updating (dev):", "  ~ aws:lb:ListenerRule canary update [diff: ~actions]"];
    /** Zero-based index of an `up` call that fails. */
    failUp = new Set<number>();
    failMessage = "update failed: 1 resource failed";
    private ups = 0;

    constructor(
        readonly name: string,
        config: Record<string, string>,
        readonly historyRecords: ReleaseUpdate[] = [],
        readonly stackOutputs: Record<string, unknown> = {},
        readonly changes: ChangeSummary = { same: 14, update: 1 },
    ) {
        this.config = new Map(Object.entries(config));
    }

    async getConfig(key: string): Promise<string | undefined> {
        return this.config.get(key);
    }

    async setConfig(key: string, value: string, secret = false): Promise<void> {
        this.calls.push(`set ${key}=${value}${secret ? " (secret)" : ""}`);
        this.config.set(key, value);
    }

    async removeConfig(key: string): Promise<void> {
        this.calls.push(`remove ${key}`);
        this.config.delete(key);
    }

    async up(onOutput: (line: string) => void): Promise<void> {
        this.upStartedAt.push(performance.now());
        const index = this.ups++;
        this.calls.push("up");
        for (const line of this.upOutput) onOutput(`${line}\n`);
        if (this.failUp.has(index)) throw new Error(this.failMessage);
    }

    async preview(): Promise<ChangeSummary> {
        this.calls.push("preview");
        return this.changes;
    }

    async history(): Promise<ReleaseUpdate[]> {
        return this.historyRecords;
    }

    async outputs(): Promise<Record<string, unknown>> {
        return this.stackOutputs;
    }
}

export function update(version: number, releaseVersion: string, result: ReleaseUpdate["result"] = "succeeded", kind: ReleaseUpdate["kind"] = "update"): ReleaseUpdate {
    return {
        kind, result, version, startTime: new Date(Date.UTC(2026, 0, version)),
        config: { "release:version": { value: releaseVersion, secret: false }, "aws:region": { value: "eu-west-1", secret: false } },
    };
}

/** Collects what a stream receives, split into lines. */
export function lineSink(): { stream: Writable; lines: () => string[] } {
    let text = "";
    return {
        stream: new Writable({ write(chunk, _enc, done) { text += chunk; done(); } }),
        lines: () => text.split("\n").filter((l) => l !== ""),
    };
}
