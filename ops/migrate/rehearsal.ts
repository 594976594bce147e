import { ClientBase } from "pg";
import { tableExists } from "../pg/ledgers";

/**
 * The checks of a rehearsal on a restored copy: which framework migrations it applied,
 * whether the critical tables kept their rows, and how to run it again by hand.
 */

/**
 * The applied migrations the frameworks record, as their tools name them:
 * Prisma's `migration_name` (finished, not rolled back), Django's `app.name`.
 */
export async function appliedFrameworkMigrations(client: ClientBase): Promise<string[]> {
    const names: string[] = [];
    if (await tableExists(client, "_prisma_migrations")) {
        const { rows } = await client.query(
            `SELECT migration_name FROM _prisma_migrations m WHERE finished_at IS NOT NULL AND to_jsonb(m) ->> 'rolled_back_at' IS NULL
              ORDER BY migration_name COLLATE "C"`,
        );
        names.push(...rows.map((r) => r.migration_name as string));
    }
    if (await tableExists(client, "django_migrations")) {
        const { rows } = await client.query(
            `SELECT app || '.' || name AS name FROM django_migrations ORDER BY app || '.' || name COLLATE "C"`,
        );
        names.push(...rows.map((r) => r.name as string));
    }
    return names;
}

/** Names in `after` that `before` lacks, in `after`'s order. */
export function addedNames(before: readonly string[], after: readonly string[]): string[] {
    const had = new Set(before);
    return after.filter((name) => !had.has(name));
}

export interface RowCountChange {
    readonly before: number;
    /** Null when the table no longer exists. */
    readonly after: number | null;
    /** Named in `--expect-changed`: a change is allowed. */
    readonly expectedToChange: boolean;
}

/** Each critical table's count before and after the migration. */
export function rowCountChanges(
    before: Record<string, number>,
    after: Record<string, number>,
    expectChanged: readonly string[],
): Record<string, RowCountChange> {
    const changes: Record<string, RowCountChange> = {};
    for (const table of Object.keys(before).sort()) {
        changes[table] = { before: before[table], after: after[table] ?? null, expectedToChange: expectChanged.includes(table) };
    }
    return changes;
}

/** One line per critical table whose count changed without `--expect-changed` naming it. */
export function unexpectedCountChanges(changes: Record<string, RowCountChange>): string[] {
    return Object.entries(changes).flatMap(([table, change]) => {
        if (change.expectedToChange || change.after === change.before) return [];
        const after = change.after === null ? "the table no longer exists" : `${change.after} after`;
        return [
            `critical table \`${table}\` had ${change.before} rows before the migration, ${after}; ` +
                `if the release means to change it, name it in \`--expect-changed\``,
        ];
    });
}

/** Single-quotes a word for a POSIX shell unless it is plainly safe. */
export function shellWord(word: string): string {
    return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export interface ReproduceInput {
    readonly liveDatabase: string;
    readonly scratchDatabase: string;
    readonly dumpFile: string;
    readonly runner: readonly string[];
    /** The rehearse command line itself, without the program name. */
    readonly rehearseArgs: readonly string[];
    /** The dump was taken for the rehearsal (`--from-live`) and is gone: the lines take one first. */
    readonly dumpedNow?: boolean;
}

/**
 * Shell lines that do it again by hand, the password never in them: they read
 * `$DATABASE_URL` (the operator's own), and `$SCRATCH_URL`, the same with the scratch
 * database's name in place of the live one. The copy they make is the operator's to drop.
 */
export function reproduceCommands(input: ReproduceInput): string[] {
    const db = shellWord(input.scratchDatabase);
    return [
        `# rehearse again (restores the backup into a fresh copy, dropped afterwards):`,
        `safe-release-ops ${input.rehearseArgs.map(shellWord).join(" ")}`,
        `# or keep a copy to inspect; SCRATCH_URL: $DATABASE_URL naming database ${input.scratchDatabase} instead of ${input.liveDatabase}`,
        ...(input.dumpedNow === true ? [`pg_dump --format=custom --dbname="$DATABASE_URL" --file=${shellWord(input.dumpFile)}`] : []),
        `createdb --maintenance-db="$DATABASE_URL" --template=template0 ${db}`,
        // A `.dump.zst` is a pg_dump archive compressed with zstd, which pg_restore does not read itself.
        input.dumpFile.endsWith(".zst") && input.dumpedNow !== true
            ? `zstd -q -d -c ${shellWord(input.dumpFile)} | pg_restore --exit-on-error --no-password --dbname="$SCRATCH_URL"`
            : `pg_restore --exit-on-error --no-password --dbname="$SCRATCH_URL" ${shellWord(input.dumpFile)}`,
        `DATABASE_URL="$SCRATCH_URL" ${input.runner.map(shellWord).join(" ")}`,
        `dropdb --maintenance-db="$DATABASE_URL" ${db}`,
    ];
}
