import * as pulumi from "@pulumi/pulumi";
import { ReleaseConfig } from "../settings/release";
// Types only: each adapter's module is required when its platform is chosen (see `choosePlatform`).
import type { EcsPlatform } from "./awsEcs/ecsPlatform";
import type { DockerPlatform } from "./dockerHost/dockerPlatform";
import type { HostPlatform } from "./host/hostPlatform";
import { ListedBackup } from "./data/preUpgradeBackup";
import { listedBackups } from "./backupListing";
import { RollbackCheck, rollbackTarget } from "./data/rollbackCheck";
import { dataSteps } from "./data/upgradeSteps";
import { runsIn } from "./data/stepRunner";
import { PinnedImage } from "./pinnedImage";
import { LastRelease, ReleasePlan, planRelease } from "./plan";
import { DeployedVersion, PlatformAdapter, PlatformArgs, VersionImages } from "./platform";
import { SmokeTest } from "./smokeTest";

export interface ReleaseArgs extends PlatformArgs {
    /** What the last successful update exported; empty before the first deploy. */
    readonly last: LastRelease;
}

/** The stack outputs: what a person or a script needs to act on the release. */
/**
 * The stack's outputs. The release record — `version`, `previous`, `weights`,
 * `schemaHead`, `restoredFrom` — resolves only once everything the update must
 * carry out has succeeded: the engine keeps the outputs a failed update did
 * resolve, so a record resolved up front would claim a migration that failed.
 */
export interface ReleaseOutputs {
    readonly version: pulumi.Output<string>;
    readonly previous?: pulumi.Output<string>;
    /** Version → percent of traffic. */
    readonly weights: pulumi.Output<Record<string, number>>;
    /** Version → component → `repo@sha256:…` */
    readonly images: pulumi.Output<Record<string, Record<string, string>>>;
    /** Version → component → digest, for images whose digest was looked up rather than pinned: copy into `release:digests`. */
    readonly unpinnedDigests: pulumi.Output<Record<string, Record<string, string>>>;
    /** Newest version whose migration has run. */
    readonly schemaHead: pulumi.Output<string>;
    /** Pre-upgrade backups, newest last: the set `prune` keeps, the ids `release:restoreFrom` accepts. */
    readonly backups: pulumi.Output<ListedBackup[]>;
    readonly restoredFrom?: pulumi.Output<string>;
    /** Version → slot on `host`: where each live version listens, kept while it is live. */
    readonly slots?: pulumi.Output<Record<string, number>>;
    /** The rehearsed migration's wall time on a copy, in seconds: how long the writers will about be stopped. */
    readonly rehearsedMigrationSeconds?: pulumi.Output<number | undefined>;
    /** Version → names of the alarms watching it (aws-ecs with `release:analysis`). */
    readonly alarms: Record<string, string[]>;
    readonly transition: string;
    readonly summary: string;
    readonly url: pulumi.Output<string>;
}

/**
 * One release of one service: the plan (live versions, weights, schema head),
 * pinned images for every live version, the data steps of a forward upgrade or a
 * restore, the platform's resources per version, and the weighted routing.
 */
export class Release extends pulumi.ComponentResource {
    public readonly plan: ReleasePlan;
    public readonly outputs: ReleaseOutputs;

    constructor(name: string, args: ReleaseArgs, opts: pulumi.ComponentResourceOptions = {}) {
        // Planning may refuse the config; it does so before the first resource is registered.
        const plan = planRelease({ ...args.config, restoreFrom: args.config.data.restoreFrom }, args.last);
        super("safe-release:index:Release", name, {}, opts);
        const { config, last } = args;
        this.plan = plan;
        const { platform, imageLookup } = choosePlatform(name, args, this);
        const images = Object.fromEntries(plan.live.map((live) => [live.version, this.pinImages(name, config, live.version, imageLookup)]));
        const rollbackGate = this.rollbackChecked(name, config, last, platform, images);
        const data = dataSteps(
            name,
            {
                config,
                plan,
                platform,
                images,
                ...(args.secrets.databaseUrl !== undefined ? { databaseUrl: args.secrets.databaseUrl } : {}),
                running: [last.version, last.previous].filter((v): v is string => v !== undefined),
                after: rollbackGate,
            },
            this,
        );
        const startAfter = [...rollbackGate, ...data.ready];
        const deployed = plan.live.map((live) => platform.deployVersion(live.version, refs(images[live.version]), startAfter));
        // Smoke tests gate the routing where a version is reachable before it (aws-ecs's test listener) and
        // follow it where the router itself reaches the version (docker-host), the version entering at weight 0.
        const gated = deployed.map((version) =>
            version.testEndpoint?.viaRouting ? version : this.smokeTested(name, config, args, platform, version),
        );
        const routing = platform.routeTraffic(gated.map((version, i) => ({ deployed: version, weight: plan.live[i].weight })));
        const routedSmokeTests = deployed
            .filter((version) => version.testEndpoint?.viaRouting)
            .map((version) => this.smokeTested(name, config, args, platform, version, routing.applied));
        const completed = completion([...data.ready, ...routing.applied, ...[...gated, ...routedSmokeTests].flatMap((v) => v.ready)]);
        const recorded = <T>(value: T): pulumi.Output<T> => completed.apply(() => value);
        const restoredFrom = config.data.restoreFrom;
        this.outputs = {
            version: recorded(config.version),
            ...(config.previous !== undefined ? { previous: recorded(config.previous) } : {}),
            weights: recorded(plan.weights),
            images: pulumi.output(Object.fromEntries(Object.entries(images).map(([version, pinned]) => [version, refs(pinned)]))),
            unpinnedDigests: pulumi.output(lookedUpDigests(images)),
            schemaHead: recorded(plan.schemaHead.after),
            backups: data.backups.apply((fresh) => listedBackups(last, fresh, config.data.backup)),
            ...(restoredFrom !== undefined ? { restoredFrom: recorded(restoredFrom) } : {}),
            ...(routing.slots !== undefined ? { slots: pulumi.all([routing.slots, completed]).apply(([slots]) => slots) } : {}),
            ...(data.rehearsedMigrationSeconds !== undefined ? { rehearsedMigrationSeconds: data.rehearsedMigrationSeconds } : {}),
            alarms: Object.fromEntries(deployed.filter((d) => (d.alarmNames ?? []).length > 0).map((d) => [d.version, d.alarmNames!])),
            transition: plan.transition,
            summary: plan.summary,
            url: routing.url,
        };
        this.registerOutputs({ ...this.outputs });
    }

    /**
     * Runs the smoke tests of a version once its services are healthy (and, with
     * `after`, once the routing reaches it); the returned version is ready only
     * when they have passed.
     */
    private smokeTested(
        name: string,
        config: ReleaseConfig,
        args: ReleaseArgs,
        platform: PlatformAdapter,
        deployed: DeployedVersion,
        after: pulumi.Resource[] = [],
    ): DeployedVersion {
        if (config.gates.smoke.length === 0 || deployed.testEndpoint === undefined) return deployed;
        const smoke = new SmokeTest(
            `${name}-smoke-${deployed.version}`,
            {
                version: deployed.version,
                baseUrl: deployed.testEndpoint.baseUrl,
                headers: deployed.testEndpoint.headers,
                checks: config.gates.smokeSource,
                ...(args.secrets.smokeOperatorToken !== undefined ? { operatorToken: args.secrets.smokeOperatorToken } : {}),
                ...runsIn(platform),
            },
            { parent: this, dependsOn: [...deployed.ready, ...after] },
        );
        return { version: deployed.version, targets: deployed.targets, ready: [...deployed.ready, smoke.run] };
    }

    /** The check that the version this update moves forward from can still be started; everything forward waits for it. */
    private rollbackChecked(
        name: string,
        config: ReleaseConfig,
        last: LastRelease,
        platform: PlatformAdapter,
        images: Record<string, Record<string, PinnedImage>>,
    ): pulumi.Resource[] {
        const target = rollbackTarget(config, last);
        if (target === undefined) return [];
        const check = platform.rollbackCheck(target, images[target] !== undefined ? refs(images[target]) : {});
        if (check === undefined) return [];
        return [new RollbackCheck(`${name}-rollback-check-${config.version}`, { version: target, check }, { parent: this }).run];
    }

    private pinImages(
        name: string,
        config: ReleaseConfig,
        version: string,
        lookupProvider: pulumi.ProviderResource | undefined,
    ): Record<string, PinnedImage> {
        return Object.fromEntries(
            config.components.map((component) => [
                component.name,
                new PinnedImage(
                    `${name}-${version}-${component.name}`,
                    {
                        repository: component.image,
                        version,
                        digest: config.digests[version]?.[component.name],
                        ...(lookupProvider !== undefined ? { lookupProvider } : {}),
                    },
                    { parent: this },
                ),
            ]),
        );
    }
}

/**
 * Resolves once each resource has been created or updated: a custom resource's
 * id is known only then (and never, if it failed). A component's children are
 * awaited through the custom resources that depend on it.
 */
function completion(resources: pulumi.Resource[]): pulumi.Output<unknown[]> {
    return pulumi.all(resources.filter(pulumi.CustomResource.isInstance).map((resource) => resource.id));
}

/** Version → component → digest of the images whose digest the registry answered: what to pin in `release:digests`. */
function lookedUpDigests(images: Record<string, Record<string, PinnedImage>>): Record<string, Record<string, pulumi.Output<string>>> {
    const perVersion = Object.entries(images).map(([version, pinned]) => {
        const lookedUp = Object.entries(pinned).filter(([, image]) => image.source === "registry");
        return [version, Object.fromEntries(lookedUp.map(([component, image]) => [component, image.digest]))] as const;
    });
    return Object.fromEntries(perVersion.filter(([, digests]) => Object.keys(digests).length > 0));
}

function refs(images: Record<string, PinnedImage>): VersionImages {
    return Object.fromEntries(Object.entries(images).map(([component, image]) => [component, image.ref]));
}

/**
 * The adapter of the configured platform. Its module is loaded here, not at the
 * top: a stack loads only its own platform's provider SDK (`@pulumi/aws` alone
 * costs a noticeable share of every `pulumi up` on a machine without AWS).
 * `imageLookup` is the provider that asks the registry for unpinned digests: on
 * docker-host the platform's own, so the engine starts no default docker plugin.
 */
function choosePlatform(
    name: string,
    args: ReleaseArgs,
    parent: pulumi.Resource,
): { platform: PlatformAdapter; imageLookup?: pulumi.ProviderResource } {
    switch (args.config.platform) {
        case "aws-ecs": {
            const adapter: typeof EcsPlatform = require("./awsEcs/ecsPlatform").EcsPlatform;
            return { platform: new adapter(`${name}-ecs`, args, { parent }) };
        }
        case "docker-host": {
            const adapter: typeof DockerPlatform = require("./dockerHost/dockerPlatform").DockerPlatform;
            const platform = new adapter(`${name}-docker`, args, { parent });
            return { platform, imageLookup: platform.engineProvider };
        }
        case "host": {
            const adapter: typeof HostPlatform = require("./host/hostPlatform").HostPlatform;
            return { platform: new adapter(`${name}-host`, args, { parent }) };
        }
        default:
            throw new Error(`\`release:platform\` "${args.config.platform}" has no adapter`);
    }
}
