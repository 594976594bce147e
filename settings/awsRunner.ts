import { ConfigError, Plain, fail, optionalString } from "./checks";
import type { BackupStore } from "./data";
import { parseDuration } from "../core/duration";

/**
 * Where the aws-ecs data steps and smoke tests run. `task`: as one-off ECS tasks of the
 * release runner image, in the service's subnets and security group, so `pulumi up` works
 * from a runner outside the VPC (the release workflow's hosted runner). `local`: on the
 * machine running Pulumi, which must then reach the database and the test listener.
 */
export type DataStepsIn = "task" | "local";

export interface RunnerSettings {
    /** @default "task" */
    readonly dataStepsIn: DataStepsIn;
    /** `<repo>@sha256:<64 hex>`: the runner image built from `runner/Dockerfile`; set whenever `dataStepsIn` is `task`. */
    readonly runnerImage?: string;
    /** How long one data step's task may run before it is stopped and the step fails. @default "30m" */
    readonly dataStepTimeout: string;
}

export const RUNNER_KEYS = ["dataStepsIn", "runnerImage", "dataStepTimeout"] as const;

export const RUNNER_IMAGE_EXAMPLE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/safe-release-runner@sha256:<64 hex>";
const PINNED_IMAGE = /^[a-z0-9][a-z0-9._\-/:]*[a-z0-9]@sha256:[0-9a-f]{64}$/;
const DURATION = /^\d+(s|m|h)$/;

export function parseRunnerSettings(key: string, raw: Plain): RunnerSettings {
    const dataStepsIn = optionalString(`${key}.dataStepsIn`, raw.dataStepsIn) ?? "task";
    if (dataStepsIn !== "task" && dataStepsIn !== "local") {
        fail(
            `${key}.dataStepsIn`,
            '"task" (the data steps run as ECS tasks of `runnerImage` inside the VPC) or "local" (on the machine running Pulumi)',
            raw.dataStepsIn,
        );
    }
    const runnerImage = optionalString(`${key}.runnerImage`, raw.runnerImage);
    if (runnerImage !== undefined && !PINNED_IMAGE.test(runnerImage)) {
        fail(`${key}.runnerImage`, `the runner image by digest, such as \`${RUNNER_IMAGE_EXAMPLE}\``, runnerImage);
    }
    if (dataStepsIn === "task" && runnerImage === undefined) {
        throw new ConfigError(
            `\`${key}.runnerImage\` is required when \`${key}.dataStepsIn\` is "task" (the default): the data steps and smoke tests ` +
                `run as ECS tasks of that image inside the VPC; build it from runner/Dockerfile and set it by digest, such as ` +
                `\`runnerImage: ${RUNNER_IMAGE_EXAMPLE}\`, or set \`dataStepsIn: local\` to run them on the machine running Pulumi (inside the VPC)`,
        );
    }
    const dataStepTimeout = optionalString(`${key}.dataStepTimeout`, raw.dataStepTimeout) ?? "30m";
    if (!DURATION.test(dataStepTimeout) || !withinADay(dataStepTimeout)) {
        fail(`${key}.dataStepTimeout`, "a duration from 1s to 24h such as `45m` or `2h`", dataStepTimeout);
    }
    return { dataStepsIn, ...(runnerImage !== undefined ? { runnerImage } : {}), dataStepTimeout };
}

/** Above zero and at most 24h, as the runner's `ecs-task --timeout` takes it (core/duration.ts). */
function withinADay(text: string): boolean {
    try {
        return parseDuration(text, "release:aws.dataStepTimeout") > 0;
    } catch {
        return false;
    }
}

/**
 * A runner task's disk goes with the task: where its steps write backups, the store must
 * outlive it. Checked once the data settings are known (`release:backup`).
 */
export function checkRunnerStore(runner: RunnerSettings | undefined, store: BackupStore, writesBackups: boolean): void {
    if (runner?.dataStepsIn !== "task" || !writesBackups || store.kind === "s3") return;
    throw new ConfigError(
        `\`release:backup.store\` must be an S3 store (\`s3://<bucket>/<prefix>\`) when \`release:aws.dataStepsIn\` is "task": ` +
            `the backup runs in an ECS task, whose disk goes with it; got the directory ${JSON.stringify(store.location)}`,
    );
}
