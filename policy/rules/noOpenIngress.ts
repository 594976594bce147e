import { ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { UNKNOWN, describeResource, readKnown, readKnownList } from "../known";

export const SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup";
export const SECURITY_GROUP_INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule";
export const SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule";

/** The load balancer's listener ports: HTTP and HTTPS. */
export const DEFAULT_ALLOWED_PUBLIC_PORTS: readonly number[] = [80, 443];

export interface NoOpenIngressConfig {
    readonly allowedPublicPorts?: readonly number[];
}

/** One ingress permission: a protocol, a port range and the CIDRs it admits, each possibly unknown at preview. */
export interface IngressPermission {
    /** The field holding the CIDRs, as messages name it. */
    readonly field: string;
    readonly protocol: unknown;
    readonly fromPort: unknown;
    readonly toPort: unknown;
    readonly cidrs: readonly unknown[];
}

/** True for a CIDR that admits every address: `0.0.0.0/0`, `::/0` and their spellings. */
export function isWorldCidr(cidr: string): boolean {
    return /\/0+$/.test(cidr.trim());
}

function isTcp(protocol: unknown): boolean {
    return typeof protocol === "string" && (protocol.toLowerCase() === "tcp" || protocol === "6");
}

/** True when the permission only admits TCP on ports all of which are in `allowedPorts`. */
export function onlyAllowedPorts(protocol: unknown, fromPort: number, toPort: number, allowedPorts: readonly number[]): boolean {
    if (!isTcp(protocol) || fromPort > toPort) {
        return false;
    }
    for (let port = fromPort; port <= toPort; port++) {
        if (!allowedPorts.includes(port)) {
            return false;
        }
    }
    return true;
}

/** "all traffic", "tcp port 22", "udp ports 1000-2000". */
export function describeTraffic(protocol: unknown, fromPort: unknown, toPort: unknown): string {
    const name = String(protocol).toLowerCase();
    if (name === "-1" || name === "all") {
        return "all traffic";
    }
    return fromPort === toPort ? `${name} port ${String(fromPort)}` : `${name} ports ${String(fromPort)}-${String(toPort)}`;
}

function listOf(value: unknown): unknown[] {
    if (value === UNKNOWN) {
        return [UNKNOWN];
    }
    return typeof value === "string" ? [value] : readKnownList(value);
}

/** The ingress permissions a resource grants; `[]` for egress rules and other types. */
export function ingressPermissions(type: string, props: Record<string, unknown>): IngressPermission[] {
    const fromRule = (rule: unknown, prefix: string, v4Field: string, v6Field: string, protocolField: string): IngressPermission[] => {
        const common = {
            protocol: readKnown(rule, protocolField),
            fromPort: readKnown(rule, "fromPort"),
            toPort: readKnown(rule, "toPort"),
        };
        return [
            { field: `${prefix}${v4Field}`, cidrs: listOf(readKnown(rule, v4Field)), ...common },
            { field: `${prefix}${v6Field}`, cidrs: listOf(readKnown(rule, v6Field)), ...common },
        ];
    };
    switch (type) {
        case SECURITY_GROUP:
            return listOf(readKnown(props, "ingress")).flatMap((rule, index) =>
                fromRule(rule, `ingress[${index}].`, "cidrBlocks", "ipv6CidrBlocks", "protocol"),
            );
        case SECURITY_GROUP_INGRESS_RULE:
            return fromRule(props, "", "cidrIpv4", "cidrIpv6", "ipProtocol");
        case SECURITY_GROUP_RULE:
            return readKnown(props, "type") === "ingress" ? fromRule(props, "", "cidrBlocks", "ipv6CidrBlocks", "protocol") : [];
        default:
            return [];
    }
}

/** Violation messages for every permission that opens more than the allowed ports to the internet. */
export function openIngressViolations(
    type: string,
    name: string,
    props: Record<string, unknown>,
    allowedPorts: readonly number[],
): string[] {
    const violations: string[] = [];
    for (const permission of ingressPermissions(type, props)) {
        const { field, protocol, fromPort, toPort } = permission;
        const worldCidrs = permission.cidrs.filter((cidr): cidr is string => typeof cidr === "string" && isWorldCidr(cidr));
        if (worldCidrs.length === 0 || [protocol, fromPort, toPort].includes(UNKNOWN)) {
            continue;
        }
        if (typeof fromPort === "number" && typeof toPort === "number" && onlyAllowedPorts(protocol, fromPort, toPort, allowedPorts)) {
            continue;
        }
        violations.push(
            `\`${field}\` of ${describeResource(type, name)} opens ${describeTraffic(protocol, fromPort, toPort)} ` +
                `to \`${worldCidrs.join("`, `")}\`; only the load balancer's listener ports ` +
                `(\`allowedPublicPorts\`: ${allowedPorts.join(", ")}) may be open to the internet, over tcp`,
        );
    }
    return violations;
}

/** The configured listener ports, validated; the defaults when unset. */
export function allowedPublicPorts(config: NoOpenIngressConfig): readonly number[] {
    const ports = config.allowedPublicPorts ?? DEFAULT_ALLOWED_PUBLIC_PORTS;
    for (const port of ports) {
        if (!Number.isInteger(port) || port < 1 || port > 65535) {
            throw new Error(`\`allowedPublicPorts\` must list integers from 1 to 65535; got ${JSON.stringify(port)}`);
        }
    }
    return ports;
}

export const noOpenIngress: ResourceValidationPolicy = {
    name: "no-open-ingress",
    description: "No security group admits the whole internet except on the load balancer's listener ports.",
    enforcementLevel: "mandatory",
    configSchema: {
        properties: {
            allowedPublicPorts: {
                type: "array",
                items: { type: "integer", minimum: 1, maximum: 65535 },
                default: [...DEFAULT_ALLOWED_PUBLIC_PORTS],
                description: "TCP ports that may be open to 0.0.0.0/0 and ::/0: the load balancer's listener ports.",
            },
        },
    },
    validateResource: (args: ResourceValidationArgs, reportViolation) => {
        const ports = allowedPublicPorts(args.getConfig<NoOpenIngressConfig>());
        for (const message of openIngressViolations(args.type, args.name, args.props, ports)) {
            reportViolation(message);
        }
    },
};
