import * as fs from "fs";
import * as path from "path";
import { OpsRun } from "../support/opsRun";
import { run, tempDir } from "../support/processes";
import { TestPostgres } from "../support/postgres";

/** A password that trust auth ignores: it must never show up in any output. */
export const SECRET = "S3cret-Passw0rd-do-not-print";

/** Runs `safe-release-ops <argv>` in-process with captured streams. */
export { runOps } from "../support/opsRun";

/** The real executable, as an operator or a command resource runs it. */
export async function runOpsBinary(argv: string[], env: NodeJS.ProcessEnv): Promise<OpsRun> {
    const binary = path.join(__dirname, "..", "..", "ops", "bin", "safe-release-ops.js");
    try {
        const { stdout, stderr } = await run(process.execPath, [binary, ...argv], { env });
        return { code: 0, stdout, stderr };
    } catch (error) {
        const message = (error as Error).message;
        const code = Number(/exited (\d+)/.exec(message)?.[1] ?? "-1");
        return { code, stdout: "", stderr: message };
    }
}

/** Environment for a command against `database`, with a password in the URL and no PG* variables. */
export function opsEnv(pg: TestPostgres, database: string): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env, SAFE_RELEASE_PG_BIN: pg.binDir };
    for (const key of Object.keys(env)) if (key.startsWith("PG")) delete env[key];
    env.DATABASE_URL = `postgresql://${pg.user}:${SECRET}@${pg.host}:${pg.port}/${database}`;
    return env;
}

export async function backupDir(): Promise<string> {
    const dir = await tempDir("safe-release-backup-");
    return dir;
}

export function removeDir(dir: string): void {
    fs.rmSync(dir, { recursive: true, force: true });
}

/** A database shaped like an app's: a Prisma ledger, a critical table with mixed types, and a side table. */
export async function seedAppDatabase(pg: TestPostgres, prefix: string): Promise<string> {
    const db = await pg.createDatabase(prefix);
    await pg.psql(
        db,
        `CREATE TABLE _prisma_migrations (id text PRIMARY KEY, checksum text NOT NULL, migration_name text NOT NULL,
             started_at timestamptz NOT NULL, finished_at timestamptz, applied_steps_count int NOT NULL DEFAULT 0);
         INSERT INTO _prisma_migrations VALUES
             ('m1', 'c1', '20240101_init', '2024-01-01 10:00:00+00', '2024-01-01 10:00:01+00', 1),
             ('m2', 'c2', '20240201_projects', '2024-02-01 10:00:00+00', '2024-02-01 10:00:02+00', 1);
         CREATE TABLE users (id int PRIMARY KEY, email text NOT NULL, balance numeric(12,2), created timestamptz);
         INSERT INTO users SELECT g, 'user' || g || '@example.test', g * 1.25, '2024-03-01 00:00:00+00'::timestamptz + g * interval '1 hour'
             FROM generate_series(1, 500) g;
         CREATE TABLE projects (id int PRIMARY KEY, owner int REFERENCES users(id), name text);
         INSERT INTO projects SELECT g, 1 + g % 500, 'project ' || g FROM generate_series(1, 120) g;`,
    );
    return db;
}

/** The one message every ops program gives for a version that is not a release tag, written out by hand. */
export function versionRule(got: string, option = "version"): string {
    return `\`--${option}\` must be a release tag \`vMAJOR.MINOR.PATCH\`, optionally with a pre-release suffix such as \`v1.5.0-rc.1\`; got \`${got}\``;
}

/** The one message for an app name that is not valid. */
export function appRule(got: string): string {
    return `\`--app\` must be 1–63 lower-case letters, digits, \`-\` or \`_\`, starting with a letter or digit; got \`${got}\``;
}
