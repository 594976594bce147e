import { createHash } from "crypto";
import { describeFinding, findDestructiveStatements } from "../migrate/destructive";
import { blockingRows } from "../migrate/plan";
import { DjangoLedgerRow, PrismaLedgerRow, TOOL_LEDGER, ToolLedgerRow } from "../pg/ledgers";

export type CheckStatus = "ok" | "failed" | "skipped";

export interface CheckResult {
    readonly name: string;
    readonly status: CheckStatus;
    /** One line: what was checked and what was found. */
    readonly detail: string;
    /** For a failed check: each problem, saying what to do about it. */
    readonly problems: readonly string[];
}

export const RESTORE_HINT = "or restore the pre-upgrade backup with `release:restoreFrom`";

const ok = (name: string, detail: string): CheckResult => ({ name, status: "ok", detail, problems: [] });
const skipped = (name: string, detail: string): CheckResult => ({ name, status: "skipped", detail, problems: [] });
const failedOr = (name: string, problems: string[], okDetail: string, failedDetail: string): CheckResult =>
    problems.length === 0 ? ok(name, okDetail) : { name, status: "failed", detail: failedDetail, problems };

export function toolLedgerCheck(app: string, rows: readonly ToolLedgerRow[]): CheckResult {
    const problems = blockingRows(rows).map((row) =>
        row.status === "failed"
            ? `\`${TOOL_LEDGER}\`: the migration of ${row.version} failed` +
              `${row.exitCode === null ? "" : ` with exit code ${row.exitCode}`}; fix forward with a new version ` +
              `(\`migrate --fix-forward-from ${row.version}\`) ${RESTORE_HINT}`
            : `\`${TOOL_LEDGER}\`: the migration of ${row.version} started ${row.startedAt.toISOString()} and never finished; ` +
              `make sure nothing of it still runs, then fix forward (\`migrate --fix-forward-from ${row.version}\`) ${RESTORE_HINT}`,
    );
    return failedOr(
        "tool-ledger",
        problems,
        `\`${TOOL_LEDGER}\` has no failed or unfinished migration of \`${app}\` (${rows.length} row(s))`,
        `\`${TOOL_LEDGER}\` has a failed or unfinished migration of \`${app}\``,
    );
}

/** Prisma marks a failed migration by `logs` with no `finished_at`; `rolled_back_at` means someone resolved it. */
export function prismaLedgerCheck(rows: readonly PrismaLedgerRow[]): CheckResult {
    const problems = rows
        .filter((row) => row.rolledBackAt === null && (row.finishedAt === null || row.logs !== null))
        .map((row) => {
            const state =
                row.logs !== null
                    ? `failed: ${firstLine(row.logs)}`
                    : `started ${row.startedAt.toISOString()} and never finished (in flight, or its process died)`;
            return (
                `\`_prisma_migrations\`: ${row.migrationName} ${state}; after repairing it by hand mark it with ` +
                `\`prisma migrate resolve --applied ${row.migrationName}\`, or \`--rolled-back\` once it is undone, ${RESTORE_HINT}`
            );
        });
    return failedOr(
        "framework-ledger",
        problems,
        `\`_prisma_migrations\`: ${rows.length} row(s), none failed or in flight`,
        "`_prisma_migrations` has a failed or in-flight migration",
    );
}

function firstLine(text: string): string {
    const line = text.trim().split("\n")[0] ?? "";
    return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}

/**
 * Prisma's own rule: the checksum is the SHA-256 hex of migration.sql, accepted with
 * either line ending, since git may check the file out with CRLF on another machine.
 */
export function prismaChecksumMatches(content: Buffer, checksum: string): boolean {
    const text = content.toString("utf8");
    const variants = [content, Buffer.from(text.replace(/\r\n/g, "\n")), Buffer.from(text.replace(/\r?\n/g, "\r\n"))];
    return variants.some((bytes) => createHash("sha256").update(bytes).digest("hex") === checksum.toLowerCase());
}

/** Migrations the ledger counts as applied: finished and not rolled back. */
export function appliedPrismaNames(rows: readonly PrismaLedgerRow[]): Set<string> {
    return new Set(rows.filter((r) => r.finishedAt !== null && r.rolledBackAt === null).map((r) => r.migrationName));
}

/**
 * Every applied migration must still exist, byte for byte: an edited or deleted
 * migration means this release was built against a history the database never had.
 * `files` maps a migration directory name to its migration.sql (absent: no such file).
 */
export function prismaAppliedCheck(rows: readonly PrismaLedgerRow[], files: ReadonlyMap<string, Buffer>, dir: string): CheckResult {
    const problems: string[] = [];
    const applied = rows.filter((r) => r.finishedAt !== null && r.rolledBackAt === null);
    for (const row of applied) {
        const file = `${dir}/${row.migrationName}/migration.sql`;
        const content = files.get(row.migrationName);
        if (content === undefined) {
            problems.push(`${row.migrationName} is applied but ${file} is missing; restore that file from the release that applied it`);
        } else if (!prismaChecksumMatches(content, row.checksum)) {
            problems.push(
                `${row.migrationName} was changed after it was applied (${file} no longer matches checksum ` +
                    `${row.checksum.slice(0, 12)}…); revert the edit and put the change in a new migration`,
            );
        }
    }
    return failedOr(
        "applied-migrations",
        problems,
        `${applied.length} applied Prisma migration(s) match their files in ${dir}`,
        `applied Prisma migrations differ from ${dir}`,
    );
}

/** Directory names (sorted, as Prisma applies them) that the ledger has not applied. */
export function pendingPrismaMigrations(rows: readonly PrismaLedgerRow[], dirNames: readonly string[]): string[] {
    const applied = appliedPrismaNames(rows);
    return [...dirNames].sort().filter((name) => !applied.has(name));
}

/**
 * Django's own apps (auth, contenttypes …) keep their migrations inside site-packages, so
 * only apps with a `<app>/migrations/` folder under the given directory are checked.
 */
export function djangoAppliedCheck(
    rows: readonly DjangoLedgerRow[],
    projectApps: ReadonlySet<string>,
    files: ReadonlySet<string>,
    dir: string,
): CheckResult {
    const checked = rows.filter((r) => projectApps.has(r.app));
    const problems = checked
        .filter((r) => !files.has(`${r.app}/${r.name}`))
        .map(
            (r) =>
                `${r.app}.${r.name} is applied but ${dir}/${r.app}/migrations/${r.name}.py is missing; ` +
                "restore that file from the release that applied it (Django cannot plan migrations without their history)",
        );
    const others = [...new Set(rows.filter((r) => !projectApps.has(r.app)).map((r) => r.app))].sort();
    const note = others.length === 0 ? "" : `; not checked, their migrations live outside ${dir}: ${others.join(", ")}`;
    return failedOr(
        "applied-migrations",
        problems,
        `${checked.length} applied Django migration(s) have their files in ${dir}${note}`,
        `applied Django migrations are missing from ${dir}`,
    );
}

/** `app/name` of every migration module in the tree that the ledger has not applied, sorted. */
export function pendingDjangoMigrations(rows: readonly DjangoLedgerRow[], files: ReadonlySet<string>): string[] {
    const applied = new Set(rows.map((r) => `${r.app}/${r.name}`));
    return [...files].filter((file) => !applied.has(file)).sort();
}

/**
 * Django migrations are Python, which is not analysed (a RunPython can do anything); only
 * their SQL, from `manage.py sqlmigrate`, is. The pending-sql check says so rather than
 * letting its verdict read as if those files had been checked.
 */
export function noteUnreadDjangoMigrations(check: CheckResult, pending: readonly string[]): CheckResult {
    if (pending.length === 0) return check;
    const names = pending.map((p) => p.replace("/", ".")).join(", ");
    return {
        ...check,
        detail:
            `${check.detail}; the Python of ${pending.length} pending Django migration(s) is not analysed (${names}): ` +
            "only SQL is, so pass their `manage.py sqlmigrate` output with `--pending-sql`",
    };
}

export interface SqlSource {
    /** Where the SQL came from, e.g. a file path. */
    readonly label: string;
    readonly sql: string;
}

/** Needs the SQL parser loaded (`await loadSqlParser()` from ../migrate/destructive). */
export function pendingSqlCheck(sources: readonly SqlSource[], allowDestructive: boolean): CheckResult {
    const findings = sources.flatMap((source) => findDestructiveStatements(source.sql).map((f) => describeFinding(source.label, f)));
    const scanned = `${sources.length} pending SQL source(s)`;
    if (findings.length === 0) return ok("pending-sql", `no destructive statement in ${scanned}`);
    if (allowDestructive) {
        return ok(
            "pending-sql",
            `${findings.length} destructive statement(s) in ${scanned}, allowed by \`--allow-destructive\`: ${findings.join(" | ")}`,
        );
    }
    return {
        name: "pending-sql",
        status: "failed",
        detail: `${findings.length} destructive statement(s) in ${scanned}`,
        problems: findings.map(
            (f) =>
                `${f}; make the migration additive (expand now, contract in a later release), ` +
                "or pass `--allow-destructive` once a fresh backup exists and the previous version no longer needs this data",
        ),
    };
}

export function noPendingSqlCheck(reason: string): CheckResult {
    return skipped("pending-sql", reason);
}

export const MB = 1024 * 1024;

export function freeDiskCheck(dir: string, freeBytes: number, minFreeMb: number): CheckResult {
    const freeMb = Math.floor(freeBytes / MB);
    return freeMb >= minFreeMb
        ? ok("free-disk", `${freeMb} MB free in ${dir} (\`--min-free-disk-mb\` ${minFreeMb})`)
        : {
              name: "free-disk",
              status: "failed",
              detail: `${freeMb} MB free in ${dir}, below \`--min-free-disk-mb\` ${minFreeMb}`,
              problems: [
                  `only ${freeMb} MB free in ${dir}, \`--min-free-disk-mb\` asks for ${minFreeMb}; free space (old backups, logs) or grow the volume`,
              ],
          };
}

export function unreadableDiskCheck(): CheckResult {
    return skipped(
        "free-disk",
        "not readable: the database server's free disk is not visible over SQL; pass `--data-dir` " +
            "for a locally mounted volume (the data directory on a single host, or where backups are written), " +
            "or watch the provider's metric (RDS FreeStorageSpace)",
    );
}

export { skipped as skippedCheck, ok as okCheck };
