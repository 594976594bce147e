import { StackValidationArgs, StackValidationPolicy } from "@pulumi/policy";
import { stepResource } from "../../core/runbook";
import { UNKNOWN, readKnown } from "../known";

export const MIGRATION = stepResource("migrate").component;
export const PRE_UPGRADE_BACKUP = stepResource("backup").component;
export const COMMAND_TYPES: readonly string[] = ["command:local:Command", "command:remote:Command"];
const MIGRATE_MARKER = "-migrate-";

/** The part of a stack resource this rule reads; `PolicyResource` satisfies it. */
export interface ResourceNode {
    readonly type: string;
    readonly urn: string;
    readonly name: string;
    readonly props: Record<string, unknown>;
    readonly parent?: ResourceNode;
    readonly dependencies: readonly ResourceNode[];
}

/** A resource that changes the schema, with the release version it migrates to. */
export interface MigrationNode {
    readonly node: ResourceNode;
    /** `UNKNOWN` while preview cannot know it; `undefined` when the resource declares none. */
    readonly version: unknown;
}

export interface MigrationViolation {
    readonly urn: string;
    readonly message: string;
}

function ancestors(node: ResourceNode): ResourceNode[] {
    const found: ResourceNode[] = [];
    for (let current = node.parent; current; current = current.parent) {
        found.push(current);
    }
    return found;
}

/**
 * The version a stray migration command runs, taken from its name: what follows the last
 * `-migrate-` (`app-migrate-v1.5.0` → `v1.5.0`).
 */
export function commandMigrationVersion(name: string): string | undefined {
    const at = name.lastIndexOf(MIGRATE_MARKER);
    const version = at === -1 ? "" : name.slice(at + MIGRATE_MARKER.length);
    return version === "" ? undefined : version;
}

/**
 * True for a command that migrates outside a `Migration` component: such a command is
 * held to the same rule, so a migration cannot dodge it by skipping the component.
 */
export function isStrayMigrationCommand(node: ResourceNode): boolean {
    return (
        COMMAND_TYPES.includes(node.type) &&
        node.name.includes(MIGRATE_MARKER) &&
        !ancestors(node).some((ancestor) => ancestor.type === MIGRATION)
    );
}

/** Every migration in the stack: `Migration` components and stray `-migrate-` commands. */
export function findMigrations(resources: readonly ResourceNode[]): MigrationNode[] {
    const migrations: MigrationNode[] = [];
    for (const node of resources) {
        if (node.type === MIGRATION) {
            migrations.push({ node, version: readKnown(node.props, "version") });
        } else if (isStrayMigrationCommand(node)) {
            migrations.push({ node, version: commandMigrationVersion(node.name) });
        }
    }
    return migrations;
}

/**
 * The backup a dependency stands for: the `PreUpgradeBackup` itself, or the one that
 * encloses it (depending on the backup's own dump command is depending on the backup).
 */
export function enclosingBackup(node: ResourceNode): ResourceNode | undefined {
    return [node, ...ancestors(node)].find((candidate) => candidate.type === PRE_UPGRADE_BACKUP);
}

/** The versions of the backups among a resource's direct dependencies, in dependency order, without repeats. */
export function backupVersionsDependedOn(node: ResourceNode): unknown[] {
    const versions: unknown[] = [];
    for (const dependency of node.dependencies) {
        const backup = enclosingBackup(dependency);
        if (backup) {
            const version = readKnown(backup.props, "version");
            if (!versions.includes(version)) {
                versions.push(version);
            }
        }
    }
    return versions;
}

function describeVersion(version: unknown): string {
    return typeof version === "string" ? `\`${version}\`` : "none";
}

/** Violations for every migration without a same-version backup among its dependencies. */
export function migrationViolations(resources: readonly ResourceNode[]): MigrationViolation[] {
    const violations: MigrationViolation[] = [];
    for (const { node, version } of findMigrations(resources)) {
        if (version === UNKNOWN) {
            continue;
        }
        const backupVersions = backupVersionsDependedOn(node);
        if (backupVersions.includes(UNKNOWN) || (typeof version === "string" && backupVersions.includes(version))) {
            continue;
        }
        const label = describeVersion(version);
        const wanted =
            typeof version === "string"
                ? `a \`${PRE_UPGRADE_BACKUP}\` of version \`${version}\``
                : `a string \`version\` and a \`${PRE_UPGRADE_BACKUP}\` of that version`;
        const found =
            backupVersions.length === 0
                ? "it depends on no backup"
                : `it depends only on backups of version ${backupVersions.map(describeVersion).join(", ")}`;
        violations.push({
            urn: node.urn,
            message: `migration \`${node.urn}\` (version ${label}) must have ${wanted} among its dependencies (\`dependsOn\`); ${found}`,
        });
    }
    return violations;
}

export const migrationAfterBackup: StackValidationPolicy = {
    name: "migration-after-backup",
    description: "Every migration depends on a pre-upgrade backup of the same version, so a failed migration can be restored from it.",
    enforcementLevel: "mandatory",
    validateStack: (args: StackValidationArgs, reportViolation) => {
        for (const { urn, message } of migrationViolations(args.resources)) {
            reportViolation(message, urn);
        }
    },
};
