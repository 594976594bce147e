import * as assert from "assert";
import {
    MIGRATION,
    PRE_UPGRADE_BACKUP,
    commandMigrationVersion,
    findMigrations,
    isStrayMigrationCommand,
    migrationAfterBackup,
} from "../../policy/rules/migrationAfterBackup";
import { UNKNOWN_STRING, stackResource, stackViolations, urnOf } from "./policyArgs";

const LOCAL_COMMAND = "command:local:Command";
const REMOTE_COMMAND = "command:remote:Command";

function backup(name: string, version: string) {
    return stackResource({ type: PRE_UPGRADE_BACKUP, name, props: { version } });
}

function missing(urn: string, version: string, found: string): [string, string] {
    return [
        `migration \`${urn}\` (version \`${version}\`) must have a \`${PRE_UPGRADE_BACKUP}\` of version \`${version}\` ` +
            `among its dependencies (\`dependsOn\`); ${found}`,
        urn,
    ];
}

describe("policy migration-after-backup", () => {
    describe("commandMigrationVersion", () => {
        it("takes what follows the last `-migrate-` in the name", () => {
            assert.strictEqual(commandMigrationVersion("app-migrate-v1.5.0"), "v1.5.0");
            assert.strictEqual(commandMigrationVersion("app-migrate-v1.5.0-rc.1"), "v1.5.0-rc.1");
            assert.strictEqual(commandMigrationVersion("pre-migrate-app-migrate-v2.0.0"), "v2.0.0");
            assert.strictEqual(commandMigrationVersion("app-migrate-"), undefined);
            assert.strictEqual(commandMigrationVersion("app-backup-v1.5.0"), undefined);
        });
    });

    describe("isStrayMigrationCommand", () => {
        it("counts local and remote `-migrate-` commands outside a Migration component, and nothing else", () => {
            const component = stackResource({ type: MIGRATION, name: "db-migrate", props: { version: "v1.5.0" } });
            const group = stackResource({ type: "safe-release:index:Release", name: "app", parent: component });
            assert.strictEqual(isStrayMigrationCommand(stackResource({ type: LOCAL_COMMAND, name: "app-migrate-v1.5.0" })), true);
            assert.strictEqual(isStrayMigrationCommand(stackResource({ type: REMOTE_COMMAND, name: "app-migrate-v1.5.0" })), true);
            assert.strictEqual(
                isStrayMigrationCommand(stackResource({ type: LOCAL_COMMAND, name: "app-migrate-v1.5.0", parent: group })),
                false,
            );
            assert.strictEqual(isStrayMigrationCommand(stackResource({ type: LOCAL_COMMAND, name: "app-smoke-v1.5.0" })), false);
            assert.strictEqual(
                isStrayMigrationCommand(stackResource({ type: "aws:ecs/taskDefinition:TaskDefinition", name: "app-migrate-v1.5.0" })),
                false,
            );
        });
    });

    describe("validateStack", () => {
        it("passes a migration that depends on a backup of its version", async () => {
            const dbBackup = backup("db-backup-v1.5.0", "v1.5.0");
            const migration = stackResource({
                type: MIGRATION,
                name: "db-migrate-v1.5.0",
                props: { version: "v1.5.0" },
                dependencies: [dbBackup],
            });
            const child = stackResource({ type: LOCAL_COMMAND, name: "db-migrate-v1.5.0-run", parent: migration });
            assert.deepStrictEqual(await stackViolations(migrationAfterBackup, [dbBackup, migration, child]), []);
        });

        it("passes a dependency on a resource inside the backup component", async () => {
            const dbBackup = backup("db-backup-v1.5.0", "v1.5.0");
            const dump = stackResource({ type: LOCAL_COMMAND, name: "db-backup-v1.5.0-dump", parent: dbBackup });
            const migration = stackResource({ type: LOCAL_COMMAND, name: "app-migrate-v1.5.0", dependencies: [dump] });
            assert.deepStrictEqual(await stackViolations(migrationAfterBackup, [dbBackup, dump, migration]), []);
        });

        it("reports a migration without any backup among its dependencies, with its URN", async () => {
            const dbBackup = backup("db-backup-v1.5.0", "v1.5.0");
            const migration = stackResource({ type: MIGRATION, name: "db-migrate-v1.5.0", props: { version: "v1.5.0" } });
            assert.deepStrictEqual(await stackViolations(migrationAfterBackup, [dbBackup, migration]), [
                missing(urnOf(MIGRATION, "db-migrate-v1.5.0"), "v1.5.0", "it depends on no backup"),
            ]);
        });

        it("reports a migration whose backups are of other versions", async () => {
            const old = backup("db-backup-v1.4.2", "v1.4.2");
            const unversioned = stackResource({ type: PRE_UPGRADE_BACKUP, name: "db-backup" });
            const migration = stackResource({
                type: MIGRATION,
                name: "db-migrate-v1.5.0",
                props: { version: "v1.5.0" },
                dependencies: [old, unversioned, old],
            });
            assert.deepStrictEqual(await stackViolations(migrationAfterBackup, [old, unversioned, migration]), [
                missing(urnOf(MIGRATION, "db-migrate-v1.5.0"), "v1.5.0", "it depends only on backups of version `v1.4.2`, none"),
            ]);
        });

        it("holds stray `-migrate-` commands to the same rule, with the version from their name", async () => {
            const dbBackup = backup("db-backup-v1.4.2", "v1.4.2");
            const local = stackResource({ type: LOCAL_COMMAND, name: "app-migrate-v1.5.0", dependencies: [dbBackup] });
            const remote = stackResource({ type: REMOTE_COMMAND, name: "host-migrate-v1.5.0" });
            assert.deepStrictEqual(await stackViolations(migrationAfterBackup, [dbBackup, local, remote]), [
                missing(urnOf(LOCAL_COMMAND, "app-migrate-v1.5.0"), "v1.5.0", "it depends only on backups of version `v1.4.2`"),
                missing(urnOf(REMOTE_COMMAND, "host-migrate-v1.5.0"), "v1.5.0", "it depends on no backup"),
            ]);
        });

        it("reports a migration component without a version", async () => {
            const dbBackup = backup("db-backup-v1.5.0", "v1.5.0");
            const migration = stackResource({ type: MIGRATION, name: "db-migrate", dependencies: [dbBackup] });
            const urn = urnOf(MIGRATION, "db-migrate");
            assert.deepStrictEqual(await stackViolations(migrationAfterBackup, [dbBackup, migration]), [
                [
                    `migration \`${urn}\` (version none) must have a string \`version\` and a \`${PRE_UPGRADE_BACKUP}\` of that version ` +
                        "among its dependencies (`dependsOn`); it depends only on backups of version `v1.5.0`",
                    urn,
                ],
            ]);
        });

        it("leaves versions that preview cannot know yet to the update", async () => {
            const known = backup("db-backup-v1.5.0", "v1.5.0");
            const unknownBackup = stackResource({ type: PRE_UPGRADE_BACKUP, name: "db-backup-next", props: { version: UNKNOWN_STRING } });
            const unknownMigration = stackResource({ type: MIGRATION, name: "db-migrate-next", props: { version: UNKNOWN_STRING } });
            const dependsOnUnknown = stackResource({
                type: MIGRATION,
                name: "db-migrate-v1.6.0",
                props: { version: "v1.6.0" },
                dependencies: [unknownBackup],
            });
            assert.deepStrictEqual(
                await stackViolations(migrationAfterBackup, [known, unknownBackup, unknownMigration, dependsOnUnknown]),
                [],
            );
            assert.deepStrictEqual(
                findMigrations([unknownMigration]).map((m) => m.node.name),
                ["db-migrate-next"],
            );
        });

        it("is mandatory", () => {
            assert.strictEqual(migrationAfterBackup.enforcementLevel, "mandatory");
        });
    });
});
