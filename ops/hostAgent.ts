import { dispatch } from "./cli";
import { OpsCommand } from "./command";
import { command as hostCheck } from "./commands/host-check";
import { command as hostInstall } from "./commands/host-install";
import { command as hostPrune } from "./commands/host-prune";
import { command as hostRouter } from "./commands/host-router";
import { command as hostService } from "./commands/host-service";
import { command as hostUnpack } from "./commands/host-unpack";

/**
 * The host steps alone, for a machine reached over SSH: `npm run build` compiles
 * this entry and what it imports (Node built-ins, a few project modules and the
 * npm packages they need), the program copies exactly those to `<root>/agent/`, and
 * the steps run there as `node <root>/agent/ops/hostAgent.js host-… …` (and a
 * restore's `host-unpack`, fed the archive over SSH by the local `host-restore`).
 */
const COMMANDS: readonly OpsCommand[] = [hostCheck, hostInstall, hostPrune, hostRouter, hostService, hostUnpack];

export function main(argv: string[]): Promise<number> {
    return dispatch(new Map(COMMANDS.map((c) => [c.name, c])), argv, { env: process.env, stdout: process.stdout, stderr: process.stderr });
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
