import * as pulumi from "@pulumi/pulumi";
import { ReleaseConfig } from "../settings/release";
import type { StepRunner } from "./data/stepRunner";

/** Pinned image reference (`repo@sha256:…`) of each component, for one version. */
export type VersionImages = Record<string, pulumi.Output<string>>;

/** What a platform made for one live version. */
export interface DeployedVersion {
    readonly version: string;
    /** Web component → where its traffic is routed (an ALB target group ARN, an nginx upstream). */
    readonly targets: Record<string, pulumi.Output<string>>;
    /** Resources that are up and healthy once created; traffic may shift to the version only after them. */
    readonly ready: pulumi.Resource[];
    /** Where smoke tests reach this version alone, before it takes any weight. */
    readonly testEndpoint?: TestEndpoint;
    /** Names of the alarms watching this version (the promote driver's signal on aws-ecs). */
    readonly alarmNames?: string[];
}

export interface TestEndpoint {
    readonly baseUrl: pulumi.Output<string>;
    /** Headers that pin a request to the version. */
    readonly headers: Record<string, string>;
    /**
     * The version is reachable only once the routing is applied (the single-host
     * router). A new version enters at weight 0, so smoke tests still run before
     * it takes user traffic; they then follow the routing instead of gating it.
     */
    readonly viaRouting?: boolean;
}

export interface WeightedVersion {
    readonly deployed: DeployedVersion;
    /** Percent of traffic. */
    readonly weight: number;
}

export interface Routing {
    /** Where users reach the service. */
    readonly url: pulumi.Output<string>;
    /** The resources that carry the weights. */
    readonly applied: pulumi.Resource[];
    /** Version → slot of the routed versions (`host`), recorded as the stack output the next update reads. */
    readonly slots?: pulumi.Output<Record<string, number>>;
}

/**
 * Everything a platform does differently sits behind this interface; `Release`
 * only chooses the adapter. Resources of a version are keyed by the version, so
 * swapping `version` and `previous` touches nothing but the routing.
 */
export interface PlatformAdapter {
    /** Runs one version; its services start only after `after` (the data steps of a forward upgrade). */
    deployVersion(version: string, images: VersionImages, after: pulumi.Resource[]): DeployedVersion;
    routeTraffic(versions: WeightedVersion[]): Routing;
    /**
     * What runs `command` once as a one-off task of `version`'s `component` (its
     * image, environment and secrets): the argv of a runner that exits with the
     * task's exit code, and the resources it needs first.
     */
    oneOffTask(version: string, component: string, image: pulumi.Output<string>, command: string[], purpose?: "rehearsal"): OneOffTask;
    /** Argv that stop and start the given components of the given running versions (quiesce writers). */
    writerControl(versions: string[], components: string[]): WriterControl;
    /**
     * What proves that `version`'s artifacts (its pinned images, its release directories) are still
     * there, so that a rollback to it can start: run before a forward step changes anything.
     * Undefined when this platform cannot name them (nothing is checked).
     */
    rollbackCheck(version: string, images: VersionImages): OneOffTask | undefined;
    /** Set when the data directory is on another machine (a remote `host`): how its archive and restore reach it. */
    readonly remoteData?: RemoteDataAccess;
    /**
     * Where the ops programs of the data steps that reach the database or the backup store, and of
     * the smoke tests, run: set on aws-ecs with `dataStepsIn: task` (one-off tasks of the runner image
     * inside the VPC); absent, they run on the machine running Pulumi. Steps that only call AWS APIs
     * or act on this machine (artifacts-check, ecs-scale, rds-restore, bucket-backup, kms-record, a
     * directory archive) always run here.
     */
    readonly stepRunner?: StepRunner;
}

/**
 * The ops commands that archive and restore a data directory on a remote host
 * (`host-archive`, `host-restore`) run on the machine running Pulumi, where the
 * backups stay, and reach the host over SSH themselves.
 */
export interface RemoteDataAccess {
    /** `--host … --port … --user …` naming the host. */
    readonly hostFlags: string[];
    /** The host agent's directory there (a restore unpacks with it). */
    readonly agentDir: string;
    /** The SSH key, as the commands' secret environment. */
    readonly environment: Record<string, pulumi.Output<string>>;
    /** What must be on the host before a restore (the agent's copy). */
    readonly needs: pulumi.Resource[];
}

export interface OneOffTask {
    readonly argv: pulumi.Output<string[]>;
    readonly needs: pulumi.Resource[];
    /** Secret variables the runner must have in its environment (it hands them to the task by name, never on its command line). */
    readonly environment?: Record<string, pulumi.Output<string>>;
    /**
     * A rehearsal's task whose DATABASE_URL was fixed in advance (an ECS task reads it from Secrets Manager)
     * names this scratch database; `rehearse --scratch-database` must make the copy there. Undefined: the
     * runner hands the task the DATABASE_URL `rehearse` gives it.
     */
    readonly scratchDatabase?: string;
}

export interface WriterControl {
    readonly stop: pulumi.Output<string[]>;
    /** Absent when none of the writers is the resume's to start (a replaced component: its new program starts it). */
    readonly start?: pulumi.Output<string[]>;
    /** Secret variables both commands need (a remote host's SSH key). */
    readonly environment?: Record<string, pulumi.Output<string>>;
}

export interface PlatformArgs {
    readonly config: ReleaseConfig;
    /** Secrets named by `secretEnv` `config:<key>` references. */
    readonly secrets: Record<string, pulumi.Output<string>>;
}
