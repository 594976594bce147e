import * as aws from "@pulumi/aws";
import { ComponentSpec } from "../../settings/components";
import { WeightedVersion } from "../platform";

/**
 * The weighted forward action of one web component: one target group per live
 * version, weighted by the plan. ALB weights are relative, so percentages are
 * used as they are; a weight of 0 keeps the version attached but sends it nothing.
 */
export function forwardAction(component: string, versions: WeightedVersion[]): aws.types.input.lb.ListenerDefaultAction {
    return {
        type: "forward",
        forward: {
            targetGroups: versions.map((v) => ({ arn: v.deployed.targets[component], weight: v.weight })),
            stickiness: { enabled: false, duration: 1 },
        },
    };
}

export interface RouteRule {
    readonly component: string;
    readonly priority: number;
    readonly paths: string[];
    readonly action: aws.types.input.lb.ListenerDefaultAction;
}

/**
 * Path rules for the web components that own a `pathPrefix`. Longer prefixes
 * get lower (earlier) priorities so `/api/admin` wins over `/api`.
 */
export function routeRules(components: ComponentSpec[], versions: WeightedVersion[]): RouteRule[] {
    return components
        .filter((c) => c.role === "web" && c.pathPrefix !== undefined)
        .sort((a, b) => b.pathPrefix!.length - a.pathPrefix!.length || a.pathPrefix!.localeCompare(b.pathPrefix!))
        .map((c, index) => ({
            component: c.name,
            priority: (index + 1) * 10,
            paths: [c.pathPrefix!, `${c.pathPrefix}/*`],
            action: forwardAction(c.name, versions),
        }));
}
