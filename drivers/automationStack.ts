import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { toolchainPulumiCommand } from "./pulumiCommand";
import { ChangeSummary, ReleaseStack, ReleaseUpdate } from "./types";

/**
 * Whole lines out of the CLI's output. The Automation API hands on pipe-sized chunks, which
 * cut lines anywhere: a line in two pieces would be printed half without its prefix, and a
 * secret cut in two would escape masking.
 */
export class LineSplitter {
    private pending = "";

    constructor(private readonly onLine: (line: string) => void) {}

    write(chunk: string): void {
        const parts = (this.pending + chunk).split("\n");
        this.pending = parts.pop() ?? "";
        for (const line of parts) this.onLine(line.replace(/\r$/, ""));
    }

    /** The last line, when the output did not end with a newline. */
    end(): void {
        if (this.pending !== "") this.onLine(this.pending.replace(/\r$/, ""));
        this.pending = "";
    }
}

/** `ReleaseStack` over the Pulumi CLI through the Automation API, for the project in `workDir`. */
export class AutomationStack implements ReleaseStack {
    constructor(private readonly stack: Stack) {}

    get name(): string {
        return this.stack.name;
    }

    async getConfig(key: string): Promise<string | undefined> {
        // `getConfig` of an unset key fails like any CLI error; reading the whole map tells "unset" apart from "broken".
        const all = await this.stack.getAllConfig();
        return all[key]?.value;
    }

    async setConfig(key: string, value: string, secret = false): Promise<void> {
        await this.stack.setConfig(key, { value, secret });
    }

    async removeConfig(key: string): Promise<void> {
        const all = await this.stack.getAllConfig();
        if (key in all) await this.stack.removeConfig(key);
    }

    async up(onOutput: (line: string) => void): Promise<void> {
        const lines = new LineSplitter(onOutput);
        try {
            await this.stack.up({ onOutput: (chunk) => lines.write(chunk), color: "never" });
        } finally {
            lines.end();
        }
    }

    async preview(): Promise<ChangeSummary> {
        const result = await this.stack.preview({ color: "never" });
        return result.changeSummary as ChangeSummary;
    }

    async history(): Promise<ReleaseUpdate[]> {
        // Config values in history stay encrypted: the drivers read only `release:version`, which is not a secret.
        return this.stack.history(undefined, undefined, false);
    }

    async outputs(): Promise<Record<string, unknown>> {
        const outputs = await this.stack.outputs();
        return Object.fromEntries(Object.entries(outputs).map(([key, output]) => [key, output.value]));
    }
}

export async function openAutomationStack(stackName: string, workDir: string): Promise<ReleaseStack> {
    const pulumiCommand = await toolchainPulumiCommand();
    return new AutomationStack(await LocalWorkspace.selectStack({ stackName, workDir }, { pulumiCommand }));
}
