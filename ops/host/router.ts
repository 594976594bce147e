import * as fs from "fs";
import { readConfigFingerprint } from "../../core/nginxConfig";
import { RouterPaths } from "../../core/hostLayout";
import { ServiceError, exec, waitHealthy, writeAtomically, ManagerOptions } from "./service";

/** What nginx serves before the first routed config: only the status port, so the router program can start and be checked. */
export function bootstrapConfig(statusPort: number): string {
    return [
        "# safe-release router bootstrap: no version routed yet",
        "worker_processes 1;",
        "events { worker_connections 64; }",
        "http {",
        "    access_log off;",
        `    server { listen 127.0.0.1:${statusPort}; location / { return 200 '{"status":"bootstrap"}\\n'; } }`,
        "}",
        "",
    ].join("\n");
}

/** `-g` directives the rendered config leaves to the host: where the pid file and the error log go. */
export function hostDirectives(paths: RouterPaths, foreground: boolean): string {
    return `${foreground ? "daemon off; " : ""}pid ${paths.pid}; error_log ${paths.errorLog};`;
}

/** The router's directories exist and hold a config nginx can start from. */
export function prepareRouter(paths: RouterPaths, statusPort: number): void {
    fs.mkdirSync(paths.temp, { recursive: true });
    // nginx's workers (not root) write request buffers here.
    fs.chmodSync(paths.temp, 0o1777);
    if (!fs.existsSync(paths.config)) writeAtomically(paths.config, bootstrapConfig(statusPort));
}

export interface ApplyRequest {
    readonly nginx: string;
    readonly paths: RouterPaths;
    readonly config: string;
    readonly statusUrl: string;
    /** Version → slot of what the new config routes to; recorded once it serves. */
    readonly slots: Record<string, number>;
    readonly timeoutMs: number;
    readonly manager: ManagerOptions;
    readonly program: string;
}

/**
 * Loads a rendered config into the running router: written beside the live one,
 * checked by `nginx -t`, renamed over it, then a reload (SIGHUP: old workers
 * finish their requests), and a wait until the status port answers with the new
 * fingerprint. A config nginx refuses never replaces the one that serves. Only
 * then is the live set recorded.
 */
export async function applyRouterConfig(req: ApplyRequest): Promise<{ fingerprint: string }> {
    const fingerprint = readConfigFingerprint(req.config);
    const next = `${req.paths.config}.next`;
    writeAtomically(next, req.config);
    const test = await exec(req.nginx, ["-t", "-q", "-c", next, "-g", hostDirectives(req.paths, false)]);
    if (test.code !== 0) {
        fs.rmSync(next, { force: true });
        throw new ServiceError(`nginx refused the new router config (the old one still serves): ${test.output}`);
    }
    fs.renameSync(next, req.paths.config);
    const pid = Number(fs.readFileSync(req.paths.pid, "utf8").trim());
    if (!Number.isInteger(pid) || pid <= 0) throw new ServiceError(`${req.paths.pid} holds no pid; is the router program running?`);
    process.kill(pid, "SIGHUP");
    await waitHealthy(req.manager, { program: req.program, url: req.statusUrl, expect: fingerprint, timeoutMs: req.timeoutMs });
    writeAtomically(req.paths.live, `${JSON.stringify(req.slots)}\n`);
    return { fingerprint };
}
