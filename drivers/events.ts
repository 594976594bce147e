import { maskSecrets } from "../core/mask";
import { DriverIO } from "./types";

export interface EventLogOptions {
    readonly io: DriverIO;
    readonly stack: string;
    /** From `release:notify`; never printed, not even in a failure message. */
    readonly webhookUrl?: string;
    /** Values masked in every line written: the webhook URL, tokens from the environment. */
    readonly secrets: readonly string[];
    readonly webhookTimeoutMs?: number;
}

export interface DriverEvent {
    readonly event: string;
    readonly [field: string]: unknown;
}

/**
 * The drivers' only way out: progress lines and structured events, both masked,
 * events also POSTed to the webhook so stakeholders hear of a rollback without watching a terminal.
 */
export class EventLog {
    private readonly secrets: string[];
    private readonly now: () => number;

    constructor(private readonly options: EventLogOptions) {
        const url = options.webhookUrl;
        // A chat webhook's token is its path, so the path alone is masked too.
        const urlParts = url ? [url, new URL(url).pathname, new URL(url).search].filter((p) => p.length > 1) : [];
        this.secrets = [...options.secrets, ...urlParts];
        this.now = options.io.now ?? Date.now;
    }

    mask(text: string): string {
        return maskSecrets(text, this.secrets);
    }

    progress(line: string): void {
        this.options.io.progress(this.mask(line));
    }

    /** Writes the event line at once; the returned promise settles when the webhook has it (or gave up). */
    emit(event: DriverEvent): Promise<void> {
        const line = this.mask(JSON.stringify({ ...event, stack: this.options.stack, ts: new Date(this.now()).toISOString() }));
        this.options.io.events(line);
        return this.notify(event.event, line);
    }

    private async notify(name: string, line: string): Promise<void> {
        if (!this.options.webhookUrl) return;
        const controller = new AbortController();
        const timer = setTimeout(() => controller.abort(), this.options.webhookTimeoutMs ?? 5000);
        try {
            const response = await fetch(this.options.webhookUrl, {
                method: "POST",
                headers: { "Content-Type": "application/json" },
                body: line,
                signal: controller.signal,
            });
            await response.arrayBuffer();
            if (!response.ok) this.progress(`notification of \`${name}\` failed: the webhook answered HTTP ${response.status}`);
        } catch (err) {
            const code = (err as { cause?: { code?: string } }).cause?.code;
            const why = controller.signal.aborted ? "no answer in time" : (code ?? "connection error");
            // Neither the URL nor the error text (which may quote it) is printed.
            this.progress(`notification of \`${name}\` failed: ${why}`);
        } finally {
            clearTimeout(timer);
        }
    }
}
