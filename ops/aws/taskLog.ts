import { CloudWatchLogsClient, GetLogEventsCommand, GetLogEventsResponse } from "@aws-sdk/client-cloudwatch-logs";
import { awsClientConfig, awsErrorText } from "../../core/awsClient";
import { LogLocation, logLines, logStreamName } from "./ecsTask";

/** How many of the last log lines a failure message repeats, for an operator who sees only the end of the output. */
export const FAILURE_TAIL_LINES = 20;
/** Pages read per poll while the task runs, so a chatty task cannot hold up the status poll. */
export const PAGES_PER_POLL = 20;
/** After the stop: the rest of the stream, up to this many pages (of up to 10,000 lines each). */
export const PAGES_AT_END = 1000;

export interface LogSink {
    /** One log line, already masked, as it arrives. */
    line(masked: string): void;
    /** Why the stream cannot be read right now; the task is followed all the same. */
    problem(message: string): void;
}

/**
 * The container's awslogs stream, followed from its head with `nextForwardToken` while the
 * task runs: every line goes to the sink once, masked, in the stream's order. The stream
 * appears only once the container logs; until then `ResourceNotFoundException` is the
 * expected answer, not a problem. Reading the log never changes the task's outcome.
 */
export class TaskLog {
    readonly group: string;
    readonly stream: string;
    private readonly client: CloudWatchLogsClient;
    private token: string | undefined;
    private readonly tailLines: string[] = [];
    private lastProblem: string | undefined;
    private notFound: string | undefined;
    private result: { readonly raw: string; readonly masked: string } | undefined;
    private count = 0;

    constructor(
        location: Extract<LogLocation, { group: string }>,
        container: string,
        taskArn: string,
        private readonly env: NodeJS.ProcessEnv,
        private readonly mask: (text: string) => string,
        private readonly sink: LogSink,
    ) {
        this.group = location.group;
        this.stream = logStreamName(location.prefix, container, taskArn);
        // The log group may live in another region than the cluster (`awslogs-region`).
        this.client = new CloudWatchLogsClient(awsClientConfig(env, "CLOUDWATCH_LOGS", location.region));
    }

    /** Reads what arrived since the last read, at most `pages` pages. */
    async read(pages = PAGES_PER_POLL): Promise<void> {
        for (let page = 0; page < pages; page++) {
            let answer: GetLogEventsResponse;
            try {
                answer = await this.client.send(
                    new GetLogEventsCommand({
                        logGroupName: this.group,
                        logStreamName: this.stream,
                        startFromHead: true,
                        ...(this.token !== undefined ? { nextToken: this.token } : {}),
                    }),
                );
            } catch (err) {
                this.failed(err);
                return;
            }
            this.notFound = undefined;
            for (const line of logLines(answer)) this.take(line);
            // The end of the stream for now: no events, or the same token back.
            const next = answer.nextForwardToken;
            const atEnd = (answer.events ?? []).length === 0 || next === undefined || next === this.token;
            if (next !== undefined) this.token = next;
            if (atEnd) return;
        }
    }

    /** The last lines read (masked), at most `FAILURE_TAIL_LINES`. */
    tail(): readonly string[] {
        return this.tailLines;
    }

    get linesRead(): number {
        return this.count;
    }

    /** Why no line was read, when none was: the stream's location and the last answer. */
    emptyReason(): string {
        return `no log lines were read from ${this.group} ${this.stream}${this.notFound !== undefined ? `: ${this.notFound}` : ""}`;
    }

    /**
     * The last line that parses as a JSON object, masked. Masking inside JSON strings keeps
     * the line valid JSON; should a masked value have stood outside a string, the parsed
     * document is masked value by value instead, so the result always parses.
     */
    resultLine(): string | undefined {
        if (this.result === undefined) return undefined;
        if (jsonObject(this.result.masked) !== undefined) return this.result.masked;
        return JSON.stringify(maskDeep(jsonObject(this.result.raw), this.mask));
    }

    close(): void {
        this.client.destroy();
    }

    private take(line: string): void {
        const masked = this.mask(line);
        this.count++;
        this.tailLines.push(masked);
        if (this.tailLines.length > FAILURE_TAIL_LINES) this.tailLines.shift();
        if (jsonObject(line) !== undefined) this.result = { raw: line, masked };
        this.sink.line(masked);
    }

    private failed(err: unknown): void {
        const text = awsErrorText(`CloudWatch Logs GetLogEvents of ${this.group} ${this.stream}`, err, this.env);
        if ((err as Error).name === "ResourceNotFoundException") {
            this.notFound = text;
            return;
        }
        // A lasting problem (a missing permission) is said once, not at every poll.
        if (text !== this.lastProblem) this.sink.problem(`${this.mask(text)}; the task is followed without its log lines`);
        this.lastProblem = text;
    }
}

/** The object a line holds, or undefined when it is not exactly one JSON object. */
export function jsonObject(line: string): Record<string, unknown> | undefined {
    const text = line.trim();
    if (!text.startsWith("{")) return undefined;
    try {
        const value: unknown = JSON.parse(text);
        return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
    } catch {
        return undefined;
    }
}

function maskDeep(value: unknown, mask: (text: string) => string): unknown {
    if (typeof value === "string") return mask(value);
    if (typeof value === "number") {
        // A secret that stood as a number in the line: the only way masking can break the JSON.
        const text = String(value);
        return mask(text) === text ? value : mask(text);
    }
    if (Array.isArray(value)) return value.map((item) => maskDeep(item, mask));
    if (typeof value === "object" && value !== null) {
        return Object.fromEntries(Object.entries(value).map(([key, item]) => [mask(key), maskDeep(item, mask)]));
    }
    return value;
}
