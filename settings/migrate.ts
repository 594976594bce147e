import { ConfigError, fail, optionalBoolean, optionalString, optionalStringList, rejectUnknownKeys, requireObject } from "./checks";
import { ComponentSpec } from "./components";
import { isReleaseTag } from "../core/releaseTags";

/** How the release migrates: `release:migrate`. */
export interface MigrateSettings {
    /**
     * The migration command, run once per schema head as a one-off task of the new
     * image. Absent for a service without migrations that still stops its writers
     * for a consistent backup (a Pebble store).
     */
    readonly command?: string[];
    /** Component whose image and environment run the migration. @default the default web component */
    readonly component: string;
    /** Components stopped while the migration runs (workers, frontends): the writers. */
    readonly quiesce: string[];
    /** Versions whose destructive pending SQL is accepted. */
    readonly allowDestructive: string[];
    /** How long a second `pulumi up` waits for the migration lock. @default "10m" */
    readonly lockTimeout: string;
    /**
     * The version whose migration failed and that this release fixes forward:
     * the ledger's failed row of that version no longer blocks the new migration.
     */
    readonly fixForwardFrom?: string;
    /**
     * Rehearse a forward migration on a restored copy of the data before any writer stops: a
     * failure stops the update with the live data untouched. @default false (refused on aws-ecs)
     */
    readonly rehearse: boolean;
    /** Critical tables whose row counts this release's migration means to change (the rehearsal allows them). */
    readonly expectChanged: string[];
    /**
     * A live schema that differs from the one the applied migrations left (a column added by hand):
     * `stop` fails the update before anything changes, `warn` lists it and goes on. @default "warn" (prod: stop)
     */
    readonly onDrift: "stop" | "warn";
}

const MIGRATE_KEYS = [
    "command",
    "component",
    "quiesce",
    "allowDestructive",
    "lockTimeout",
    "fixForwardFrom",
    "rehearse",
    "expectChanged",
    "onDrift",
] as const;

export function parseMigrate(value: unknown, components: ComponentSpec[]): MigrateSettings {
    const key = "release:migrate";
    const raw = requireObject(key, value);
    rejectUnknownKeys(key, raw, MIGRATE_KEYS);
    const command =
        typeof raw.command === "string"
            ? raw.command
                  .trim()
                  .split(/\s+/)
                  .filter((w) => w !== "")
            : optionalStringList(`${key}.command`, raw.command);
    if (command !== undefined && command.length === 0) {
        fail(
            `${key}.command`,
            'the migration command, e.g. `npx prisma migrate deploy` or ["python", "manage.py", "migrate", "--noinput"]',
            raw.command,
        );
    }
    if (command === undefined && raw.quiesce === undefined) {
        fail(key, "an object with `command` (the migration), `quiesce` (writers to stop for the backup), or both", raw);
    }
    const names = components.map((c) => c.name);
    const known = (field: string, name: string) => {
        if (!names.includes(name)) fail(field, `a component of \`release:components\` (${names.map((n) => `\`${n}\``).join(", ")})`, name);
    };
    const defaultWeb = components.find((c) => c.role === "web" && c.pathPrefix === undefined) ?? components[0];
    const component = optionalString(`${key}.component`, raw.component) ?? defaultWeb.name;
    known(`${key}.component`, component);
    const quiesce = optionalStringList(`${key}.quiesce`, raw.quiesce) ?? [];
    quiesce.forEach((name, i) => known(`${key}.quiesce[${i}]`, name));
    const allowDestructive = optionalStringList(`${key}.allowDestructive`, raw.allowDestructive) ?? [];
    allowDestructive.forEach((version, i) => {
        if (!isReleaseTag(version))
            fail(`${key}.allowDestructive[${i}]`, "a release tag whose destructive migration you accept, such as `v1.5.0`", version);
    });
    const lockTimeout = optionalString(`${key}.lockTimeout`, raw.lockTimeout) ?? "10m";
    if (!/^\d+(ms|s|m|h)$/.test(lockTimeout)) fail(`${key}.lockTimeout`, "a duration such as `30s`, `10m` or `1h`", lockTimeout);
    const fixForwardFrom = optionalString(`${key}.fixForwardFrom`, raw.fixForwardFrom);
    if (fixForwardFrom !== undefined && !isReleaseTag(fixForwardFrom)) {
        fail(`${key}.fixForwardFrom`, "the release tag whose migration failed, such as `v1.5.0`", fixForwardFrom);
    }
    const rehearse = optionalBoolean(`${key}.rehearse`, raw.rehearse) ?? false;
    if (rehearse && command === undefined) {
        throw new ConfigError(`\`${key}.rehearse\` needs \`${key}.command\`: a rehearsal runs the migration on a restored copy`);
    }
    const expectChanged = optionalStringList(`${key}.expectChanged`, raw.expectChanged) ?? [];
    const onDrift = raw.onDrift ?? "warn";
    if (onDrift !== "stop" && onDrift !== "warn") fail(`${key}.onDrift`, '"stop" or "warn"', onDrift);
    return {
        ...(command !== undefined ? { command } : {}),
        component,
        quiesce,
        allowDestructive,
        lockTimeout,
        ...(fixForwardFrom !== undefined ? { fixForwardFrom } : {}),
        rehearse,
        expectChanged,
        onDrift,
    };
}

/**
 * A rehearsal points the migration at the copy through DATABASE_URL, so the migration's
 * runner must take its database from there. On aws-ecs the one-off task reads it from
 * Secrets Manager: the program stores a second secret, the same connection string naming
 * the fixed scratch database `sr_rehearse_<app>`, for the rehearsal's own task definition
 * (components/awsEcs/rehearsalSecret.ts).
 */
export function checkRehearsable(components: ComponentSpec[], migrate: MigrateSettings | undefined): void {
    if (migrate?.rehearse !== true) return;
    const component = components.find((c) => c.name === migrate.component)!;
    const reference = component.secretEnv.DATABASE_URL;
    if (reference === undefined) {
        throw new ConfigError(
            `\`release:migrate.rehearse\` needs the migration's component \`${component.name}\` to take its database from ` +
                "`secretEnv.DATABASE_URL`: the rehearsal points that variable at the copy, and a database named anywhere else would be the live one",
        );
    }
}
