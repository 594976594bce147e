import { ClientBase } from "pg";
import { OpsCommand, OpsIO, UsageError } from "../command";
import { parseCount, parseFlags, requireValue } from "../flags";
import { validateApp, validateVersion } from "../validate";
import {
    CheckResult,
    djangoAppliedCheck,
    freeDiskCheck,
    noteUnreadDjangoMigrations,
    pendingDjangoMigrations,
    pendingPrismaMigrations,
    pendingSqlCheck,
    prismaAppliedCheck,
    prismaLedgerCheck,
    skippedCheck,
    okCheck,
    SqlSource,
    toolLedgerCheck,
    unreadableDiskCheck,
} from "../preflight/checks";
import {
    DetectedLedger,
    detectLedger,
    freeBytes,
    LEDGER_TABLES,
    LedgerChoice,
    readDjangoMigrations,
    readPrismaMigrations,
    readSqlFile,
} from "../preflight/sources";
import { loadSqlParser } from "../migrate/destructive";
import { connect, describeTarget, parseDatabaseUrl, redactor } from "../pg/connection";
import { readDjangoLedger, readPrismaLedger, readToolLedger, TOOL_LEDGER } from "../pg/ledgers";

export const DEFAULT_MIN_FREE_DISK_MB = 1024;

export interface PreflightRequest {
    readonly app: string;
    readonly version: string;
    readonly ledger: LedgerChoice;
    readonly migrationsDir?: string;
    readonly pendingSql?: string;
    readonly allowDestructive: boolean;
    readonly dataDir?: string;
    readonly minFreeDiskMb: number;
}

const USAGE = `usage: safe-release-ops preflight --app <app> --version <vX.Y.Z> [--ledger prisma|django|auto]
                                  [--migrations-dir <dir>] [--pending-sql <file>] [--allow-destructive]
                                  [--data-dir <dir>] [--min-free-disk-mb ${DEFAULT_MIN_FREE_DISK_MB}]

Checks, before anything changes, that a release may migrate (reads only):
  tool-ledger         \`${TOOL_LEDGER}\` has no failed or unfinished migration of the app
  framework-ledger    Prisma: no failed or in-flight row in \`_prisma_migrations\`
  applied-migrations  with --migrations-dir: every applied migration still has its file, unchanged
                      (Prisma: <dir>/<name>/migration.sql against its checksum;
                       Django: <dir>/<app>/migrations/<name>.py for apps kept in <dir>)
  pending-sql         no statement that deletes or rewrites data, drops or renames what the previous
                      version uses, or takes a long lock (read by PostgreSQL's own parser, also inside
                      DO blocks and function bodies; SQL that does not parse and dynamic EXECUTE count
                      too) in the pending SQL: Prisma migrations in <dir> not yet applied, and the
                      --pending-sql file (e.g. \`manage.py sqlmigrate\` output; Django's Python is not
                      read); --allow-destructive accepts them
  free-disk           with --data-dir: free space on that local volume ≥ --min-free-disk-mb;
                      otherwise reported as not readable (skipped), never as passed

The database is read from DATABASE_URL; the password is never printed.
stdout: {"ok":…,"app":…,"version":…,"ledger":…,"checks":[{"name","status":"ok"|"failed"|"skipped","detail","problems"}]}
exit status: 0 when no check failed, 1 when one did (each problem says what to do), 2 usage error.
`;

export function parsePreflightArgs(args: readonly string[]): PreflightRequest {
    const flags = parseFlags(args, {
        app: "value",
        version: "value",
        ledger: "value",
        "migrations-dir": "value",
        "pending-sql": "value",
        "allow-destructive": "switch",
        "data-dir": "value",
        "min-free-disk-mb": "value",
    });
    if (flags.rest.length > 0) throw new UsageError(`unexpected arguments after \`--\`: ${flags.rest.join(" ")}`);
    const ledger = flags.values.get("ledger") ?? "auto";
    if (ledger !== "prisma" && ledger !== "django" && ledger !== "auto") {
        throw new UsageError(`\`--ledger\` must be prisma, django or auto; got \`${ledger}\``);
    }
    const optional = (name: string, key: keyof PreflightRequest) => {
        const value = flags.values.get(name);
        return value === undefined ? {} : { [key]: value };
    };
    const minFree = flags.values.get("min-free-disk-mb");
    return {
        app: validateApp(requireValue(flags, "app", "the application whose database is checked")),
        version: validateVersion(requireValue(flags, "version", "the release version about to be migrated, e.g. v1.5.0")),
        ledger,
        ...optional("migrations-dir", "migrationsDir"),
        ...optional("pending-sql", "pendingSql"),
        allowDestructive: flags.switches.has("allow-destructive"),
        ...optional("data-dir", "dataDir"),
        minFreeDiskMb: minFree === undefined ? DEFAULT_MIN_FREE_DISK_MB : parseCount(minFree, "min-free-disk-mb"),
    };
}

/** Runs every check inside one read-only snapshot, so the checks agree with each other. */
export async function runChecks(client: ClientBase, request: PreflightRequest): Promise<{ ledger: string; checks: CheckResult[] }> {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    try {
        const checks = [toolLedgerCheck(request.app, await readToolLedger(client, request.app))];
        const detected = await detectLedger(client, request.ledger);
        checks.push(...(await frameworkChecks(client, detected, request)));
        checks.push(await diskCheck(request));
        return { ledger: detected.kind, checks };
    } finally {
        await client.query("ROLLBACK");
    }
}

async function frameworkChecks(client: ClientBase, detected: DetectedLedger, request: PreflightRequest): Promise<CheckResult[]> {
    const dir = request.migrationsDir;
    const fileSource: SqlSource[] =
        request.pendingSql === undefined ? [] : [{ label: request.pendingSql, sql: readSqlFile(request.pendingSql) }];
    const noDir = skippedCheck("applied-migrations", "pass `--migrations-dir` to compare applied migrations with this release's files");
    const scan = (sources: SqlSource[], hint: string): CheckResult =>
        sources.length === 0 ? skippedCheck("pending-sql", hint) : pendingSqlCheck(sources, request.allowDestructive);

    if (detected.kind === "prisma") {
        const rows = detected.present ? await readPrismaLedger(client) : [];
        const ledgerCheck = detected.present
            ? prismaLedgerCheck(rows)
            : okCheck("framework-ledger", "`_prisma_migrations` does not exist yet: no migration applied");
        if (dir === undefined) {
            return [ledgerCheck, noDir, scan(fileSource, "no pending SQL to scan: pass `--migrations-dir` or `--pending-sql`")];
        }
        const files = readPrismaMigrations(dir);
        const pending = pendingPrismaMigrations(rows, [...files.keys()]).map((name) => ({
            label: `${dir}/${name}/migration.sql`,
            sql: files.get(name)!.toString("utf8"),
        }));
        const pendingCheck =
            pending.length + fileSource.length === 0
                ? okCheck("pending-sql", `no pending Prisma migration in ${dir}`)
                : pendingSqlCheck([...pending, ...fileSource], request.allowDestructive);
        return [ledgerCheck, prismaAppliedCheck(rows, files, dir), pendingCheck];
    }
    const pendingHint =
        "no pending SQL to scan: pass `--pending-sql` with the SQL of the pending migrations (e.g. `manage.py sqlmigrate <app> <name>`)";
    if (detected.kind === "django") {
        const ledgerCheck = skippedCheck(
            "framework-ledger",
            "`django_migrations` records a migration only once it applied, so a failed Django migration shows only in " +
                `\`${TOOL_LEDGER}\` (see tool-ledger)`,
        );
        if (!detected.present || dir === undefined) {
            const applied = detected.present
                ? noDir
                : okCheck("applied-migrations", "`django_migrations` does not exist yet: no migration applied");
            return [ledgerCheck, applied, scan(fileSource, pendingHint)];
        }
        const tree = readDjangoMigrations(dir);
        const rows = await readDjangoLedger(client);
        const pending = noteUnreadDjangoMigrations(scan(fileSource, pendingHint), pendingDjangoMigrations(rows, tree.files));
        return [ledgerCheck, djangoAppliedCheck(rows, tree.apps, tree.files, dir), pending];
    }
    const tables = `\`${LEDGER_TABLES.prisma}\` or \`${LEDGER_TABLES.django}\``;
    const ledgerCheck =
        detected.kind === "ambiguous"
            ? {
                  name: "framework-ledger",
                  status: "failed" as const,
                  detail: `both ${tables} exist`,
                  problems: [
                      "both `_prisma_migrations` and `django_migrations` exist; pass `--ledger prisma` or `--ledger django` to say which one this app uses",
                  ],
              }
            : skippedCheck(
                  "framework-ledger",
                  `no ${tables} table: nothing applied yet, or another framework (pass \`--ledger\` to insist)`,
              );
    return [ledgerCheck, skippedCheck("applied-migrations", "no framework ledger to compare with"), scan(fileSource, pendingHint)];
}

async function diskCheck(request: PreflightRequest): Promise<CheckResult> {
    if (request.dataDir === undefined) return unreadableDiskCheck();
    try {
        return freeDiskCheck(request.dataDir, await freeBytes(request.dataDir), request.minFreeDiskMb);
    } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? String(err);
        return {
            name: "free-disk",
            status: "failed",
            detail: `cannot read free space of ${request.dataDir} (${code})`,
            problems: [`\`--data-dir\` ${request.dataDir} cannot be read (${code}); pass a directory on the volume that must have room`],
        };
    }
}

export function formatChecks(checks: readonly CheckResult[]): string {
    const lines = checks.flatMap((check) => [
        `preflight: ${check.status.padEnd(7)} ${check.name}: ${check.detail}`,
        ...check.problems.map((problem) => `  - ${problem}`),
    ]);
    const failed = checks.filter((c) => c.status === "failed");
    const problems = failed.reduce((n, c) => n + c.problems.length, 0);
    lines.push(
        failed.length === 0
            ? "preflight: passed; nothing was changed"
            : `preflight: failed with ${problems} problem(s) in ${failed.map((c) => c.name).join(", ")}; nothing was changed`,
    );
    return `${lines.join("\n")}\n`;
}

async function runPreflight(args: string[], io: OpsIO): Promise<number> {
    const request = parsePreflightArgs(args);
    await loadSqlParser();
    const target = parseDatabaseUrl(io.env.DATABASE_URL);
    const redact = redactor(target);
    const fail = (message: string): number => {
        io.stderr.write(`${redact(`preflight: ${message}`)}\n`);
        io.stdout.write(`${JSON.stringify({ ok: false, app: request.app, version: request.version, error: redact(message) })}\n`);
        return 1;
    };
    let client;
    try {
        client = await connect(target);
    } catch (err) {
        return fail(`cannot connect to ${describeTarget(target)}: ${(err as Error).message}`);
    }
    try {
        const { ledger, checks } = await runChecks(client, request);
        const ok = checks.every((c) => c.status !== "failed");
        io.stderr.write(redact(formatChecks(checks)));
        io.stdout.write(`${redact(JSON.stringify({ ok, app: request.app, version: request.version, ledger, checks }))}\n`);
        return ok ? 0 : 1;
    } catch (err) {
        if (err instanceof UsageError) throw err;
        return fail(`error reading ${describeTarget(target)}: ${(err as Error).message}`);
    } finally {
        await client.end().catch(() => undefined);
    }
}

export const command: OpsCommand = {
    name: "preflight",
    summary: "refuse a release before anything changes: failed or edited migrations, destructive pending SQL, low disk",
    usage: USAGE,
    run: runPreflight,
};
