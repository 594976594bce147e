import { OpsCommand, OpsIO } from "../command";
import { formatDuration } from "../flags";
import { callAws, formatElapsed, progress, sleep } from "../../core/awsCli";
import { reported } from "../report";
import {
    DEFAULT_SCALE_TIMEOUT,
    describeCounts,
    EcsScaleRequest,
    parseEcsScaleArgs,
    readServices,
    ServiceCounts,
    unsettled,
} from "../aws/ecsScale";
import { DEFAULT_POLL } from "../aws/ecsTask";

const USAGE = `usage: safe-release-ops ecs-scale --cluster <arn> --service <name>=<count> [--service <name>=<count> …]
                                  [--wait] [--timeout ${DEFAULT_SCALE_TIMEOUT}] [--poll ${DEFAULT_POLL}]

Sets the desired count of ECS services: <name>=0 quiesces writers before a backup and a
migration, <name>=<configured count> resumes them. A service already at its count is left
alone. With --wait, polls until every service runs exactly its desired count with no
task pending; past --timeout the run fails (the desired counts stay as set).

AWS: the AWS CLI v2 (\`aws\` on PATH, or SAFE_RELEASE_AWS_CLI), with region and credentials
from the environment (AWS_REGION, AWS_PROFILE, …).
stdout: {"cluster":…,"services":[{"service":…,"previousDesiredCount":…,"desiredCount":…}],"waited":…}
exit status: 0 set (and, with --wait, reached), 1 anything else, 2 usage error.
`;

async function runEcsScale(args: string[], io: OpsIO): Promise<number> {
    const request = parseEcsScaleArgs(args);
    const log = progress("ecs-scale", io.stderr, io.env);
    const before = await describe(request, io);
    for (const { service, desiredCount } of request.targets) {
        const previous = before.get(service)!.desiredCount;
        if (previous === desiredCount) {
            log(`${service}: desired count is already ${desiredCount}`);
            continue;
        }
        await callAws(
            ["ecs", "update-service", "--cluster", request.cluster, "--service", service, "--desired-count", String(desiredCount)],
            io.env,
        );
        log(`${service}: desired count ${previous} → ${desiredCount}`);
    }
    const services = request.targets.map(({ service, desiredCount }) => ({
        service,
        previousDesiredCount: before.get(service)!.desiredCount,
        desiredCount,
    }));
    const settled = request.wait ? await waitUntilSettled(request, io, log) : undefined;
    const result = {
        cluster: request.cluster,
        services,
        waited: request.wait,
        ...(settled !== undefined ? { settled: settled.length === 0 } : {}),
    };
    io.stdout.write(`${JSON.stringify(result)}\n`);
    if (settled !== undefined && settled.length > 0) {
        log(
            `services did not reach their desired counts within ${formatDuration(request.timeoutMs)} (\`--timeout\`): ${settled.join("; ")}`,
        );
        return 1;
    }
    return 0;
}

function describe(request: EcsScaleRequest, io: OpsIO): Promise<Map<string, ServiceCounts>> {
    const names = request.targets.map((t) => t.service);
    return callAws(["ecs", "describe-services", "--cluster", request.cluster, "--services", ...names], io.env).then((output) =>
        readServices(output, names, request.cluster),
    );
}

/** Polls until every target has settled; returns what is still unsettled at the deadline (empty when done). */
async function waitUntilSettled(request: EcsScaleRequest, io: OpsIO, log: (line: string) => void): Promise<string[]> {
    const started = Date.now();
    let lastLine = "";
    for (;;) {
        const counts = await describe(request, io);
        const pending = unsettled(request.targets, counts);
        const elapsed = Date.now() - started;
        const line = request.targets.map((t) => describeCounts(t, counts)).join("; ");
        if (line !== lastLine) {
            log(`${line} (${formatElapsed(elapsed)})`);
            lastLine = line;
        }
        if (pending.length === 0) return [];
        if (elapsed >= request.timeoutMs) return pending.map((t) => describeCounts(t, counts));
        await sleep(request.pollMs);
    }
}

export const command: OpsCommand = {
    name: "ecs-scale",
    summary: "set ECS services' desired counts (quiesce writers, resume them) and wait until they run that many",
    usage: USAGE,
    run: (args, io) => reported("ecs-scale", io, () => runEcsScale(args, io)),
};
