import { Writable } from "stream";
import { maskSecrets } from "../core/mask";
import { FlagSpec, parseFlags, UsageError } from "../core/args";
import { parseDuration } from "../core/duration";
import { parseAnalysisConfig, parseNotifyConfig, parseSemVerTag, parseSteps } from "../core/gateConfig";
import { EventLog } from "./events";
import { CloudWatchSource, parseCloudWatchTarget, parseRegion } from "./metrics/cloudwatch";
import { NginxAccessLogSource } from "./metrics/nginxLog";
import { PrometheusSource } from "./metrics/prometheus";
import { promote } from "./promote";
import { rollback } from "./rollback";
import { GitStackFile, GitStackFileOptions, StackFileRecorder } from "./stackFile";
import { CONFIG_KEYS, MetricSource, ReleaseStack } from "./types";

export const PROMOTE_USAGE = `usage: promote <stack> [--steps 10,50,100] [--bake 5m] [--retire] [--dry-run] [--no-commit]
               (--metrics-url <url> | --access-log <path> | --cloudwatch <tg>,<lb> [--region <r>])
               [metric options] [--cwd <dir>]

Shifts traffic to \`release:version\` one weight at a time (\`release:canaryWeight\`,
then pulumi up), bakes each weight while sampling the canary every
\`release:analysis.intervalSeconds\`, and on a breach sets the weight back to 0
and runs pulumi up on its own (exit 1). A bake in which no window had
\`release:analysis.minRequests\` requests is inconclusive: it holds the weight and
exits 1, or reverts with \`release:analysis.onInconclusive: revert\`. With --retire,
after the bake at 100, removes \`release:previous\` and runs pulumi up.

Each step commits its change of Pulumi.<stack>.yaml on its own (subject
\`release(<stack>): canary v1.5.0 10 → 50\`), so the release workflow deploys what
the driver did; it refuses to start while that file has uncommitted changes.

  --steps <list>           increasing weights from 1 to 100 (default 10,50,100)
  --bake <duration>        time each weight must stay healthy: 90s, 5m, 1h (default 5m)
  --retire                 retire the previous version after the last bake (needs a last step of 100)
  --dry-run                print the steps, config changes and a preview summary; change nothing
  --no-commit              print each step's git commit command instead of running it
  --metrics-url <url>      Prometheus text endpoint of the service
  --access-log <path>      the router's JSON access log (fields version, status, request_time)
  --cloudwatch <tg>,<lb>   aws-ecs: the canary target group's ALB metrics in CloudWatch, read
                           with the AWS SDK (credential chain, AWS_REGION/AWS_PROFILE); the ARN suffixes targetgroup/<name>/<id> and
                           app/<name>/<id> (the stack outputs do not carry them: copy them from
                           \`aws elbv2 describe-target-groups\` or the console). CloudWatch has
                           whole minutes only: a window shorter than a minute reads the minutes
                           around it
  --region <region>        the region of --cloudwatch (default: AWS_REGION or the profile's)
  --requests-metric <name> counter of requests (default http_requests_total)
  --status-label <name>    its status label (default status)
  --duration-metric <name> latency histogram in seconds (default http_request_duration_seconds)
  --version-label <name>   label naming the version (default version)
  --cwd <dir>              the Pulumi project directory (default: the current one)

Events promote_start, promote_revert and promote_complete are printed as JSON lines on
stdout and POSTed to \`release:notify.webhookUrl\` when set.`;

export const ROLLBACK_USAGE = `usage: rollback <stack> [--to vX.Y.Z] [--dry-run] [--cwd <dir>]

Redeploys the last known good version: \`release:version\` = the target,
\`release:previous\` = the current version (kept warm, so the rollback can be undone
as fast and the database's schema head stays served), \`release:canaryWeight\` = 100,
then pulumi up. Without --to, the target is the version of the newest successful
update in the stack history that differs from the current one. A target older than
the stack output \`schemaHead\` is refused unless \`release:restoreFrom\` is set.
The change of Pulumi.<stack>.yaml is committed (subject \`release(<stack>): rollback
v1.5.0 → v1.4.2\`); it refuses to start while that file has uncommitted changes.

  --to <tag>    the version to roll back to, vMAJOR.MINOR.PATCH
  --dry-run     print the config changes and a preview summary; change nothing
  --no-commit   print the git commit command instead of running it
  --cwd <dir>   the Pulumi project directory (default: the current one)

Events rollback_start and rollback_complete are printed as JSON lines on stdout and
POSTed to \`release:notify.webhookUrl\` when set.`;

export interface CliIO {
    readonly env: NodeJS.ProcessEnv;
    readonly stdout: Writable;
    readonly stderr: Writable;
    readonly now?: () => number;
    readonly sleep?: (ms: number) => Promise<void>;
}

export interface CliDeps {
    openStack(name: string, workDir: string): Promise<ReleaseStack>;
    /** Where each step's stack file change is recorded. @default git in the project directory */
    openStackFile?(options: GitStackFileOptions): StackFileRecorder;
}

const defaultDeps: Required<CliDeps> = {
    async openStack(name, workDir) {
        // Loaded only when used, so `--help` and argument errors need no Pulumi CLI.
        const { openAutomationStack } = await import("./automationStack");
        return openAutomationStack(name, workDir);
    },
    openStackFile: (options) => new GitStackFile(options),
};

/** Credentials that may surface in update output; masked in every line the drivers write. */
const SECRET_ENV = [
    "SMOKE_OPERATOR_TOKEN",
    "PULUMI_ACCESS_TOKEN",
    "PULUMI_CONFIG_PASSPHRASE",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "DATABASE_URL",
];

const VALUE_FLAGS = {
    promote: [
        "--steps",
        "--bake",
        "--metrics-url",
        "--access-log",
        "--cloudwatch",
        "--region",
        "--requests-metric",
        "--status-label",
        "--duration-metric",
        "--version-label",
        "--cwd",
    ],
    rollback: ["--to", "--cwd"],
};
const SWITCHES = { promote: ["--retire", "--dry-run", "--no-commit"], rollback: ["--dry-run", "--no-commit"] };

export function parseArguments(
    command: "promote" | "rollback",
    args: readonly string[],
): { stack: string; flags: Map<string, string | true> } {
    const spec: FlagSpec = Object.fromEntries([
        ...VALUE_FLAGS[command].map((flag) => [flag.slice(2), "value" as const]),
        ...SWITCHES[command].map((flag) => [flag.slice(2), "switch" as const]),
    ]);
    const parsed = parseFlags(args, spec, { max: 1, name: "<stack>" });
    if (parsed.rest.length > 0) throw new UsageError(`unknown argument \`--\`; ${command} runs no program of its own`);
    const stack = parsed.positionals[0];
    if (stack === undefined) throw new UsageError(`the stack name is required, such as \`${command} prod\``);
    const flags = new Map<string, string | true>([
        ...[...parsed.values].map(([name, value]): [string, string] => [`--${name}`, value]),
        ...[...parsed.switches].map((name): [string, true] => [`--${name}`, true]),
    ]);
    return { stack, flags };
}

function flagText(flags: Map<string, string | true>, name: string): string | undefined {
    const value = flags.get(name);
    return typeof value === "string" ? value : undefined;
}

const METRIC_SOURCES = ["--metrics-url", "--access-log", "--cloudwatch"];

/** Exactly one metric source, unless nothing will be sampled (a dry run); `--region` only with `--cloudwatch`. */
function checkMetricSource(flags: Map<string, string | true>, dryRun: boolean): void {
    const given = METRIC_SOURCES.filter((flag) => flags.has(flag));
    if (given.length > 1) {
        throw new UsageError(
            `give one metric source: \`--metrics-url\`, \`--access-log\` or \`--cloudwatch\`; got ${given.map((flag) => `\`${flag}\``).join(" and ")}`,
        );
    }
    if (given.length === 0 && !dryRun) {
        throw new UsageError(
            "promote needs a metric source: `--metrics-url <url>`, `--access-log <path>` or `--cloudwatch <targetGroupArnSuffix>,<loadBalancerArnSuffix>`",
        );
    }
    if (flags.has("--region") && !flags.has("--cloudwatch")) throw new UsageError("`--region` applies to `--cloudwatch` only");
    const cloudwatch = flagText(flags, "--cloudwatch");
    if (cloudwatch !== undefined) parseCloudWatchTarget(cloudwatch);
    const region = flagText(flags, "--region");
    if (region !== undefined) parseRegion(region);
}

function buildMetrics(flags: Map<string, string | true>, version: string | undefined, env: NodeJS.ProcessEnv): MetricSource | undefined {
    const url = flagText(flags, "--metrics-url");
    const log = flagText(flags, "--access-log");
    const cloudwatch = flagText(flags, "--cloudwatch");
    if (cloudwatch !== undefined) {
        const region = flagText(flags, "--region");
        return new CloudWatchSource({ ...parseCloudWatchTarget(cloudwatch), ...(region === undefined ? {} : { region }), env });
    }
    if (url !== undefined) {
        if (!/^https?:\/\/[^/\s]+/.test(url))
            throw new UsageError(`\`--metrics-url\` must be an http:// or https:// URL; got ${JSON.stringify(url)}`);
        return new PrometheusSource({
            url,
            version,
            versionLabel: flagText(flags, "--version-label"),
            requestsMetric: flagText(flags, "--requests-metric"),
            statusLabel: flagText(flags, "--status-label"),
            durationMetric: flagText(flags, "--duration-metric"),
        });
    }
    if (log !== undefined) return version === undefined ? undefined : new NginxAccessLogSource(log, version);
    return undefined;
}

export async function main(argv: readonly string[], io: CliIO, deps: CliDeps = defaultDeps): Promise<number> {
    const [command, ...args] = argv;
    if (command !== "promote" && command !== "rollback") {
        io.stderr.write(`usage: cli.ts promote|rollback <stack> [options]   (--help for details)\n`);
        return command === "--help" || command === "-h" ? 0 : 2;
    }
    if (args.includes("--help") || args.includes("-h")) {
        io.stderr.write(`${command === "promote" ? PROMOTE_USAGE : ROLLBACK_USAGE}\n`);
        return 0;
    }
    const secrets = SECRET_ENV.map((name) => io.env[name]).filter((v): v is string => !!v);
    let log: EventLog | undefined;
    try {
        const { stack: stackName, flags } = parseArguments(command, args);
        const steps = parseSteps(flagText(flags, "--steps") ?? "10,50,100");
        const bakeMs = parseDuration(flagText(flags, "--bake") ?? "5m", "--bake");
        const to = flagText(flags, "--to");
        if (to !== undefined) parseSemVerTag(to);
        const dryRun = flags.has("--dry-run");
        if (command === "promote") checkMetricSource(flags, dryRun);
        const workDir = flagText(flags, "--cwd") ?? process.cwd();
        const stack = await deps.openStack(stackName, workDir);
        const notifyRaw = await stack.getConfig(CONFIG_KEYS.notify);
        const webhookUrl = notifyRaw === undefined ? undefined : parseNotifyConfig(notifyRaw).webhookUrl;
        const driverIO = {
            progress: (line: string) => io.stderr.write(`${line}\n`),
            events: (line: string) => io.stdout.write(`${line}\n`),
            now: io.now,
            sleep: io.sleep,
        };
        log = new EventLog({ io: driverIO, stack: stackName, webhookUrl, secrets });
        const progress = log.progress.bind(log);
        const openStackFile = deps.openStackFile ?? defaultDeps.openStackFile;
        const stackFile = openStackFile({ workDir, stack: stackName, noCommit: flags.has("--no-commit"), progress });
        if (command === "rollback") return await rollback({ stack, log, io: driverIO, stackFile }, { to, dryRun });
        const analysisRaw = await stack.getConfig(CONFIG_KEYS.analysis);
        if (analysisRaw === undefined) {
            throw new Error(
                `\`${CONFIG_KEYS.analysis}\` is not set on stack \`${stackName}\`; promote needs thresholds such as {"intervalSeconds":30,"maxErrorRate":0.01,"maxP95LatencyMs":800,"minRequests":50}`,
            );
        }
        const analysis = parseAnalysisConfig(analysisRaw);
        const metrics = dryRun ? undefined : buildMetrics(flags, await stack.getConfig(CONFIG_KEYS.version), io.env);
        return await promote(
            { stack, metrics, analysis, log, io: driverIO, stackFile },
            { steps, bakeMs, retire: flags.has("--retire"), dryRun },
        );
    } catch (err) {
        const message = (err as Error).message;
        io.stderr.write(`${command}: ${log ? log.mask(message) : maskSecrets(message, secrets)}\n`);
        return err instanceof UsageError || /^`--/.test(message) ? 2 : 1;
    }
}

if (require.main === module) {
    main(process.argv.slice(2), { env: process.env, stdout: process.stdout, stderr: process.stderr }).then(
        (code) => (process.exitCode = code),
        (err) => {
            process.stderr.write(`drivers: ${err instanceof Error ? err.message : String(err)}\n`);
            process.exitCode = 1;
        },
    );
}
