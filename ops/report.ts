import { Writable } from "stream";
import { UsageError } from "./command";
import { parseDatabaseUrl, redactor } from "./pg/connection";

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

/**
 * Scrubs a message of every secret the environment holds: the values of secret-looking
 * variables, and the password of \`DATABASE_URL\` (a server may quote it alone).
 */
export function secretScrubber(env: NodeJS.ProcessEnv): (text: string) => string {
    const byName = envRedactor(env);
    let password = (text: string) => text;
    try {
        password = redactor(parseDatabaseUrl(env.DATABASE_URL));
    } catch {
        // No usable DATABASE_URL: nothing of it to scrub.
    }
    return (text) => password(byName(text));
}

/**
 * Runs a command's body: bad input stays a UsageError (exit 2 from the CLI); any other
 * failure (a missing file, a refused connection or AWS call) is one scrubbed line on
 * stderr and exit 1.
 */
export async function reported(
    name: string,
    io: { env: NodeJS.ProcessEnv; stderr: Writable },
    work: () => Promise<number>,
): Promise<number> {
    try {
        return await work();
    } catch (err) {
        if (err instanceof UsageError) throw err;
        io.stderr.write(`${secretScrubber(io.env)(`${name}: ${err instanceof Error ? err.message : String(err)}`)}\n`);
        return 1;
    }
}
