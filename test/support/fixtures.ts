import { StackConfig } from "./mockProviders";

/** A digest that is valid and recognisable: `sha256:` + the hex of `seed` repeated. */
export function digestOf(seed: string): string {
    const hex = Buffer.from(seed).toString("hex");
    return `sha256:${hex.repeat(Math.ceil(64 / hex.length)).slice(0, 64)}`;
}

export const VPC = "vpc-0abc12345def67890";
export const SUBNETS = ["subnet-0aaa1111bbbb2222c", "subnet-0ddd3333eeee4444f"];

/** A backend + frontend service (the Prisma runbook's shape) on aws-ecs, every version pinned. */
export function ecsConfig(overrides: StackConfig = {}, versions = ["v1.4.2", "v1.5.0"]): StackConfig {
    const digests = Object.fromEntries(versions.map((v) => [v, { api: digestOf(`api${v}`), worker: digestOf(`worker${v}`) }]));
    return {
        "release:app": "shop",
        "release:platform": "aws-ecs",
        "release:components": {
            api: { image: "ghcr.io/acme/shop-api", role: "web", port: 8080, healthPath: "/health" },
            worker: { image: "ghcr.io/acme/shop-api", role: "worker", command: ["node", "worker.js"] },
        },
        "release:digests": digests,
        // The data steps as they run on the machine running Pulumi (`dataStepsIn: local`), which the tests' expected
        // commands spell out; test/awsEcsTasks*.test.ts run the same steps as tasks of the release runner.
        "release:aws": { vpcId: VPC, subnetIds: SUBNETS, dataStepsIn: "local" },
        ...overrides,
    };
}
