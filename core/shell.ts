/**
 * Single-quotes each word for a POSIX shell unless it is plainly safe. Only
 * non-secret words (names, paths, ids) ever go on a command line: secrets travel
 * in a command's environment.
 */
export function shellQuote(argv: readonly string[]): string {
    return argv.map((word) => (/^[A-Za-z0-9_@%+=:,.\/-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`)).join(" ");
}
