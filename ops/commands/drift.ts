import { Client, ClientBase } from "pg";
import { OpsCommand, OpsIO, UsageError } from "../command";
import { parseFlags, requireValue } from "../flags";
import { validateApp } from "../validate";
import { diffSchemas } from "../migrate/schemaDiff";
import { readHeadSnapshot, SCHEMA_SNAPSHOTS } from "../migrate/schemaSnapshots";
import { scratchDatabaseName, withScratchDatabase } from "../migrate/scratchDatabase";
import { connect, describeTarget, parseDatabaseUrl, PgTarget, redactor } from "../pg/connection";
import { ledgerTarget, tableExists, TOOL_LEDGER } from "../pg/ledgers";
import { readSchema, SchemaShape } from "../pg/schema";
import { withClient } from "../pg/restore";
import { readPrismaMigrations } from "../preflight/sources";
import { reported } from "../report";

const USAGE = `usage: safe-release-ops drift --app <app> [--on-drift stop|warn] [--migrations-dir <prisma/migrations>]
                              [--without-reference fail|skip]

Compares the live database's schema (tables, columns with type, nullability and default,
constraints, indexes, views, enum types; the migration ledgers left out) with the schema
the migrations made, object by object, before a release migrates.
The reference is the schema \`migrate\` recorded in \`${SCHEMA_SNAPSHOTS}\` right after the
migration of the schema head (the newest standing succeeded run of --app in \`${TOOL_LEDGER}\`):
it works for any framework, Django included. Without one (a head migrated before schemas were
recorded), --migrations-dir replays the Prisma migrations that \`_prisma_migrations\` lists as
applied, in order, into an empty scratch database <db>_drift_<stamp>, dropped afterwards.
With neither, --without-reference fail (default) exits 2; skip exits 0 with the outcome
"no-reference" and says why (the first release after adopting safe-release: its migration
records the reference the next release is checked against).
--on-drift stop (default): a difference exits 1, each listed on stderr and in the result;
  warn: exits 0 and lists them the same way.
The database is SAFE_RELEASE_LEDGER_URL's, else DATABASE_URL's (where \`migrate\` records).
stdout: {"outcome":"no-drift"|"drift"|"no-reference","app":…,"onDrift":…,"reference":{"kind":"snapshot"|"replay",…},"differences":[…]}
exit status: 0 no drift (or warn), 1 drift with stop or an error, 2 usage error.
`;

type OnDrift = "stop" | "warn";

export interface DriftRequest {
    readonly app: string;
    readonly onDrift: OnDrift;
    readonly migrationsDir?: string;
    readonly withoutReference: "fail" | "skip";
}

export function parseDriftArgs(args: readonly string[]): DriftRequest {
    const flags = parseFlags(args, { app: "value", "on-drift": "value", "migrations-dir": "value", "without-reference": "value" });
    const app = validateApp(requireValue(flags, "app", "the application whose schema is checked"));
    const onDrift = flags.values.get("on-drift") ?? "stop";
    if (onDrift !== "stop" && onDrift !== "warn") throw new UsageError(`\`--on-drift\` must be \`stop\` or \`warn\`; got \`${onDrift}\``);
    const dir = flags.values.get("migrations-dir");
    const withoutReference = flags.values.get("without-reference") ?? "fail";
    if (withoutReference !== "fail" && withoutReference !== "skip") {
        throw new UsageError(`\`--without-reference\` must be \`fail\` or \`skip\`; got \`${withoutReference}\``);
    }
    return { app, onDrift, ...(dir !== undefined ? { migrationsDir: dir } : {}), withoutReference };
}

interface Reference {
    readonly schema: SchemaShape;
    readonly description: Record<string, unknown>;
}

async function runDrift(args: string[], io: OpsIO): Promise<number> {
    const request = parseDriftArgs(args);
    const live = ledgerTarget(io.env) ?? parseDatabaseUrl(io.env.DATABASE_URL);
    const redact = redactor(live);
    const log = (line: string): void => void io.stderr.write(`${redact(`drift: ${line}`)}\n`);
    const client = await connect(live).catch((err: Error) => {
        throw new Error(`could not connect to ${describeTarget(live)}: ${err.message}`);
    });
    const { schema, reference } = await withConnected(client, async () => ({
        schema: await readSchema(client),
        reference: await findReference(client, live, request, io.env, log),
    }));
    if (reference === undefined) {
        io.stdout.write(
            `${JSON.stringify({ outcome: "no-reference", app: request.app, onDrift: request.onDrift, differences: [] }, null, 2)}\n`,
        );
        return 0;
    }
    const differences = diffSchemas(schema, reference.schema);
    const drifted = differences.length > 0;
    const stop = drifted && request.onDrift === "stop";
    for (const difference of differences) log(`${request.onDrift === "warn" ? "warning: " : ""}${difference}`);
    if (!drifted) log(`the live schema of \`${request.app}\` matches the migrations' schema`);
    else if (stop) {
        log(
            `stopped: ${differences.length} difference(s) between the live database and the schema the migrations made. ` +
                "Put the live schema back (or write a migration that makes the change on purpose), or pass `--on-drift warn` to go on",
        );
    }
    const result = {
        outcome: drifted ? "drift" : "no-drift",
        app: request.app,
        onDrift: request.onDrift,
        reference: reference.description,
        differences,
    };
    io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return stop ? 1 : 0;
}

async function findReference(
    client: ClientBase,
    live: PgTarget,
    request: DriftRequest,
    env: NodeJS.ProcessEnv,
    log: (line: string) => void,
): Promise<Reference | undefined> {
    const head = await readHeadSnapshot(client, request.app);
    if (head.found) {
        const { version, digest, recordedAt } = head.snapshot;
        log(`comparing with the schema recorded after the migration of ${version} (${digest}) at ${recordedAt}`);
        return { schema: head.snapshot.schema, description: { kind: "snapshot", version, digest, recordedAt } };
    }
    if (request.migrationsDir === undefined && request.withoutReference === "skip") {
        log(`not checked: ${head.why}, so there is no recorded schema to compare with; this release's migration records one`);
        return undefined;
    }
    if (request.migrationsDir === undefined) {
        throw new UsageError(
            `\`--migrations-dir\` must name the Prisma migrations folder to replay: ${head.why}, ` +
                "so there is no recorded schema to compare with (each successful `migrate` records one)",
        );
    }
    log(`${head.why}: replaying the applied Prisma migrations of ${request.migrationsDir}`);
    return replayPrisma(client, live, request.migrationsDir, env, log);
}

/** The applied Prisma migrations, in the order `prisma migrate deploy` applies them to an empty database. */
async function appliedPrismaMigrations(client: ClientBase): Promise<string[]> {
    if (!(await tableExists(client, "_prisma_migrations"))) {
        throw new UsageError(
            "`--migrations-dir` replays the migrations `_prisma_migrations` lists as applied; the live database has no such table",
        );
    }
    const { rows } = await client.query(
        `SELECT migration_name FROM _prisma_migrations m WHERE finished_at IS NOT NULL AND to_jsonb(m) ->> 'rolled_back_at' IS NULL
          ORDER BY migration_name COLLATE "C"`,
    );
    return rows.map((r) => r.migration_name as string);
}

async function replayPrisma(
    client: ClientBase,
    live: PgTarget,
    dir: string,
    env: NodeJS.ProcessEnv,
    log: (line: string) => void,
): Promise<Reference> {
    const applied = await appliedPrismaMigrations(client);
    const files = readPrismaMigrations(dir);
    const missing = applied.filter((name) => !files.has(name));
    if (missing.length > 0) {
        throw new UsageError(
            `\`--migrations-dir\` must hold every applied migration; \`${dir}\` has no ${missing.map((m) => `${m}/migration.sql`).join(", ")}`,
        );
    }
    const scratch = scratchDatabaseName(live.database, "drift", new Date());
    const schema = await withScratchDatabase(
        live,
        scratch,
        env,
        undefined,
        (error) => log(error === undefined ? `dropped the scratch database ${scratch}` : `could not drop ${scratch}: ${error.message}`),
        (created) =>
            withClient(created.target, async (replay) => {
                for (const name of applied) {
                    try {
                        await replay.query(files.get(name)!.toString("utf8"));
                    } catch (err) {
                        throw new Error(
                            `replaying ${name}/migration.sql into the scratch database ${scratch} failed: ${(err as Error).message}; ` +
                                "the migrations do not replay on an empty database, so they cannot be the reference",
                        );
                    }
                }
                return readSchema(replay);
            }),
    );
    return { schema, description: { kind: "replay", migrationsDir: dir, migrations: applied, scratchDatabase: scratch } };
}

async function withConnected<T>(client: Client, work: () => Promise<T>): Promise<T> {
    try {
        return await work();
    } finally {
        await client.end().catch(() => undefined);
    }
}

export const command: OpsCommand = {
    name: "drift",
    summary: "compare the live schema with the one the migrations made (recorded after the last migration, or replayed)",
    usage: USAGE,
    run: (args, io) => reported("drift", io, () => runDrift(args, io)),
};
