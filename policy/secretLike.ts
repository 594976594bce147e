/**
 * Recognisers for values that must never sit in a resource's inputs as plain text.
 * They never return or echo the value: callers report where a secret is, not what it is.
 */

const SECRET_KEY_WORDS = ["password", "passwd", "secret", "token", "apikey", "connectionstring", "privatekey"];

/**
 * Suffixes that make a secret-sounding key a reference to a secret rather than the secret
 * itself: `passwordSecretArn`, `secretName`, `tokenPath`, `masterUserSecretKmsKeyId`.
 */
const REFERENCE_SUFFIXES = ["arn", "arns", "id", "ids", "name", "names", "path", "file", "ref", "version", "type", "from"];

function normalizeKey(key: string): string {
    return key.toLowerCase().replace(/[^a-z0-9]/g, "");
}

/** True for keys named like a secret (`password`, `DB_PASSWORD`, `apiKey`, `connection_string`), not like a reference to one. */
export function isSecretKey(key: string): boolean {
    const normalized = normalizeKey(key);
    return SECRET_KEY_WORDS.some((word) => normalized.includes(word)) && !REFERENCE_SUFFIXES.some((suffix) => normalized.endsWith(suffix));
}

/** `$VAR`, `${VAR}`, `***`, `<password>`: a stand-in that a shell or a person fills in later. */
function isPlaceholder(text: string): boolean {
    return /^(\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|\*+|<[^<>]*>)$/.test(text);
}

/** True when the text contains a URL with a password in it (`postgres://user:pass@host/db`). */
export function hasCredentialedUrl(text: string): boolean {
    const pattern = /[a-z][a-z0-9+.-]*:\/\/[^\s:/?#@]*:([^\s/?#@]+)@/gi;
    for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
        if (!isPlaceholder(decodeURIComponentSafely(match[1]))) {
            return true;
        }
    }
    return false;
}

function decodeURIComponentSafely(text: string): string {
    try {
        return decodeURIComponent(text);
    } catch {
        return text;
    }
}

/** True when the text contains a JSON Web Token: three base64url parts, the first two JSON objects. */
export function hasJwt(text: string): boolean {
    return /(^|[^A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}/.test(text);
}

/**
 * True when the text contains something shaped like an AWS secret access key: a standalone
 * 40-character run of base64 characters mixing upper case, lower case and digits. Requiring
 * all three keeps hex digests and git commit ids (lower case only) out.
 */
export function hasAwsSecretKey(text: string): boolean {
    const pattern = /(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])/g;
    for (const [candidate] of text.matchAll(pattern)) {
        if (/[A-Z]/.test(candidate) && /[a-z]/.test(candidate) && /[0-9]/.test(candidate)) {
            return true;
        }
    }
    return false;
}

/** What a plain-text value looks like, in words for a violation message; `undefined` when it looks harmless. */
export function secretShapeOf(text: string): string | undefined {
    if (hasCredentialedUrl(text)) {
        return "a URL with a password";
    }
    if (hasJwt(text)) {
        return "a JSON Web Token";
    }
    if (hasAwsSecretKey(text)) {
        return "an AWS secret access key";
    }
    return undefined;
}
