import * as fs from "fs";
import * as path from "path";
import { parseArgs } from "util";
import { readConfigFingerprint, renderNginxConfig, RouterSpec } from "../../core/nginxConfig";
import { OpsCommand, OpsIO, UsageError } from "../command";

const usage = `usage: safe-release-ops router render --spec <spec.json> [--out <nginx.conf>]

Renders the single-host router's nginx.conf from a router spec (JSON): listenPort, statusPort,
versions [{name, weight, directPort}], components [{name, pathPrefix, backends {version: [host:port]}}]
and the optional timeouts, workerProcesses, accessLogPath, tempDirectory.

Without --out the config is printed on stdout. With --out it is written next to the target and
renamed over it (nginx never reads half a file), and stdout gets {"path", "fingerprint"}: after
\`nginx -s reload\`, GET <healthPath> on the status port answers with that fingerprint once the
new config is serving.
`;

function parse(args: string[]): { spec: string; out?: string } {
    const [subcommand, ...rest] = args;
    if (subcommand !== "render") throw new UsageError(`the subcommand must be \`render\`; got ${JSON.stringify(subcommand ?? "")}`);
    let values: { spec?: string; out?: string };
    try {
        values = parseArgs({ args: rest, options: { spec: { type: "string" }, out: { type: "string" } }, strict: true }).values;
    } catch (err) {
        throw new UsageError((err as Error).message.replace(/\. To specify a positional argument.*$/s, ""));
    }
    if (!values.spec) throw new UsageError("`--spec` must name a router spec JSON file; got nothing");
    if (values.out === "") throw new UsageError("`--out` must name a file; got nothing");
    return { spec: values.spec, out: values.out };
}

/** The spec file as a RouterSpec; only its outline is checked here, `renderNginxConfig` checks the rest. */
export function readRouterSpec(file: string): RouterSpec {
    const text = fs.readFileSync(file, "utf8");
    let parsed: unknown;
    try {
        parsed = JSON.parse(text);
    } catch (err) {
        throw new UsageError(`\`--spec\` ${file} is not JSON: ${(err as Error).message}`);
    }
    const outline = parsed as Partial<Record<keyof RouterSpec, unknown>> | null;
    const components = outline?.components;
    const wellFormed =
        typeof outline === "object" &&
        outline !== null &&
        !Array.isArray(outline) &&
        Array.isArray(outline.versions) &&
        outline.versions.every((v) => typeof v === "object" && v !== null) &&
        Array.isArray(components) &&
        components.every(
            (c) =>
                typeof c === "object" &&
                c !== null &&
                typeof c.backends === "object" &&
                c.backends !== null &&
                Object.values(c.backends).every((list) => Array.isArray(list)),
        );
    if (!wellFormed) {
        throw new UsageError(
            `\`--spec\` ${file} must be an object with \`versions\` [{name, weight, directPort}] and \`components\` [{name, pathPrefix, backends}]`,
        );
    }
    return parsed as RouterSpec;
}

export function renderFromFile(file: string): string {
    const spec = readRouterSpec(file);
    try {
        return renderNginxConfig(spec);
    } catch (err) {
        throw new UsageError((err as Error).message);
    }
}

async function render(args: string[], io: OpsIO): Promise<number> {
    const { spec, out } = parse(args);
    let config: string;
    try {
        config = renderFromFile(spec);
    } catch (err) {
        if (err instanceof UsageError) throw err;
        io.stderr.write(`router: ${(err as Error).message}\n`);
        return 1;
    }
    if (out === undefined) {
        io.stdout.write(config);
        return 0;
    }
    const staging = path.join(path.dirname(out), `.${path.basename(out)}.${process.pid}.tmp`);
    try {
        fs.writeFileSync(staging, config);
        fs.renameSync(staging, out);
    } catch (err) {
        fs.rmSync(staging, { force: true });
        io.stderr.write(`router: ${(err as Error).message}\n`);
        return 1;
    }
    io.stdout.write(`${JSON.stringify({ path: out, fingerprint: readConfigFingerprint(config) })}\n`);
    return 0;
}

export const command: OpsCommand = {
    name: "router",
    summary: "render the single-host router's nginx.conf from a router spec",
    usage,
    run: render,
};
