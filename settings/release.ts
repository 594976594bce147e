import { AwsSettings, parseAwsSettings } from "./aws";
import { checkRunnerStore } from "./awsRunner";
import { ConfigError, fail, isObject, optionalBoolean, optionalInteger, optionalString, requireObject, requireString } from "./checks";
import { ComponentSpec, parseComponents } from "./components";
import { DATA_KEYS, DataSettings, parseDataSettings } from "./data";
import { checkRehearsable } from "./migrate";
import { GATE_KEYS, GateSettings, parseGateSettings } from "./gates";
import { DockerSettings, parseDockerSettings, splitImageReference } from "./docker";
import { ArtifactTable, HostSettings, checkHostComponents, checkReplaceWeights, parseArtifacts, parseHostSettings } from "./host";
import { checkRemoteBackup } from "./hostRemote";
import { parseKeepImages } from "./imageRetention";
import { isReleaseTag, tagSlug } from "../core/releaseTags";

export type Platform = "aws-ecs" | "docker-host" | "host";
/** Platforms with an adapter. */
export const PLATFORMS: readonly Platform[] = ["aws-ecs", "docker-host", "host"];

/** Version → component → `sha256:<64 hex>`. */
export type DigestTable = Record<string, Record<string, string>>;

/** The validated `release:` namespace of a stack's config. */
export interface ReleaseConfig {
    readonly app: string;
    readonly platform: Platform;
    /** The version that should take traffic. */
    readonly version: string;
    /** The last known good version, kept warm until retired. */
    readonly previous?: string;
    /** Percent of traffic on `version` while `previous` is live; 100 without a `previous`. @default 0 */
    readonly canaryWeight: number;
    readonly components: ComponentSpec[];
    readonly digests: DigestTable;
    /** Every live version must have a digest in `digests` (no registry look-up). @default false */
    readonly requirePinnedDigests: boolean;
    /** Operator's word that the live versions run on this (newer) schema head, after additive migrations. */
    readonly acceptSchemaHead?: string;
    /** Backups, migrations and restores. */
    readonly data: DataSettings;
    /** Smoke tests, analysis thresholds, notifications. */
    readonly gates: GateSettings;
    readonly aws?: AwsSettings;
    readonly docker?: DockerSettings;
    readonly host?: HostSettings;
    /** Version → component → artifact (host only). */
    readonly artifacts?: ArtifactTable;
    /** Versions this program released whose images an ECR lifecycle policy keeps (aws-ecs). @default 5 */
    readonly keepImages: number;
}

/** Keys of the `release:` namespace this program reads; anything else is a typo and refused. */
export const RELEASE_KEYS = [
    "app",
    "platform",
    "version",
    "previous",
    "canaryWeight",
    "components",
    "digests",
    "requirePinnedDigests",
    "acceptSchemaHead",
    "aws",
    "dockerHost",
    "host",
    "artifacts",
    "keepImages",
    ...DATA_KEYS,
    ...GATE_KEYS,
] as const;

const APP_NAME = /^[a-z][a-z0-9-]{0,19}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

/**
 * Validates the raw `release:` values (keys without the namespace; objects
 * already parsed from YAML). Throws `ConfigError` on the first bad value, before
 * any resource exists.
 */
export function parseReleaseConfig(raw: Record<string, unknown>): ReleaseConfig {
    const app = requireString("release:app", raw.app);
    if (!APP_NAME.test(app)) {
        fail("release:app", "lower-case letters, digits and `-`, starting with a letter, at most 20 characters", app);
    }
    const platform = raw.platform ?? "aws-ecs";
    if (!PLATFORMS.includes(platform as Platform))
        fail("release:platform", `one of ${PLATFORMS.map((p) => `"${p}"`).join(", ")}`, platform);

    const version = releaseTag("release:version", requireString("release:version", raw.version));
    const previousRaw = optionalString("release:previous", raw.previous);
    const previous = previousRaw === undefined ? undefined : releaseTag("release:previous", previousRaw);
    if (previous === version) {
        throw new ConfigError(
            `\`release:previous\` must differ from \`release:version\` (both are ${version}); remove \`release:previous\` to run ${version} alone`,
        );
    }
    if (previous !== undefined && tagSlug(previous) === tagSlug(version)) {
        throw new ConfigError(
            `\`release:previous\` must differ from \`release:version\` in more than \`.\` and \`-\`: ` +
                `${previous} and ${version} both name their resources ${tagSlug(version)}`,
        );
    }
    const canaryWeight = parseCanaryWeight(raw.canaryWeight, previous);
    const onHost = platform === "host";
    const components = parseComponents(onHost ? withArtifactNames(raw.components, app) : raw.components);
    const requirePinnedDigests = optionalBoolean("release:requirePinnedDigests", raw.requirePinnedDigests) ?? false;
    const live = previous === undefined ? [version] : [version, previous];
    const host = onHost ? hostSettings(raw, components, live, previous, canaryWeight) : undefined;
    const digests = host !== undefined ? host.digests : parseDigests(raw.digests, components);
    if (requirePinnedDigests) requireDigestsFor(live, components, digests);
    const acceptSchemaHead = optionalString("release:acceptSchemaHead", raw.acceptSchemaHead);
    if (acceptSchemaHead !== undefined) releaseTag("release:acceptSchemaHead", acceptSchemaHead);
    checkSecretReferences(components, raw);

    const data = parseDataSettings(raw, components);
    checkRehearsable(components, data.migrate);
    const gates = parseGateSettings(raw);
    const aws = platform === "aws-ecs" ? parseAwsSettings(raw.aws) : undefined;
    checkRunnerStore(aws, data.backup.store, usesBackupStore(raw.databaseUrl !== undefined, data));
    return {
        app,
        platform: platform as Platform,
        version,
        ...(previous !== undefined ? { previous } : {}),
        canaryWeight,
        components,
        digests,
        requirePinnedDigests,
        ...(acceptSchemaHead !== undefined ? { acceptSchemaHead } : {}),
        data,
        gates,
        keepImages: parseKeepImages(raw.keepImages, live),
        ...(aws !== undefined ? { aws } : {}),
        ...(platform === "docker-host" ? { docker: dockerSettings(raw.dockerHost, app, components, requirePinnedDigests) } : {}),
        ...(host !== undefined ? { host: host.settings, artifacts: host.artifacts } : {}),
    };
}

/** Whether any data step writes or reads the backup store (a dump, an archive, a bucket copy, a key record, a restore). */
function usesBackupStore(hasDatabase: boolean, data: DataSettings): boolean {
    const { backup } = data;
    return (
        hasDatabase ||
        backup.directory !== undefined ||
        backup.bucket !== undefined ||
        backup.kmsKeyId !== undefined ||
        data.restoreFrom !== undefined
    );
}

/**
 * On host a component runs an artifact, not an image: its `image` may be left
 * out and then names the artifact (`<app>-<component>`), and the artifact's
 * sha256 is the digest of its pinned reference, so nothing asks a registry.
 */
function withArtifactNames(components: unknown, app: string): unknown {
    if (!isObject(components)) return components;
    return Object.fromEntries(
        Object.entries(components).map(([name, spec]) => [
            name,
            isObject(spec) && spec.image === undefined ? { ...spec, image: `${app}-${name}` } : spec,
        ]),
    );
}

function hostSettings(
    raw: Record<string, unknown>,
    components: ComponentSpec[],
    live: string[],
    previous: string | undefined,
    canaryWeight: number,
): { settings: HostSettings; artifacts: ArtifactTable; digests: DigestTable } {
    if (raw.digests !== undefined) {
        throw new ConfigError(
            "`release:digests` does not apply on host: pin each artifact by `release:artifacts.<version>.<component>.sha256`",
        );
    }
    checkHostComponents(components);
    const settings = parseHostSettings(raw.host, components);
    checkRemoteBackup(settings, raw.backup);
    checkReplaceWeights(settings, previous, canaryWeight);
    const artifacts = parseArtifacts(raw.artifacts, components, live);
    const digests = Object.fromEntries(
        Object.entries(artifacts).map(([version, perComponent]) => [
            version,
            Object.fromEntries(Object.entries(perComponent).map(([component, a]) => [component, `sha256:${a.sha256}`])),
        ]),
    );
    return { settings, artifacts, digests };
}

function dockerSettings(value: unknown, app: string, components: ComponentSpec[], requirePinnedDigests: boolean): DockerSettings {
    const docker = parseDockerSettings(value, app, components);
    if (requirePinnedDigests && splitImageReference(docker.routerImage).digest === undefined) {
        throw new ConfigError(
            "`release:dockerHost.routerImage` must be pinned by digest (`nginx@sha256:…`) because `release:requirePinnedDigests` is true; " +
                `find it with \`docker buildx imagetools inspect ${docker.routerImage}\``,
        );
    }
    return docker;
}

function releaseTag(key: string, value: string): string {
    if (!isReleaseTag(value))
        fail(key, "a release tag `vMAJOR.MINOR.PATCH`, optionally with a pre-release suffix such as `v1.5.0-rc.1`", value);
    return value;
}

/** Without a `previous` there is nothing to split with: `version` takes all traffic, whatever the weight says. */
function parseCanaryWeight(value: unknown, previous: string | undefined): number {
    const weight = optionalInteger("release:canaryWeight", value, 0, 100);
    return previous === undefined ? 100 : (weight ?? 0);
}

function parseDigests(value: unknown, components: ComponentSpec[]): DigestTable {
    if (value === undefined) return {};
    const table = requireObject("release:digests", value);
    const names = components.map((c) => c.name);
    for (const [version, perComponent] of Object.entries(table)) {
        const key = `release:digests.${version}`;
        releaseTag(key, version);
        if (!isObject(perComponent)) fail(key, "an object of component → `sha256:<64 hex>`", perComponent);
        for (const [component, digest] of Object.entries(perComponent)) {
            if (!names.includes(component)) {
                fail(
                    `${key}.${component}`,
                    `a component declared in \`release:components\` (${names.map((n) => `\`${n}\``).join(", ")})`,
                    component,
                );
            }
            if (typeof digest !== "string" || !DIGEST.test(digest))
                fail(`${key}.${component}`, "an image digest `sha256:` followed by 64 lower-case hex digits", digest);
        }
    }
    return table as DigestTable;
}

function requireDigestsFor(versions: string[], components: ComponentSpec[], digests: DigestTable): void {
    for (const version of versions) {
        for (const component of components) {
            if (digests[version]?.[component.name] === undefined) {
                throw new ConfigError(
                    `\`release:digests.${version}.${component.name}\` is required because \`release:requirePinnedDigests\` is true: ` +
                        `add the image digest (sha256:…) of ${component.image}:${version}`,
                );
            }
        }
    }
}

function checkSecretReferences(components: ComponentSpec[], raw: Record<string, unknown>): void {
    for (const component of components) {
        for (const [name, ref] of Object.entries(component.secretEnv)) {
            if (!ref.startsWith("config:")) continue;
            const configKey = ref.slice("config:".length);
            if (raw[configKey] === undefined) {
                throw new ConfigError(
                    `\`release:components.${component.name}.secretEnv.${name}\` refers to \`release:${configKey}\`, which is not set; ` +
                        `set it with \`pulumi config set --secret release:${configKey}\``,
                );
            }
        }
    }
}

/** Keys a stack may hold besides `RELEASE_KEYS`: the secrets that `secretEnv` refers to. */
export function referencedSecretKeys(components: unknown): string[] {
    if (!isObject(components)) return [];
    return Object.values(components).flatMap((component) =>
        isObject(component) && isObject(component.secretEnv)
            ? Object.values(component.secretEnv)
                  .filter((r): r is string => typeof r === "string" && r.startsWith("config:"))
                  .map((r) => r.slice(7))
            : [],
    );
}
