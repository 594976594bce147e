import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { Client } from "pg";
import { atTestEnd, freePort, isRoot, run, tempDir } from "../../support/processes";
import { postgresBinDir } from "../../support/postgres";
import { DockerEngine } from "./dockerEngine";

/**
 * The test service's PostgreSQL: a throwaway cluster on the host, listening on
 * 127.0.0.1 (for pg_dump, psql and the ops programs) and on the engine's bridge
 * gateway (for containers), never on 0.0.0.0.
 *
 * Why on the host rather than in a container: the program creates its Docker
 * network during `pulumi up`, so a database container could not be on it
 * beforehand, while a host address is reachable from every network of the
 * engine; and the host-side tools then talk to the very same server. Containers
 * come from the engine's address pool, so pg_hba admits that pool and loopback
 * only, with a password (scram-sha-256), as a real deployment would.
 */
export interface ServiceDatabase {
    /** `postgres://service:…@127.0.0.1:PORT/service` for host-side tools. */
    readonly hostUrl: string;
    /** The same database as seen from a container on any network of the engine: the bridge gateway as host. */
    readonly containerUrl: string;
    readonly port: number;
    /** Directory of pg_dump, pg_restore, psql of the server's own version. */
    readonly binDir: string;
    /** PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE for a libpq program on the host. */
    readonly env: NodeJS.ProcessEnv;
    /** Runs one statement as the service's user and returns its rows. */
    query(sql: string): Promise<any[]>;
    stop(): Promise<void>;
}

const SERVER_USER = "postgres";
const DATABASE = "service";
const ROLE = "service";

function asServerUser(binary: string, args: string[], input?: string) {
    const options = input !== undefined ? { input } : {};
    return isRoot() ? run("runuser", ["-u", SERVER_USER, "--", binary, ...args], options) : run(binary, args, options);
}

export async function startServiceDatabase(engine: DockerEngine): Promise<ServiceDatabase> {
    const binDir = postgresBinDir();
    const dir = await tempDir("sr-servicedb-", SERVER_USER);
    const dataDir = path.join(dir, "data");
    const port = await freePort();
    // Hex only, so it needs no escaping in a URL or in SQL.
    const password = randomBytes(18).toString("hex");
    await asServerUser(path.join(binDir, "initdb"), [
        "-D",
        dataDir,
        "-U",
        SERVER_USER,
        "--auth-local=trust",
        "--auth-host=reject",
        "--no-sync",
        "-E",
        "UTF8",
        "--locale=C",
    ]);
    fs.writeFileSync(
        path.join(dataDir, "pg_hba.conf"),
        [
            "# The server's own administration over its unix socket; clients by password from loopback and the engine's containers.",
            `local all ${SERVER_USER} trust`,
            "host all all 127.0.0.1/32 scram-sha-256",
            `host all all ${engine.addressPool} scram-sha-256`,
            "",
        ].join("\n"),
    );
    const serverOptions = [
        `-p ${port}`,
        `-c listen_addresses=127.0.0.1,${engine.bridgeGateway}`,
        `-c unix_socket_directories=${dir}`,
        "-c password_encryption=scram-sha-256",
        "-c fsync=off",
        "-c synchronous_commit=off",
        "-c full_page_writes=off",
    ].join(" ");
    const pgCtl = path.join(binDir, "pg_ctl");
    let stopped: Promise<void> | undefined;
    const stop = (): Promise<void> => {
        stopped ??= (async () => {
            await asServerUser(pgCtl, ["-D", dataDir, "-m", "immediate", "-w", "-t", "30", "stop"]).catch(() => undefined);
            fs.rmSync(dir, { recursive: true, force: true });
        })();
        return stopped;
    };
    atTestEnd(stop);
    try {
        await asServerUser(pgCtl, ["-D", dataDir, "-o", serverOptions, "-l", path.join(dir, "server.log"), "-w", "-t", "60", "start"]);
        // The password goes in on stdin, never on a command line. CREATEDB: a restore builds a
        // scratch database beside the live one and swaps it in by renaming, as the README asks of the role.
        await asServerUser(
            path.join(binDir, "psql"),
            ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", dir, "-p", String(port), "-U", SERVER_USER, "-d", "postgres"],
            `CREATE ROLE ${ROLE} LOGIN CREATEDB PASSWORD '${password}';\nCREATE DATABASE ${DATABASE} OWNER ${ROLE};\n`,
        );
    } catch (err) {
        await stop();
        throw err;
    }

    const url = (host: string) => `postgres://${ROLE}:${password}@${host}:${port}/${DATABASE}`;
    const hostUrl = url("127.0.0.1");
    return {
        hostUrl,
        containerUrl: url(engine.bridgeGateway),
        port,
        binDir,
        env: { ...process.env, PGHOST: "127.0.0.1", PGPORT: String(port), PGUSER: ROLE, PGPASSWORD: password, PGDATABASE: DATABASE },
        query: async (sql: string) => {
            const client = new Client({ connectionString: hostUrl, connectionTimeoutMillis: 10_000 });
            await client.connect();
            try {
                return (await client.query(sql)).rows;
            } finally {
                await client.end();
            }
        },
        stop,
    };
}
