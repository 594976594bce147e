import { strict as assert } from "assert";
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { PostgresBackupRecord, readLog } from "../../core/backupLog";
import { testPostgres, TestPostgres } from "../support/postgres";
import { backupDir, opsEnv, removeDir, runOps } from "./backupTestSupport";
import { waitFor } from "./storeTestSupport";

const CLI = path.join(__dirname, "..", "..", "ops", "bin", "safe-release-ops.js");
const MiB = 1024 * 1024;

/** The state letter of /proc/<pid>/stat (R, S, Z …), or undefined once the process is gone. */
function processState(pid: number): string | undefined {
    try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
    } catch {
        return undefined;
    }
}

/** A live (not zombie) pg_dump whose libpq environment names `database`. */
function pgDumpOf(database: string): number | undefined {
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        try {
            if (fs.readFileSync(`/proc/${entry}/comm`, "utf8").trim() !== "pg_dump") continue;
            const environ = fs.readFileSync(`/proc/${entry}/environ`, "utf8").split("\0");
            if (environ.includes(`PGDATABASE=${database}`) && processState(Number(entry)) !== "Z") return Number(entry);
        } catch {
            // Gone while being read.
        }
    }
    return undefined;
}

function largestFile(dir: string): { name: string; size: number } | undefined {
    const files = fs.readdirSync(dir).map((name) => ({ name, size: fs.statSync(path.join(dir, name)).size }));
    return files.sort((a, b) => b.size - a.size)[0];
}

describe("backup --kind postgres killed with SIGKILL mid-dump (real PostgreSQL)", function () {
    this.timeout(180000);
    let pg: TestPostgres;
    let db: string;
    let dir: string;
    let backup: ChildProcess | undefined;
    let dumpPid: number | undefined;

    before(async () => {
        pg = await testPostgres();
        db = await pg.createDatabase("backup_killed");
        // ~160 MiB of rows below the TOAST threshold (stored and dumped uncompressed): seconds of pg_dump -Z0 here.
        await pg.psql(db, "CREATE TABLE big AS SELECT g AS id, repeat(md5(g::text), 32) AS pad FROM generate_series(1, 150000) g;");
        dir = await backupDir();
    });
    after(() => {
        // Whatever the outcome, nothing of this test keeps running.
        if (backup?.exitCode === null && backup.signalCode === null) backup.kill("SIGKILL");
        if (dumpPid !== undefined && processState(dumpPid) !== undefined) process.kill(dumpPid, "SIGKILL");
        removeDir(dir);
    });

    it("leaves no pg_dump behind, no lock held, and the next backup records only its own file", async () => {
        // Uncompressed: these rows compress about 30 times, and a zstd dump would end before the kill (backupCompression covers zstd).
        const args = ["backup", "--kind", "postgres", "--app", "shop", "--version", "v1.0.0", "--dir", dir, "--compress", "none"];
        backup = spawn(process.execPath, [CLI, ...args], { env: opsEnv(pg, db), stdio: ["ignore", "ignore", "pipe"] });
        let stderr = "";
        backup.stderr!.on("data", (chunk) => (stderr += chunk));
        const exited = new Promise((resolve) => backup!.on("exit", resolve));

        const partial = await waitFor("the dump growing past 1 MiB", 60000, () => {
            const file = largestFile(dir);
            return file !== undefined && file.size >= MiB ? file : undefined;
        });
        dumpPid = await waitFor("pg_dump of the database running", 10000, () => pgDumpOf(db));
        backup.kill("SIGKILL");
        await exited;
        const partialSize = fs.statSync(path.join(dir, partial.name)).size;
        assert.ok(partialSize < 150000 * 1024, `killed mid-dump (${partialSize} bytes written): ${stderr}`);

        await waitFor(`pg_dump (pid ${dumpPid}) ending after its backup was killed`, 15000, () =>
            processState(dumpPid!) === undefined || processState(dumpPid!) === "Z" ? true : undefined,
        );
        // A migration's exclusive lock is granted at once: no session still holds the dump's share lock.
        await pg.psql(db, "SET lock_timeout = '10s'; ALTER TABLE big ADD COLUMN added int;");

        const next = await runOps(args, opsEnv(pg, db));
        assert.equal(next.code, 0, next.stderr);
        const record: PostgresBackupRecord = JSON.parse(next.stdout);
        assert.ok(
            next.stderr.includes(
                `backup: removed \`${path.join(dir, partial.name)}\`: the partial file of a backup that did not finish (process ${backup.pid} is gone)\n`,
            ),
            next.stderr,
        );
        assert.deepEqual(readLog(path.join(dir, "backups.log")), [record]);
        assert.deepEqual(fs.readdirSync(dir).sort(), ["backups.log", `${record.id}.dump`, `${record.id}.dump.facts.json`]);
    });
});
