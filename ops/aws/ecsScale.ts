import { UsageError } from "../command";
import { parseDuration, parseFlags, requireValue } from "../flags";
import { DescribeServicesResponse, ECSClient } from "@aws-sdk/client-ecs";
import { awsClientConfig } from "../../core/awsClient";
import { DEFAULT_POLL, validateNameOrArn } from "./ecsTask";

export const DEFAULT_SCALE_TIMEOUT = "10m";
/** `DescribeServices` describes at most 10 services per call. */
export const MAX_SERVICES = 10;

export interface ScaleTarget {
    readonly service: string;
    readonly desiredCount: number;
}

export interface EcsScaleRequest {
    readonly cluster: string;
    readonly targets: readonly ScaleTarget[];
    readonly wait: boolean;
    readonly timeoutMs: number;
    readonly pollMs: number;
}

/**
 * Pulls every `--<name> v` / `--<name>=v` out of the options (up to `--`), since the
 * shared flag parser allows each option once and `--service` is given once per service.
 */
export function takeRepeated(args: readonly string[], name: string): { values: string[]; rest: string[] } {
    const values: string[] = [];
    const rest: string[] = [];
    for (let i = 0; i < args.length; i++) {
        const arg = args[i];
        if (arg === "--") {
            rest.push(...args.slice(i));
            break;
        }
        if (arg === `--${name}`) {
            const value = args[i + 1];
            if (value === undefined || value.startsWith("--")) throw new UsageError(`\`--${name}\` needs a value`);
            values.push(value);
            i++;
        } else if (arg.startsWith(`--${name}=`)) {
            values.push(arg.slice(name.length + 3));
        } else {
            rest.push(arg);
        }
    }
    return { values, rest };
}

const SERVICE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$/;

/** `worker=0` → { service: "worker", desiredCount: 0 }. */
export function parseServiceTarget(text: string): ScaleTarget {
    const match = /^([^=]*)=(\d{1,5})$/.exec(text);
    if (!match || !SERVICE.test(match[1])) {
        throw new UsageError(`\`--service\` must be <service name>=<desired count> such as worker=0; got \`${text}\``);
    }
    return { service: match[1], desiredCount: Number(match[2]) };
}

export function parseEcsScaleArgs(args: readonly string[]): EcsScaleRequest {
    const repeated = takeRepeated(args, "service");
    const flags = parseFlags(repeated.rest, { cluster: "value", service: "value", wait: "switch", timeout: "value", poll: "value" });
    if (flags.rest.length > 0) throw new UsageError(`unexpected arguments after \`--\`: ${flags.rest.join(" ")}`);
    if (repeated.values.length === 0) throw new UsageError("`--service` is required: <service name>=<desired count>, once per service");
    if (repeated.values.length > MAX_SERVICES) {
        throw new UsageError(`\`--service\` can be given at most ${MAX_SERVICES} times; got ${repeated.values.length}`);
    }
    const targets = repeated.values.map(parseServiceTarget);
    const seen = new Set<string>();
    for (const { service } of targets) {
        if (seen.has(service)) throw new UsageError(`\`--service\` names \`${service}\` twice; give each service once`);
        seen.add(service);
    }
    return {
        cluster: validateNameOrArn(
            requireValue(flags, "cluster", "the ECS cluster of the services"),
            "cluster",
            "an ECS cluster name or ARN",
        ),
        targets,
        wait: flags.switches.has("wait"),
        timeoutMs: parseDuration(flags.values.get("timeout") ?? DEFAULT_SCALE_TIMEOUT, "--timeout"),
        pollMs: parseDuration(flags.values.get("poll") ?? DEFAULT_POLL, "--poll"),
    };
}

export interface ServiceCounts {
    readonly desiredCount: number;
    readonly runningCount: number;
    readonly pendingCount: number;
}

/** The ECS client of one run: region, endpoint and credentials as `env` names them (core/awsClient.ts). */
export function ecsClient(env: NodeJS.ProcessEnv): ECSClient {
    return new ECSClient(awsClientConfig(env, "ECS"));
}

/**
 * The counts of each named service in a `DescribeServices` answer. A service that ECS
 * reports missing, or that is not ACTIVE (being deleted), is an error.
 */
export function readServices(
    describeOutput: DescribeServicesResponse,
    names: readonly string[],
    cluster: string,
): Map<string, ServiceCounts> {
    const found = new Map<string, ServiceCounts>();
    const problems: string[] = [];
    for (const service of describeOutput.services ?? []) {
        const name = service.serviceName;
        if (name === undefined || !names.includes(name)) continue;
        if (service.status !== "ACTIVE") {
            problems.push(`\`${name}\` is ${service.status ?? "of unknown status"}`);
            continue;
        }
        found.set(name, {
            desiredCount: service.desiredCount ?? 0,
            runningCount: service.runningCount ?? 0,
            pendingCount: service.pendingCount ?? 0,
        });
    }
    const missing = names.filter((name) => !found.has(name) && !problems.some((p) => p.startsWith(`\`${name}\` `)));
    if (missing.length > 0) problems.unshift(`not found: ${missing.map((name) => `\`${name}\``).join(", ")}`);
    if (problems.length > 0) {
        throw new Error(`\`--service\` must name ACTIVE services of cluster \`${cluster}\`; ${problems.join("; ")}`);
    }
    return found;
}

/** Targets not there yet: running differs from the new desired count, or tasks are still pending. */
export function unsettled(targets: readonly ScaleTarget[], counts: ReadonlyMap<string, ServiceCounts>): ScaleTarget[] {
    return targets.filter(({ service, desiredCount }) => {
        const current = counts.get(service);
        return current === undefined || current.runningCount !== desiredCount || current.pendingCount !== 0;
    });
}

/** `worker running 2 of 0 (pending 0)`. */
export function describeCounts(target: ScaleTarget, counts: ReadonlyMap<string, ServiceCounts>): string {
    const current = counts.get(target.service);
    const running = current?.runningCount ?? "?";
    const pending = current?.pendingCount ?? "?";
    return `${target.service} running ${running} of ${target.desiredCount} (pending ${pending})`;
}
