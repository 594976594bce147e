import * as fs from "fs";
import { OpsCommand, OpsIO, UsageError } from "../command";
import { parseSmokeConfig } from "../../core/smokeConfig";
import { runSmoke } from "../smoke/runner";

const usage = `usage: safe-release-ops smoke --base-url <url> --checks <json file> [--header Name:Value]...
       safe-release-ops smoke --base-url <url> --checks-json '<json>' [--header Name:Value]...

Runs the checks and flows of \`release:smoke\` (the JSON list of --checks or --checks-json) against
<url>, one after another, each with its own timeout. A flow's steps run in order and
share captured values (\`{{var}}\`); a failed step skips the rest of its flow.

  --base-url <url>       where the service answers, e.g. https://canary.example.com
  --checks <file>        JSON file holding the \`release:smoke\` list (\`-\`: read it from stdin)
  --checks-json <json>   the list itself, where there is no stdin (a one-off ECS task); it holds
                         no secret: the operator token still comes from the environment
  --header Name:Value    extra header on every request, e.g. X-Release-Target:v1.5.0 (repeatable)

environment:
  SMOKE_OPERATOR_TOKEN   sent as \`Authorization: Bearer …\` by checks with useOperatorToken; never printed

stdout: one JSON document {ok, passed, failed, results:[{name, method, path, status, durationMs, ok, error?}]}
exit: 0 when every check passes, 1 when any fails, 2 for bad arguments or checks`;

export interface SmokeArguments {
    readonly baseUrl: string;
    /** Where the \`release:smoke\` list comes from: a file (\`-\` for stdin) or the argument itself. */
    readonly checks: { readonly file: string } | { readonly json: string };
    readonly headers: Record<string, string>;
}

export function parseSmokeArguments(args: readonly string[]): SmokeArguments {
    let baseUrl: string | undefined;
    let checksFile: string | undefined;
    let checksJson: string | undefined;
    const headers: Record<string, string> = {};
    for (let i = 0; i < args.length; i++) {
        const flag = args[i];
        const value = args[i + 1];
        if (flag !== "--base-url" && flag !== "--checks" && flag !== "--checks-json" && flag !== "--header") {
            throw new UsageError(`unknown argument \`${flag}\`; valid: --base-url, --checks, --checks-json, --header`);
        }
        if (value === undefined) throw new UsageError(`\`${flag}\` needs a value`);
        i++;
        if (flag === "--base-url") baseUrl = value;
        else if (flag === "--checks") checksFile = value;
        else if (flag === "--checks-json") checksJson = value;
        else {
            const colon = value.indexOf(":");
            const name = colon > 0 ? value.slice(0, colon).trim() : "";
            if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) {
                throw new UsageError(`\`--header\` must be Name:Value, such as X-Release-Target:v1.5.0; got ${JSON.stringify(value)}`);
            }
            if (name.toLowerCase() === "authorization") {
                throw new UsageError(
                    "`--header Authorization` would put a credential on the command line; set `SMOKE_OPERATOR_TOKEN` and `useOperatorToken` instead",
                );
            }
            headers[name] = value.slice(colon + 1).trim();
        }
    }
    if (baseUrl === undefined) throw new UsageError("`--base-url` is required, such as --base-url http://127.0.0.1:8080");
    if (!/^https?:\/\/[^/\s]+/.test(baseUrl))
        throw new UsageError(`\`--base-url\` must be an http:// or https:// URL; got ${JSON.stringify(baseUrl)}`);
    if (checksFile !== undefined && checksJson !== undefined) {
        throw new UsageError("`--checks` and `--checks-json` both give the checks; give exactly one of them");
    }
    if (checksJson !== undefined) return { baseUrl, checks: { json: checksJson }, headers };
    if (checksFile === undefined) {
        throw new UsageError(
            "`--checks` or `--checks-json` is required: a JSON file holding the `release:smoke` list (`-`: stdin), or the list itself",
        );
    }
    return { baseUrl, checks: { file: checksFile }, headers };
}

async function run(args: string[], io: OpsIO): Promise<number> {
    const parsed = parseSmokeArguments(args);
    const text = "json" in parsed.checks ? parsed.checks.json : await readChecksFile(parsed.checks.file, io);
    let items;
    try {
        items = parseSmokeConfig(text);
    } catch (err) {
        throw new UsageError((err as Error).message);
    }
    const operatorToken = io.env.SMOKE_OPERATOR_TOKEN || undefined;
    let report;
    try {
        report = await runSmoke(items, {
            baseUrl: parsed.baseUrl,
            headers: parsed.headers,
            operatorToken,
            onProgress: (line) => io.stderr.write(`${line}\n`),
        });
    } catch (err) {
        throw new UsageError((err as Error).message);
    }
    for (const failure of report.results.filter((r) => r.error !== undefined)) io.stderr.write(`${failure.error}\n`);
    io.stderr.write(`smoke: ${report.passed} passed, ${report.failed} failed\n`);
    io.stdout.write(`${JSON.stringify(report)}\n`);
    return report.ok ? 0 : 1;
}

export const command: OpsCommand = {
    name: "smoke",
    summary: "run the release's smoke checks and flows against a base URL",
    usage,
    run,
};

async function readChecksFile(file: string, io: OpsIO): Promise<string> {
    try {
        // `-` reads the list from stdin, which is how the SmokeTest resource passes it on the machine running Pulumi.
        return file === "-" ? await readAll(io.stdin ?? process.stdin) : fs.readFileSync(file, "utf8");
    } catch (err) {
        throw new UsageError(`\`--checks\` file cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
}

function readAll(stream: NodeJS.ReadableStream): Promise<string> {
    return new Promise((resolve, reject) => {
        let text = "";
        stream.setEncoding("utf8");
        stream.on("data", (chunk) => (text += chunk));
        stream.on("end", () => resolve(text));
        stream.on("error", reject);
    });
}
