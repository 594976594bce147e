import * as fs from "fs";
import * as path from "path";
import { run } from "../../support/processes";
import { postgresBinDir } from "../../support/postgres";
import { Rootfs, sharedLibraries } from "../images/rootfs";
import { DockerEngine } from "./dockerEngine";
import { baseFiles, cacheKey, cached } from "./images";

/**
 * A PostgreSQL server image made of the host's own PostgreSQL binaries (Debian's
 * postgresql-15), for tests that need the database in a container on a Docker
 * network, as a managed database is to a task in a VPC.
 *
 * It runs as `postgres` (uid 999), never root: at start it creates its cluster in
 * /tmp/pgdata with the superuser `postgres`, whose password it reads from
 * POSTGRES_PASSWORD (pass it by name, `docker run -e POSTGRES_PASSWORD`), and
 * admits clients from any address by password (scram-sha-256). Health: pg_isready.
 */
export const POSTGRES_UID = 999;
/** Server-side modules initdb and a plain database load: PL/pgSQL, the snowball dictionaries, encoding conversions. */
const MODULES = /^(plpgsql|dict_snowball|.*_and_.*)\.so$/;
const RECIPE = __filename;

const START_SCRIPT = `#!/bin/sh
# Creates the cluster on first start, then runs the server in the foreground as PID 1.
set -eu
: "\${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD, passed by name: docker run -e POSTGRES_PASSWORD}"
export PGDATA=/tmp/pgdata
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    umask 077
    # printf is the shell's own: the password is on no process's command line.
    printf '%s\\n' "$POSTGRES_PASSWORD" | initdb -D "$PGDATA" -U postgres --pwfile=/dev/stdin \\
        --auth=scram-sha-256 --no-sync -E UTF8 --locale=C >/tmp/initdb.log 2>&1 || { cat /tmp/initdb.log; exit 1; }
    echo "host all all 0.0.0.0/0 scram-sha-256" >>"$PGDATA/pg_hba.conf"
fi
unset POSTGRES_PASSWORD
exec postgres -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/tmp -c jit=off \\
    -c fsync=off -c synchronous_commit=off -c full_page_writes=off
`;

/** Builds (or takes from the cache) the image and imports it into the engine as `reference`; returns PostgreSQL's major. */
export async function importPostgresImage(engine: DockerEngine, reference: string): Promise<string> {
    const binDir = postgresBinDir();
    const major = path.basename(path.dirname(binDir));
    const libDir = path.join(path.dirname(binDir), "lib");
    const shareDir = `/usr/share/postgresql/${major}`;
    const binaries = ["postgres", "initdb", "pg_isready"].map((name) => path.join(binDir, name));
    const modules = fs
        .readdirSync(libDir)
        .filter((name) => MODULES.test(name))
        .map((name) => path.join(libDir, name));
    const libraries = [...new Set((await Promise.all([...binaries, ...modules].map(sharedLibraries))).flat())].sort();
    const version = (await run(binaries[0], ["--version"])).stdout.trim();
    const key = cacheKey("postgres", [RECIPE, ...binaries, ...modules, ...libraries], [version, ...libraries]);
    const dir = await cached(key, `the PostgreSQL ${major} server image (${version})`, async (staging) => {
        const rootfs = baseFiles(new Rootfs(path.join(staging, "rootfs")));
        await rootfs.busybox("/bin/busybox");
        fs.appendFileSync(path.join(rootfs.dir, "etc/passwd"), `postgres:x:${POSTGRES_UID}:${POSTGRES_UID}:PostgreSQL:/tmp:/bin/sh\n`);
        fs.appendFileSync(path.join(rootfs.dir, "etc/group"), `postgres:x:${POSTGRES_UID}:\n`);
        for (const file of [...binaries, ...modules, ...libraries]) rootfs.copy(file);
        // initdb finds its share dir (catalog SQL, timezone sets, snowball stop words) at Debian's compiled-in path.
        rootfs.mkdir(path.dirname(shareDir));
        await run("cp", ["-a", shareDir, path.join(rootfs.dir, shareDir)]);
        await run("cp", ["-a", "/usr/share/zoneinfo", path.join(rootfs.dir, "usr/share/zoneinfo")]);
        rootfs.write("/usr/local/bin/start-postgres", START_SCRIPT, 0o755);
        await rootfs.pack(path.join(staging, "postgres.tar"));
        fs.rmSync(rootfs.dir, { recursive: true, force: true });
    });
    const changes = [
        `ENV PATH=${binDir}:/usr/local/bin:/usr/bin:/bin`,
        "ENV TZ=UTC",
        `USER ${POSTGRES_UID}:${POSTGRES_UID}`,
        'CMD ["/usr/local/bin/start-postgres"]',
        "EXPOSE 5432",
    ];
    await engine.docker(["import", ...changes.flatMap((change) => ["--change", change]), path.join(dir, "postgres.tar"), reference]);
    return major;
}
