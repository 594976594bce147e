import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { testPostgres, TestPostgres } from "../support/postgres";
import { backupDir, opsEnv, removeDir, runOps, seedAppDatabase } from "./backupTestSupport";

/** The id a backup prints on stderr as it starts ("backing up … to <dir>/<id>.dump"). */
function startedId(stderr: string, extension: string): string {
    const match = new RegExp(` to \\S+/([^/\\s]+)${extension.replace(/\./g, "\\.")}`).exec(stderr);
    assert.ok(match, stderr);
    return match[1];
}

describe("backup whose record cannot be logged (real PostgreSQL)", function () {
    this.timeout(60000);
    let pg: TestPostgres;
    let db: string;
    let dir: string;

    before(async () => {
        pg = await testPostgres();
        db = await seedAppDatabase(pg, "backup_logfail");
    });
    beforeEach(async () => (dir = await backupDir()));
    afterEach(() => removeDir(dir));

    const postgres = (log: string) => ["backup", "--kind", "postgres", "--app", "shop", "--version", "v1.4.2", "--dir", dir, "--log", log];

    it("a full disk (--log /dev/full): removes the unrecorded dump and facts and says so", async () => {
        const run = await runOps(postgres("/dev/full"), opsEnv(pg, db));
        const id = startedId(run.stderr, ".dump.zst");
        const dump = path.join(dir, `${id}.dump.zst`);
        assert.deepEqual([run.code, run.stdout], [1, ""]);
        assert.ok(
            run.stderr.endsWith(
                `backup: could not append the record of \`${id}\` to the backup log \`/dev/full\`: ENOSPC: no space left on device, write; ` +
                    `removed \`${dump}\` and \`${dump}.facts.json\`, which no record names (a backup the log does not record cannot be ` +
                    "restored, verified or pruned). Nothing was backed up: make the log writable and run the backup again\n",
            ),
            run.stderr,
        );
        assert.deepEqual(fs.readdirSync(dir), []);
    });

    it("a log that is a directory: fails before the dump, naming the log, leaving nothing", async () => {
        const log = path.join(dir, "logs");
        fs.mkdirSync(log);
        const run = await runOps(postgres(log), opsEnv(pg, db));
        assert.deepEqual(
            [run.code, run.stdout, run.stderr],
            [
                1,
                "",
                `backup: the backup log \`${log}\` (\`--log\`, default <dir>/backups.log) must be a file this backup can append its record to; ` +
                    "it is a directory; nothing was backed up\n",
            ],
        );
        assert.deepEqual(fs.readdirSync(dir), ["logs"]);
    });

    it("a directory archive on a full disk: removes the unrecorded archive and says so", async () => {
        const source = await backupDir();
        fs.writeFileSync(path.join(source, "data"), "payload");
        const run = await runOps(
            ["backup", "--kind", "directory", "--path", source, "--app", "shop", "--version", "v1.4.2", "--dir", dir, "--log", "/dev/full"],
            opsEnv(pg, db),
        );
        removeDir(source);
        const id = startedId(run.stderr, ".tar");
        assert.deepEqual([run.code, run.stdout], [1, ""]);
        assert.ok(
            run.stderr.endsWith(
                `backup: could not append the record of \`${id}\` to the backup log \`/dev/full\`: ENOSPC: no space left on device, write; ` +
                    `removed \`${path.join(dir, `${id}.tar`)}\`, which no record names (a backup the log does not record cannot be ` +
                    "restored, verified or pruned). Nothing was backed up: make the log writable and run the backup again\n",
            ),
            run.stderr,
        );
        assert.deepEqual(fs.readdirSync(dir), []);
    });
});
