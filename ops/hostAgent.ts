import { OpsCommand, UsageError } from "./command";
import { command as hostInstall } from "./commands/host-install";
import { command as hostPrune } from "./commands/host-prune";
import { command as hostRouter } from "./commands/host-router";
import { command as hostService } from "./commands/host-service";

/**
 * The host steps alone, for a machine reached over SSH: `npm run build` compiles
 * this entry and what it imports (Node built-ins and a few project modules, no
 * npm package), the program copies exactly those files to `<root>/agent/`, and
 * the steps run there as `node <root>/agent/ops/hostAgent.js host-… …`.
 */
const COMMANDS: readonly OpsCommand[] = [hostInstall, hostPrune, hostRouter, hostService];

export async function main(argv: string[]): Promise<number> {
    const [name, ...args] = argv;
    const command = COMMANDS.find((c) => c.name === name);
    if (command === undefined) {
        process.stderr.write(
            `safe-release host agent: unknown command \`${name ?? ""}\`; valid commands: ${COMMANDS.map((c) => c.name).join(", ")}\n`,
        );
        return 2;
    }
    try {
        return await command.run(args, { env: process.env, stdout: process.stdout, stderr: process.stderr });
    } catch (err) {
        if (!(err instanceof UsageError)) throw err;
        process.stderr.write(`${name}: ${err.message}\n`);
        return 2;
    }
}

if (require.main === module) {
    main(process.argv.slice(2)).then(
        (code) => (process.exitCode = code),
        (err) => {
            process.stderr.write(`safe-release host agent: ${err instanceof Error ? err.message : String(err)}\n`);
            process.exitCode = 1;
        },
    );
}
