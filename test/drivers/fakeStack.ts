import * as assert from "assert";
import { performance } from "perf_hooks";
import { Writable } from "stream";
import { main } from "../../drivers/cli";
import * as fs from "fs";
import { StackFileRecorder } from "../../drivers/stackFile";
import { ChangeSummary, ReleaseStack, ReleaseUpdate } from "../../drivers/types";

/** Secrets the driver tests plant in update output and config; no log line may show them. */
export const WEBHOOK_PATH = "/hooks/T0K3N-9f8e7d6c5b4a";
export const OPERATOR_TOKEN = "op-secret-4b1d9c77";

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
    /** Where the config is written on every change, as the Pulumi CLI writes `Pulumi.<stack>.yaml`. */
    file?: string;
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
        this.writeFile();
    }

    async removeConfig(key: string): Promise<void> {
        this.calls.push(`remove ${key}`);
        this.config.delete(key);
        this.writeFile();
    }

    /** The stack file's text for the current config. */
    fileText(): string {
        return `config:\n${[...this.config].map(([key, value]) => `  ${key}: ${JSON.stringify(value)}\n`).join("")}`;
    }

    private writeFile(): void {
        if (this.file !== undefined) fs.writeFileSync(this.file, this.fileText());
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

export function update(
    version: number,
    releaseVersion: string,
    result: ReleaseUpdate["result"] = "succeeded",
    kind: ReleaseUpdate["kind"] = "update",
): ReleaseUpdate {
    return {
        kind,
        result,
        version,
        startTime: new Date(Date.UTC(2026, 0, version)),
        config: { "release:version": { value: releaseVersion, secret: false }, "aws:region": { value: "eu-west-1", secret: false } },
    };
}

/** Collects what a stream receives, split into lines. */
export function lineSink(): { stream: Writable; lines: () => string[] } {
    let text = "";
    return {
        stream: new Writable({
            write(chunk, _enc, done) {
                text += chunk;
                done();
            },
        }),
        lines: () => text.split("\n").filter((l) => l !== ""),
    };
}

/** Records what the drivers would commit, in order, without a repository. */
export class RecordingStackFile implements StackFileRecorder {
    readonly records: string[] = [];
    /** Set: `checkClean` refuses with this message. */
    refusal?: string;

    async checkClean(): Promise<void> {
        this.records.push("check");
        if (this.refusal !== undefined) throw new Error(this.refusal);
    }

    async record(subject: string, body: readonly string[] = []): Promise<void> {
        this.records.push([subject, ...body].join("\n"));
    }
}

/**
 * Runs the drivers' CLI against `stack` and parses its event lines. The stack file
 * goes to `stackFile` (a recording fake unless a test passes `"git"` for the real one
 * in `--cwd`): never to the git repository the tests run in.
 */
export async function runDriver(stack: FakeStack, argv: string[], stackFile: StackFileRecorder | "git" = new RecordingStackFile()) {
    const stdout = lineSink();
    const stderr = lineSink();
    const code = await main(
        argv,
        { env: { SMOKE_OPERATOR_TOKEN: OPERATOR_TOKEN }, stdout: stdout.stream, stderr: stderr.stream },
        { openStack: async () => stack, ...(stackFile === "git" ? {} : { openStackFile: () => stackFile }) },
    );
    const events = stdout.lines().map((line) => JSON.parse(line) as Record<string, unknown>);
    for (const event of events) assert.match(String(event.ts), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    return { code, events, progress: stderr.lines(), lines: [...stdout.lines(), ...stderr.lines()] };
}

/** Events without the fields that vary from run to run. */
export function stable(events: Array<Record<string, unknown>>): Array<Record<string, unknown>> {
    // eslint-disable-next-line @typescript-eslint/no-unused-vars -- these fields are dropped on purpose
    return events.map(({ ts, durationMs, sample, reason, ...rest }) => {
        if (durationMs !== undefined) assert.ok(typeof durationMs === "number" && durationMs >= 0);
        return rest;
    });
}

export function assertNoSecrets(lines: string[], webhookUrl: string): void {
    for (const line of lines) {
        for (const secret of [webhookUrl, WEBHOOK_PATH, "T0K3N-9f8e7d6c5b4a", OPERATOR_TOKEN]) {
            assert.ok(!line.includes(secret), `a log line leaks ${secret}: ${line}`);
        }
    }
    assert.ok(
        lines.some((l) => l.includes("[masked]")),
        "the echoed credentials were not masked",
    );
}
