import { routerPaths } from "../../core/hostLayout";
import { OpsCommand, OpsIO, UsageError } from "../command";
import { parseFlags } from "../flags";
import { MANAGER_FLAGS, MANAGER_USAGE, jsonObjectOption, managerOptions, readAll, requireValue, secondsOption } from "../host/options";
import { applyRouterConfig, prepareRouter } from "../host/router";
import { ServiceError } from "../host/service";

const usage = `usage: safe-release-ops host-router prepare --root <dir> --status-port <port>
       safe-release-ops host-router apply --root <dir> --program <router program> --status-url <url>
                                          --slots-json <json> [--nginx <path>] [--wait <seconds>] [manager options] < nginx.conf

prepare: creates <root>/router/ and, when there is none yet, a bootstrap config that serves
only the status port, so the router program can start before any version is routed.
apply: loads the rendered config read on stdin: \`nginx -t\` on a copy, rename over the live
config, SIGHUP to the router's master (a reload: no connection drops), then waits (default 30s)
until the status URL answers with the config's fingerprint, and records the routed versions'
slots (--slots-json, version → slot) in <root>/router/live.json. A config nginx refuses
never replaces the one that serves.
${MANAGER_USAGE}
Prints {"fingerprint"} (apply) on stdout.
`;

async function run(args: string[], io: OpsIO): Promise<number> {
    const [subcommand, ...rest] = args;
    const flags = parseFlags(rest, {
        ...MANAGER_FLAGS,
        root: "value",
        "status-port": "value",
        "status-url": "value",
        "slots-json": "value",
        program: "value",
        nginx: "value",
        wait: "value",
    });
    const paths = routerPaths(requireValue(flags, "root", "the host root directory"));
    if (subcommand === "prepare") {
        const port = Number(requireValue(flags, "status-port", "the router's status port"));
        if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError("`--status-port` must be a port from 1 to 65535");
        prepareRouter(paths, port);
        io.stdout.write(`${JSON.stringify({ config: paths.config })}\n`);
        return 0;
    }
    if (subcommand !== "apply")
        throw new UsageError(`the subcommand must be \`prepare\` or \`apply\`; got ${JSON.stringify(subcommand ?? "")}`);
    const slots = Object.fromEntries(Object.entries(jsonObjectOption(flags, "slots-json")).map(([v, s]) => [v, Number(s)]));
    try {
        const result = await applyRouterConfig({
            nginx: flags.values.get("nginx") ?? "nginx",
            paths,
            config: await readAll(io.stdin ?? process.stdin),
            statusUrl: requireValue(flags, "status-url", "the router's status URL"),
            slots,
            timeoutMs: secondsOption(flags, "wait", 30) * 1000,
            manager: managerOptions(flags),
            program: requireValue(flags, "program", "the router's program name"),
        });
        io.stdout.write(`${JSON.stringify(result)}\n`);
        return 0;
    } catch (err) {
        if (!(err instanceof ServiceError) && !(err instanceof Error && /fingerprint/.test(err.message))) throw err;
        io.stderr.write(`host-router: ${(err as Error).message}\n`);
        return 1;
    }
}

export const command: OpsCommand = {
    name: "host-router",
    summary: "prepare the host's nginx router, and load a rendered config into it (reload, not restart)",
    usage,
    run,
};
