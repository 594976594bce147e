import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ComponentSpec } from "../../settings/components";
import { tagSlug } from "../../core/releaseTags";
import { boundedName } from "../naming";
import { containerDefinition } from "./containerDefinition";
import { EcsShared } from "./ecsVersion";

export interface FargateTaskArgs {
    readonly shared: EcsShared;
    readonly version: string;
    readonly component: ComponentSpec;
    /** `repo@sha256:…` */
    readonly image: pulumi.Input<string>;
    readonly family: string;
}

export function releaseTags(app: string, component: string, version: string): Record<string, string> {
    return { "safe-release:app": app, "safe-release:component": component, "safe-release:version": version };
}

/** A Fargate task definition of one component of one version: its image by digest, environment, secrets and logs. */
export function fargateTaskDefinition(name: string, args: FargateTaskArgs, parent: pulumi.Resource): aws.ecs.TaskDefinition {
    const { shared, version, component } = args;
    const secretArns = shared.secretArns[component.name] ?? {};
    const definitions = pulumi
        .all([args.image, shared.region, shared.logGroupName, pulumi.all(secretArns)])
        .apply(([image, region, logGroup, arns]) =>
            JSON.stringify([containerDefinition({ component, version, image, region, logGroup, secretArns: arns })]),
        );
    return new aws.ecs.TaskDefinition(
        name,
        {
            family: args.family,
            requiresCompatibilities: ["FARGATE"],
            networkMode: "awsvpc",
            cpu: String(component.cpu),
            memory: String(component.memory),
            executionRoleArn: shared.executionRoleArn,
            containerDefinitions: definitions,
            tags: releaseTags(shared.app, component.name, version),
        },
        { parent },
    );
}

/**
 * The task definition a one-off task (the migration) runs: the component with another command,
 * in a family of its own. A rehearsal's reads DATABASE_URL from `databaseUrlSecret` (the copy's)
 * and is `…-oneoff-rehearse-…`: still a one-off family, which is what the release runner may start.
 */
export function oneOffTaskDefinition(
    name: string,
    args: Omit<FargateTaskArgs, "family"> & { readonly databaseUrlSecret?: pulumi.Output<string> },
    parent: pulumi.Resource,
): aws.ecs.TaskDefinition {
    const { databaseUrlSecret, ...task } = args;
    const component = args.component.name;
    const shared =
        databaseUrlSecret === undefined
            ? args.shared
            : {
                  ...args.shared,
                  secretArns: {
                      ...args.shared.secretArns,
                      [component]: { ...args.shared.secretArns[component], DATABASE_URL: databaseUrlSecret },
                  },
              };
    const purpose = databaseUrlSecret === undefined ? ["oneoff"] : ["oneoff", "rehearse"];
    return fargateTaskDefinition(
        name,
        { ...task, shared, family: boundedName([args.shared.app, component, ...purpose, tagSlug(args.version)], 255) },
        parent,
    );
}
