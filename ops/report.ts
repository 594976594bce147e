import { Writable } from "stream";
import { UsageError } from "./command";
import { envRedactor } from "../core/mask";
import { parseDatabaseUrl, redactor } from "./pg/connection";

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
