import * as fs from "fs";
import * as path from "path";
import { atTestEnd, freePort, isRoot, run, tempDir } from "./processes";

/** A throwaway PostgreSQL cluster on 127.0.0.1, shared by every test file of one run. */
export interface TestPostgres {
    readonly host: string;
    readonly port: number;
    readonly user: string;
    /** Directory holding pg_dump, pg_restore, psql … of the server's own version. */
    readonly binDir: string;
    /** `postgresql://postgres@127.0.0.1:PORT/<database>`; trust auth, so no password. */
    url(database: string): string;
    /** Environment variables (PGHOST, PGPORT, PGUSER, PGDATABASE) for a client program. */
    env(database: string): NodeJS.ProcessEnv;
    /** Creates an empty database with a name unique to this run and returns the name. */
    createDatabase(prefix: string): Promise<string>;
    /** Runs SQL through psql (ON_ERROR_STOP) and returns its unaligned, tuples-only output. */
    psql(database: string, sql: string): Promise<string>;
}

const SERVER_USER = "postgres";
let shared: Promise<TestPostgres> | undefined;

/** The newest Debian server directory (/usr/lib/postgresql/<major>/bin), else whatever is on PATH. */
export function postgresBinDir(): string {
    const root = "/usr/lib/postgresql";
    const majors = fs.existsSync(root) ? fs.readdirSync(root).filter((d) => fs.existsSync(path.join(root, d, "bin", "initdb"))) : [];
    majors.sort((a, b) => Number(b) - Number(a));
    if (majors.length > 0) return path.join(root, majors[0], "bin");
    throw new Error("PostgreSQL server binaries not found under /usr/lib/postgresql: install the `postgresql` package");
}

/** Runs a server binary as the `postgres` user when we are root (PostgreSQL refuses root). */
function asServerUser(binary: string, args: string[]) {
    return isRoot() ? run("runuser", ["-u", SERVER_USER, "--", binary, ...args]) : run(binary, args);
}

/** Starts the shared cluster on first use; the root hook stops it when the run ends. */
export function testPostgres(): Promise<TestPostgres> {
    shared ??= startPostgresCluster();
    return shared;
}

/**
 * A cluster of its own (most tests share `testPostgres()`), with extra `name=value` server
 * settings such as TLS, given the cluster's directory; `prepare` fills that directory before the server starts.
 */
export async function startPostgresCluster(
    settings: (dir: string) => string[] = () => [],
    prepare: (dir: string) => Promise<void> = async () => {},
): Promise<TestPostgres> {
    const binDir = postgresBinDir();
    const dir = await tempDir("safe-release-pg-", SERVER_USER);
    const dataDir = path.join(dir, "data");
    const port = await freePort();
    await asServerUser(path.join(binDir, "initdb"), [
        "-D",
        dataDir,
        "-U",
        SERVER_USER,
        "-A",
        "trust",
        "--no-sync",
        "-E",
        "UTF8",
        "--locale=C",
    ]);
    const serverOptions = [
        `-p ${port}`,
        "-c listen_addresses=127.0.0.1",
        `-c unix_socket_directories=${dir}`,
        "-c fsync=off",
        "-c synchronous_commit=off",
        "-c full_page_writes=off",
        ...settings(dir).map((setting) => `-c ${setting}`),
    ].join(" ");
    await prepare(dir);
    await asServerUser(path.join(binDir, "pg_ctl"), [
        "-D",
        dataDir,
        "-o",
        serverOptions,
        "-l",
        path.join(dir, "server.log"),
        "-w",
        "-t",
        "60",
        "start",
    ]);
    atTestEnd(async () => {
        await asServerUser(path.join(binDir, "pg_ctl"), ["-D", dataDir, "-m", "immediate", "-w", "stop"]);
        fs.rmSync(dir, { recursive: true, force: true });
    });

    const host = "127.0.0.1";
    let counter = 0;
    const server: TestPostgres = {
        host,
        port,
        user: SERVER_USER,
        binDir,
        url: (database) => `postgresql://${SERVER_USER}@${host}:${port}/${database}`,
        env: (database) => ({ PGHOST: host, PGPORT: String(port), PGUSER: SERVER_USER, PGDATABASE: database }),
        psql: async (database, sql) => {
            const { stdout } = await run(
                path.join(binDir, "psql"),
                ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", host, "-p", String(port), "-U", SERVER_USER, "-d", database],
                { input: sql },
            );
            return stdout.trim();
        },
        createDatabase: async (prefix) => {
            const name = `${prefix.replace(/[^a-z0-9_]/g, "_")}_${process.pid}_${++counter}`;
            await server.psql("postgres", `CREATE DATABASE ${name};`);
            return name;
        },
    };
    return server;
}
