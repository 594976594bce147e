/** Masking for anything that may echo a credential back: response bodies, update output, log lines. */

export const MASK = "[masked]";

const BEARER = /\b(Bearer\s+)[A-Za-z0-9\-._~+/]+=*/gi;
const JWT = /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g;
// A JSON string field whose name says it holds a credential, e.g. "access_token", "password", "clientSecret".
const SECRET_FIELD = /("[^"\\]*(?:token|password|passwd|secret|api[_-]?key)[^"\\]*"\s*:\s*)"(?:[^"\\]|\\.)*"/gi;

function escapeRegExp(text: string): string {
    return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Replaces the given secret values, `Bearer …` credentials, JWTs and the values of
 * JSON fields named like token/password/secret with `[masked]`.
 */
export function maskSecrets(text: string, secrets: readonly string[] = []): string {
    let masked = text;
    // Longest first, so a secret that contains another is masked whole.
    for (const secret of [...secrets].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length)) {
        masked = masked.replace(new RegExp(escapeRegExp(secret), "g"), MASK);
    }
    return masked.replace(BEARER, `$1${MASK}`).replace(JWT, MASK).replace(SECRET_FIELD, `$1"${MASK}"`);
}

/** The first `limit` bytes of already-masked text; masking first means a secret cut at the edge cannot leak its head. */
export function firstBytes(text: string, limit: number): string {
    const bytes = Buffer.from(text, "utf8");
    if (bytes.length <= limit) return text;
    // Drop a multi-byte character cut in half rather than print a replacement character.
    return bytes
        .subarray(0, limit)
        .toString("utf8")
        .replace(/\uFFFD$/, "");
}

const SECRET_NAME = /SECRET|TOKEN|PASSWORD|PASSPHRASE|PRIVATE|CREDENTIAL|DATABASE_URL|_DSN$/i;

/**
 * Replaces the value of every secret-looking environment variable with `***`, so an
 * echo of one in the CLI's error text or in a task's log never reaches our output.
 */
export function envRedactor(env: NodeJS.ProcessEnv): (text: string) => string {
    const secrets = Object.entries(env)
        .filter(([name, value]) => SECRET_NAME.test(name) && value !== undefined && value.length >= 6)
        .map(([, value]) => value as string)
        .sort((a, b) => b.length - a.length);
    return (text) => secrets.reduce((result, secret) => result.split(secret).join("***"), text);
}
