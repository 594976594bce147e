import { ComponentSpec } from "../../settings/components";

/** The ECS header that pins a request to one version on the test listener (smoke tests, health gates). */
export const TARGET_HEADER = "X-Release-Target";
/** Port of the test listener, reachable only from inside the VPC. */
export const TEST_LISTENER_PORT = 8443;

export interface ContainerInputs {
    readonly component: ComponentSpec;
    readonly version: string;
    /** `repo@sha256:…` */
    readonly image: string;
    readonly region: string;
    readonly logGroup: string;
    /** Env var name → ARN of the Secrets Manager secret or SSM parameter that ECS injects at start. */
    readonly secretArns: Record<string, string>;
}

/**
 * The container definition of one component of one version, as the plain value
 * ECS expects. Secrets are passed as ARNs (`secrets`), so no secret value ever
 * appears in the task definition.
 */
export function containerDefinition(inputs: ContainerInputs): Record<string, unknown> {
    const { component, version } = inputs;
    const environment = Object.entries({ ...component.env, RELEASE_VERSION: version })
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([name, value]) => ({ name, value }));
    const secrets = Object.entries(inputs.secretArns)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([name, valueFrom]) => ({ name, valueFrom }));
    return {
        name: component.name,
        image: inputs.image,
        essential: true,
        ...(component.command !== undefined ? { command: component.command } : {}),
        portMappings: component.port === undefined ? [] : [{ containerPort: component.port, protocol: "tcp" }],
        environment,
        secrets,
        logConfiguration: {
            logDriver: "awslogs",
            options: {
                "awslogs-group": inputs.logGroup,
                "awslogs-region": inputs.region,
                "awslogs-stream-prefix": `${component.name}/${version}`,
            },
        },
    };
}
