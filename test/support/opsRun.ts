import { Writable } from "stream";
import { main } from "../../ops/cli";
import { OpsCommand } from "../../ops/command";

/** Collects what a program writes, for assertions on the exact text. */
export class Capture extends Writable {
    text = "";
    _write(chunk: Buffer, _encoding: string, done: () => void): void {
        this.text += chunk.toString();
        done();
    }
}

export interface OpsRun {
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
}

/** Secrets the AWS tests put in the environment; none may reach stdout or stderr. */
export const SECRET_ENV = {
    AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    AWS_SESSION_TOKEN: "FwoGZXIvYXdzEXAMPLESESSIONTOKEN",
    DATABASE_URL: "postgresql://shop:s3cret-db-passw0rd@db.internal:5432/shop",
} as const;

/** Runs `safe-release-ops <args>` in-process with exactly `env` as its environment. */
export async function runOps(args: string[], env: NodeJS.ProcessEnv): Promise<OpsRun> {
    const stdout = new Capture();
    const stderr = new Capture();
    const code = await main(args, { env, stdout, stderr });
    return { code, stdout: stdout.text, stderr: stderr.text };
}

/** Where a secret of `SECRET_ENV` shows up in a run's output: "stdout", "stderr", or nowhere. */
export function secretsLeaked(run: OpsRun): string[] {
    const values = [...Object.values(SECRET_ENV), "s3cret-db-passw0rd"];
    return (
        [
            ["stdout", run.stdout],
            ["stderr", run.stderr],
        ] as const
    )
        .filter(([, text]) => values.some((secret) => text.includes(secret)))
        .map(([where]) => where);
}

/** Runs one ops command's `run` in-process (no dispatch: a usage error rejects), its output kept. */
export async function runCommand(command: OpsCommand, args: string[], env: NodeJS.ProcessEnv): Promise<OpsRun> {
    const stdout = new Capture();
    const stderr = new Capture();
    const code = await command.run(args, { env, stdout, stderr });
    return { code, stdout: stdout.text, stderr: stderr.text };
}
