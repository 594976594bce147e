import { UsageError } from "../command";
import { parseDuration, ParsedFlags } from "../flags";
import { RDSClient } from "@aws-sdk/client-rds";
import { awsClientConfig } from "../../core/awsClient";
import { tagSlug } from "../../core/releaseTags";

/**
 * What `rds-snapshot` and `rds-restore` share: which database they act on, the names
 * they give what they create, and the record a snapshot is listed by (the same fields
 * as the snapshot entries of the `backups` stack output).
 */

/** An RDS instance (DB snapshots) or an Aurora cluster (cluster snapshots). */
export type RdsTarget = { readonly kind: "instance"; readonly id: string } | { readonly kind: "cluster"; readonly id: string };

/** The `backups` output's kind of a snapshot of each target. */
export const SNAPSHOT_KIND = { instance: "rds-snapshot", cluster: "aurora-snapshot" } as const;

export const DEFAULT_RDS_TIMEOUT = "60m";
/** The SDK's own first delay for the RDS waiters is 30 s; creating or renaming takes minutes. */
export const DEFAULT_RDS_POLL = "30s";

/** RDS's rule for instance, cluster and snapshot identifiers. */
const IDENTIFIER = /^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,62}$/;

export function isRdsIdentifier(value: string): boolean {
    return IDENTIFIER.test(value) && !value.endsWith("-");
}

export function validateIdentifier(value: string, option: string, what: string): string {
    if (!isRdsIdentifier(value)) {
        throw new UsageError(
            `\`--${option}\` must be ${what}: 1–63 letters, digits and \`-\`, starting with a letter, ` +
                `without \`--\` or a trailing \`-\`; got \`${value}\``,
        );
    }
    return value;
}

/** A manual snapshot's identifier, or an automated one's (`rds:<instance>-<date>`), which restores the same way. */
export function validateSnapshotId(value: string, option: string): string {
    const manual = value.startsWith("rds:") ? value.slice(4) : value;
    if (!isRdsIdentifier(manual)) {
        throw new UsageError(
            `\`--${option}\` must be an RDS snapshot identifier: 1–63 letters, digits and \`-\`, starting with a letter, ` +
                `without \`--\` or a trailing \`-\` (an automated snapshot's with \`rds:\` before it); got \`${value}\``,
        );
    }
    return value;
}

/** Exactly one of `--instance` / `--cluster`. */
export function parseTarget(flags: ParsedFlags): RdsTarget {
    const instance = flags.values.get("instance");
    const cluster = flags.values.get("cluster");
    if (instance !== undefined && cluster !== undefined) {
        throw new UsageError("give `--instance` (an RDS instance) or `--cluster` (an Aurora cluster), not both");
    }
    if (instance !== undefined) return { kind: "instance", id: validateIdentifier(instance, "instance", "an RDS instance identifier") };
    if (cluster !== undefined) return { kind: "cluster", id: validateIdentifier(cluster, "cluster", "an Aurora cluster identifier") };
    throw new UsageError("`--instance` (an RDS instance) or `--cluster` (an Aurora cluster) is required");
}

export interface RdsWaitOptions {
    readonly timeoutMs: number;
    readonly pollMs: number;
}

/** `--timeout` bounds each wait; `--poll` is the waiter's first delay (it backs off from there). */
export function parseWaitOptions(flags: ParsedFlags): RdsWaitOptions {
    const timeoutMs = parseDuration(flags.values.get("timeout") ?? DEFAULT_RDS_TIMEOUT, "--timeout");
    const pollMs = parseDuration(flags.values.get("poll") ?? DEFAULT_RDS_POLL, "--poll");
    if (pollMs < 100) throw new UsageError(`\`--poll\` must be at least 100ms; got \`${flags.values.get("poll")}\``);
    if (timeoutMs <= pollMs) {
        throw new UsageError(
            `\`--timeout\` must be longer than \`--poll\`; got \`--timeout ${flags.values.get("timeout") ?? DEFAULT_RDS_TIMEOUT}\` ` +
                `and \`--poll ${flags.values.get("poll") ?? DEFAULT_RDS_POLL}\``,
        );
    }
    return { timeoutMs, pollMs };
}

export function rdsClient(env: NodeJS.ProcessEnv): RDSClient {
    return new RDSClient(awsClientConfig(env, "RDS"));
}

/** `20261122041059`: RDS identifiers take no `:` or `.`, and RDS lower-cases letters. */
export function rdsStamp(date: Date): string {
    return date
        .toISOString()
        .replace(/\.\d{3}Z$/, "")
        .replace(/[-:T]/g, "");
}

/** `shop-v1-5-0-20261122041059`: a drill's snapshot, beside the program's `shop-v1-5-0-pre-upgrade`. */
export function defaultSnapshotId(app: string, version: string, date: Date): string {
    const id = `${app}-${tagSlug(version)}-${rdsStamp(date)}`;
    if (!isRdsIdentifier(id)) {
        throw new UsageError(
            `the snapshot id \`${id}\` made of \`--app\` and \`--version\` is not an RDS identifier ` +
                "(letters, digits and single `-`, at most 63): name it with `--id`",
        );
    }
    return id;
}

/** The two names a restore needs beside the live identifier; both must be identifiers RDS accepts. */
export function restoreNames(live: string, stamp: string): { restored: string; preRestore: string } {
    const names = { restored: `${live}-restore-${stamp}`, preRestore: `${live}-pre-restore-${stamp}` };
    if (names.preRestore.length > 63) {
        throw new UsageError(
            `\`${live}\` is too long to keep beside its restored copy: \`${names.preRestore}\` would exceed RDS's 63 characters ` +
                `(a live identifier may have at most ${63 - names.preRestore.length + live.length}); restore it by hand`,
        );
    }
    return names;
}

/** The tags a snapshot taken by `rds-snapshot` carries, as the program's own snapshots carry them. */
export function snapshotTags(app: string, version: string): { Key: string; Value: string }[] {
    return [
        { Key: "safe-release:app", Value: app },
        { Key: "safe-release:version", Value: version },
        { Key: "safe-release:purpose", Value: "pre-upgrade" },
    ];
}

/** A restored copy names its snapshot, so whoever finds it knows where it came from. */
export const RESTORED_FROM_TAG = "safe-release:restored-from";

export interface SnapshotRecord {
    readonly id: string;
    readonly kind: (typeof SNAPSHOT_KIND)[keyof typeof SNAPSHOT_KIND];
    readonly app: string;
    readonly version: string;
    /** The snapshot's ARN. */
    readonly location: string;
    /** When RDS took it (ISO 8601). */
    readonly time: string;
}

/** The waiters' answers hold the resource's own word for its state. */
export function statusOf(reason: unknown): string | undefined {
    const answer = reason as {
        DBInstances?: { DBInstanceStatus?: string }[];
        DBClusters?: { Status?: string }[];
        DBSnapshots?: { Status?: string }[];
        DBClusterSnapshots?: { Status?: string }[];
        name?: string;
    };
    return (
        answer?.DBInstances?.[0]?.DBInstanceStatus ??
        answer?.DBClusters?.[0]?.Status ??
        answer?.DBSnapshots?.[0]?.Status ??
        answer?.DBClusterSnapshots?.[0]?.Status ??
        (typeof answer?.name === "string" ? answer.name : undefined)
    );
}
