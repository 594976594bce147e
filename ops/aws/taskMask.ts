import { UsageError } from "../command";
import { maskSecrets } from "../../core/mask";
import { secretScrubber } from "../report";

/**
 * Values shorter than this are not masked by value: `a` or `42` replaced everywhere would
 * garble every line (and the JSON result), and a secret that short protects nothing.
 */
export const MIN_MASKED_LENGTH = 4;
export const MASKED = "***";

/**
 * `scheme://user:password@` anywhere in a line. The password stops at white space, a quote
 * or the first `@`, so a URL inside a JSON line cannot swallow the rest of the line.
 */
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:@/"'`]*):[^\s@/"'`]+@/gi;

export interface TaskMask {
    /** Every line ecs-task prints passes through this: stderr and the result alike. */
    readonly mask: (text: string) => string;
    /** Names given to `--mask-env` whose values are too short to be masked. */
    readonly tooShort: readonly string[];
}

/**
 * The masking of a task's log lines: the values of the `--mask-env` variables of this
 * process (also as they appear inside a JSON string, percent-encoded in a URL, and the
 * password of a value that is a URL) become `***`; then the project's own masking of URL
 * passwords, `Bearer` credentials, JWTs, credential-named JSON fields and this process's
 * own secret-looking variables. A name that is not set is a usage error: a mistyped name
 * must not silently leave a secret unmasked.
 */
export function taskMask(names: readonly string[], env: NodeJS.ProcessEnv): TaskMask {
    const unset = names.filter((name) => env[name] === undefined);
    if (unset.length > 0) {
        throw new UsageError(
            `\`--mask-env\` names ${unset.map((n) => `\`${n}\``).join(", ")}, not set in ecs-task's environment: set ${unset.length > 1 ? "them" : "it"} ` +
                "to the value the task reads (the task itself takes it from its task definition's secrets) so its log lines can be masked, or leave the name out",
        );
    }
    const tooShort = names.filter((name) => (env[name] as string).length < MIN_MASKED_LENGTH);
    const values = names.flatMap((name) => spellings(env[name] as string)).filter((value) => value.length >= MIN_MASKED_LENGTH);
    // Longest first, so a value that contains another (a URL and its password) is masked whole.
    const ordered = [...new Set(values)].sort((a, b) => b.length - a.length);
    const ownSecrets = secretScrubber(env);
    return {
        tooShort,
        mask: (text) => {
            const byValue = ordered.reduce((masked, value) => masked.split(value).join(MASKED), text);
            return ownSecrets(maskSecrets(byValue.replace(URL_PASSWORD, `$1:${MASKED}@`)));
        },
    };
}

/** A value as a program may print it: as is, inside a JSON string, percent-encoded; a URL's password on its own. */
function spellings(value: string): string[] {
    const forms = [value, JSON.stringify(value).slice(1, -1), encodeURIComponent(value)];
    const password = urlPassword(value);
    if (password !== undefined) forms.push(password, safeDecode(password));
    return forms;
}

function urlPassword(value: string): string | undefined {
    try {
        const password = new URL(value).password;
        return password !== "" ? password : undefined;
    } catch {
        return undefined;
    }
}

function safeDecode(text: string): string {
    try {
        return decodeURIComponent(text);
    } catch {
        return text;
    }
}
