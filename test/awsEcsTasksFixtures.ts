import { SUBNETS, VPC, digestOf, ecsConfig } from "./support/fixtures";
import { resource } from "./support/inspect";
import { ProgramRun, runProgram } from "./support/mockEngine";
import { StackConfig } from "./support/mockProviders";

/** The shop service on aws-ecs with `dataStepsIn: task` (the default): its data steps and smoke tests run as tasks of the release runner. */

export const DATABASE_URL = "postgres://shop:s3cr3t-pw@db.internal:5432/shop";
export const TOKEN = "op-token-7f3a9c";
export const RUNNER_IMAGE = `123456789012.dkr.ecr.eu-west-1.amazonaws.com/safe-release-runner@${digestOf("runner")}`;
export const STORE = "s3://shop-backups/prod";
export const SMOKE = [
    { name: "health", path: "/health" },
    { name: "internal", path: "/health/internal", useOperatorToken: true },
];
export const OPS = "node ops/bin/safe-release-ops.js";
export const CLUSTER = "arn:aws:mock:eu-west-1:123456789012:shop-ecs";
export const RUNNER_TASK_DEFINITION = "arn:aws:mock:eu-west-1:123456789012:shop-ecs-runner";
export const SERVICE_GROUP = "shop-ecs-service-id";
export const SECRET_KEYS = ["release:databaseUrl", "release:smokeOperatorToken"];

/** `ecs-task` of the runner task definition in the service's subnets and security group, as every runner step starts it. */
export function runnerTask(timeout: string, maskEnv: string | undefined, inner: string): string {
    return (
        `${OPS} ecs-task --cluster ${CLUSTER} --task-definition ${RUNNER_TASK_DEFINITION} --container runner ` +
        `--subnets ${SUBNETS.join(",")} --security-groups ${SERVICE_GROUP} --timeout ${timeout} --ops-result ` +
        `${maskEnv !== undefined ? `--mask-env ${maskEnv} ` : ""}-- ${inner}`
    );
}

export function taskConfig(overrides: StackConfig = {}, aws: Record<string, unknown> = {}): StackConfig {
    return ecsConfig({
        // Internal: the smoke tasks reach the test listener from the VPC's range (an internet-facing one needs testListenerCidrs).
        "release:aws": { vpcId: VPC, subnetIds: SUBNETS, runnerImage: RUNNER_IMAGE, internal: true, ...aws },
        "release:databaseUrl": DATABASE_URL,
        "release:smokeOperatorToken": TOKEN,
        "release:smoke": SMOKE,
        "release:database": { ledger: "prisma", migrationsDir: "prisma/migrations", criticalTables: ["users"], rdsInstance: "shop-db" },
        "release:backup": { store: STORE },
        "release:migrate": { command: "npx prisma migrate deploy", component: "api", quiesce: ["worker"] },
        ...overrides,
    });
}

/** The first deploy of v1.4.2, then the start of v1.5.0's release beside it: every data step runs. */
export async function startRelease(
    overrides: StackConfig = {},
    aws: Record<string, unknown> = {},
): Promise<{ first: ProgramRun; run: ProgramRun }> {
    const first = await runProgram({ config: taskConfig({ "release:version": "v1.4.2", ...overrides }, aws), secretKeys: SECRET_KEYS });
    const run = await runProgram({
        config: taskConfig({ "release:version": "v1.5.0", "release:previous": "v1.4.2", "release:canaryWeight": 0, ...overrides }, aws),
        secretKeys: SECRET_KEYS,
        lastOutputs: first.outputs,
    });
    return { first, run };
}

export const command = (run: ProgramRun, name: string) => resource(run, "command:local:Command", name);

/** The ops argv a runner step carries after its first ` -- `: what the local command would have run itself. */
export function innerArgv(create: string): string {
    const at = create.indexOf(" -- ");
    if (at < 0) throw new Error(`not a runner step: ${create}`);
    return create.slice(at + " -- ".length);
}
