/**
 * How a command's output and failures read, as upstream's Go code prints them,
 * so a log or an error looks the same whichever plugin ran the command.
 */

/** Upstream keeps a command's output except for one trailing newline (`strings.TrimSuffix(s, "\n")`). */
export function trimOutput(text: string): string {
    return text.endsWith("\n") ? text.slice(0, -1) : text;
}

/** The engine's mask for a secret in logs and messages. */
export const SECRET_MASK = "[secret]";

/**
 * `text` with every secret, and its JSON-escaped form, replaced by the engine's
 * mask. Like the engine's own filter, values shorter than 3 characters and
 * `true`/`false` are left alone: masking those would garble every message.
 * Longest first, so no part of a longer secret survives a shorter one's mask.
 */
export function maskSecrets(text: string, secrets: readonly string[]): string {
    const forms = secrets
        .filter((value) => value.length >= 3 && !["true", "false"].includes(value.toLowerCase()))
        .flatMap((value) => [value, JSON.stringify(value).slice(1, -1)])
        .sort((a, b) => b.length - a.length);
    return forms.reduce((masked, value) => masked.split(value).join(SECRET_MASK), text);
}

/**
 * Upstream's failure message, `<cause>: running "<command>":\n<stdout and stderr
 * as they interleaved>`, where the cause is Go's text for how the process ended
 * (`exit status 2`, `signal: killed`) or why it could not start.
 */
export function failureMessage(cause: string, command: string, combinedOutput: string): string {
    return `${cause}: running ${goQuote(command)}:\n${combinedOutput}`;
}

/** Go's text for a process that did not exit 0, as `(*exec.ExitError).Error()` prints it. */
export function exitCause(code: number | null, signal: NodeJS.Signals | null): string {
    if (signal !== null) return `signal: ${GO_SIGNAL_NAMES[signal] ?? signal}`;
    return `exit status ${code}`;
}

const GO_SIGNAL_NAMES: Partial<Record<NodeJS.Signals, string>> = {
    SIGABRT: "aborted",
    SIGALRM: "alarm clock",
    SIGBUS: "bus error",
    SIGFPE: "floating point exception",
    SIGHUP: "hangup",
    SIGILL: "illegal instruction",
    SIGINT: "interrupt",
    SIGKILL: "killed",
    SIGPIPE: "broken pipe",
    SIGQUIT: "quit",
    SIGSEGV: "segmentation fault",
    SIGTERM: "terminated",
    SIGUSR1: "user defined signal 1",
    SIGUSR2: "user defined signal 2",
};

/** Go's `%q` of a string (`strconv.Quote`) for the characters a command line holds. */
export function goQuote(text: string): string {
    let quoted = '"';
    for (const char of text) {
        const code = char.codePointAt(0)!;
        if (char === '"' || char === "\\") quoted += `\\${char}`;
        else if (GO_ESCAPES[char] !== undefined) quoted += GO_ESCAPES[char];
        else if (code < 0x20 || code === 0x7f) quoted += `\\x${code.toString(16).padStart(2, "0")}`;
        else if (code >= 0x80 && code < 0xa0) quoted += `\\u${code.toString(16).padStart(4, "0")}`;
        else quoted += char;
    }
    return `${quoted}"`;
}

const GO_ESCAPES: Record<string, string> = { "\x07": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v" };
