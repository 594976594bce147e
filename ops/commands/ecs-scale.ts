import { OpsCommand, OpsIO } from "../command";
import { formatDuration } from "../flags";
import { DescribeServicesCommand, ECSClient, UpdateServiceCommand } from "@aws-sdk/client-ecs";
import { awsCall, formatElapsed, progress, sleep, withClient } from "../../core/awsClient";
import { reported } from "../report";
import {
    DEFAULT_SCALE_TIMEOUT,
    describeCounts,
    ecsClient,
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

AWS: the AWS SDK's default credential chain and region (AWS_REGION, AWS_PROFILE, …);
AWS_ENDPOINT_URL points it at another AWS-compatible endpoint.
stdout: {"cluster":…,"services":[{"service":…,"previousDesiredCount":…,"desiredCount":…}],"waited":…}
exit status: 0 set (and, with --wait, reached), 1 anything else, 2 usage error.
`;

interface ScaleRun {
    readonly request: EcsScaleRequest;
    readonly io: OpsIO;
    readonly ecs: ECSClient;
}

async function runEcsScale(args: string[], io: OpsIO): Promise<number> {
    const request = parseEcsScaleArgs(args);
    return withClient(ecsClient(io.env), (ecs) => scale({ request, io, ecs }));
}

async function scale(run: ScaleRun): Promise<number> {
    const { request, io, ecs } = run;
    const log = progress("ecs-scale", io.stderr, io.env);
    const before = await describe(run);
    for (const { service, desiredCount } of request.targets) {
        const previous = before.get(service)!.desiredCount;
        if (previous === desiredCount) {
            log(`${service}: desired count is already ${desiredCount}`);
            continue;
        }
        await awsCall(`ECS UpdateService of \`${service}\``, io.env, () =>
            ecs.send(new UpdateServiceCommand({ cluster: request.cluster, service, desiredCount })),
        );
        log(`${service}: desired count ${previous} → ${desiredCount}`);
    }
    const services = request.targets.map(({ service, desiredCount }) => ({
        service,
        previousDesiredCount: before.get(service)!.desiredCount,
        desiredCount,
    }));
    const settled = request.wait ? await waitUntilSettled(run, log) : undefined;
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

async function describe({ request, io, ecs }: ScaleRun): Promise<Map<string, ServiceCounts>> {
    const names = request.targets.map((t) => t.service);
    const output = await awsCall(`ECS DescribeServices of cluster \`${request.cluster}\``, io.env, () =>
        ecs.send(new DescribeServicesCommand({ cluster: request.cluster, services: names })),
    );
    return readServices(output, names, request.cluster);
}

/** Polls until every target has settled; returns what is still unsettled at the deadline (empty when done). */
async function waitUntilSettled(run: ScaleRun, log: (line: string) => void): Promise<string[]> {
    const { request } = run;
    const started = Date.now();
    let lastLine = "";
    for (;;) {
        const counts = await describe(run);
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
