import { strict as assert } from "assert";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { PostgresBackupRecord } from "../../core/backupLog";
import { testPostgres, TestPostgres } from "../support/postgres";
import { backupDir, opsEnv, removeDir, runOps, seedAppDatabase } from "./backupTestSupport";

const sha256 = (bytes: Buffer): string => createHash("sha256").update(bytes).digest("hex");

describe("verify --file without --sha256 (real PostgreSQL)", function () {
    this.timeout(60000);
    let pg: TestPostgres;
    let db: string;
    let dir: string;
    let elsewhere: string;
    let record: PostgresBackupRecord;
    let intact: Buffer;

    before(async () => {
        pg = await testPostgres();
        db = await seedAppDatabase(pg, "verify_content");
        dir = await backupDir();
        elsewhere = await backupDir();
        const run = await runOps(
            ["backup", "--kind", "postgres", "--app", "shop", "--version", "v1.4.2", "--dir", dir, "--compress", "none"],
            opsEnv(pg, db),
        );
        assert.equal(run.code, 0, run.stderr);
        record = JSON.parse(run.stdout);
        intact = fs.readFileSync(record.location);
    });
    afterEach(() => fs.writeFileSync(record.location, intact));
    after(() => {
        removeDir(dir);
        removeDir(elsewhere);
    });

    const fromRecord = () => `record \`${record.id}\` in \`${path.join(dir, "backups.log")}\``;

    it("takes the checksum from the file's record in the backups.log beside it", async () => {
        const run = await runOps(["verify", "--file", record.location], opsEnv(pg, db));
        assert.deepEqual([run.code, run.stderr], [0, ""]);
        const result = JSON.parse(run.stdout);
        assert.deepEqual(
            [result.ok, result.contentVerified, result.expectedSha256, result.checksumFrom],
            [true, true, record.sha256, fromRecord()],
        );
    });

    for (const [damage, alter] of [
        [
            "a 1-byte flip",
            (bytes: Buffer) => Buffer.from(bytes).fill(bytes[bytes.length - 200] ^ 0x01, bytes.length - 200, bytes.length - 199),
        ],
        ["a truncation", (bytes: Buffer) => bytes.subarray(0, bytes.length - 1000)],
    ] as const) {
        it(`fails ${damage} of a logged dump against its record's checksum`, async () => {
            const damaged = alter(intact);
            fs.writeFileSync(record.location, damaged);
            const run = await runOps(["verify", "--file", record.location], opsEnv(pg, db));
            assert.equal(run.code, 1);
            assert.ok(
                run.stderr.endsWith(
                    `verify: checksum mismatch for \`${record.location}\`: expected sha256 ${record.sha256}, got ${sha256(damaged)}\n`,
                ),
                run.stderr,
            );
            assert.deepEqual([JSON.parse(run.stdout).ok, JSON.parse(run.stdout).contentVerified], [false, false]);
        });

        it(`says it could not verify the content of an unlogged dump with ${damage}, and exits 1 unless --structure-only`, async () => {
            const copy = path.join(elsewhere, `${damage.replace(/\W/g, "")}.dump`);
            fs.writeFileSync(copy, alter(intact));
            const unverified =
                `the content of \`${copy}\` could not be verified: no checksum is known for it ` +
                `(no \`--sha256\`, and \`${path.join(elsewhere, "backups.log")}\` records no backup at that location)`;

            const strict = await runOps(["verify", "--file", copy], opsEnv(pg, db));
            assert.deepEqual(
                [strict.code, strict.stderr],
                [
                    1,
                    `verify: ${unverified}, and its structure alone proves nothing about it. Give \`--sha256 <hex>\`, or \`--id\` with ` +
                        "`--log`, or pass `--structure-only` to accept a check of the structure alone\n",
                ],
            );
            const refused = JSON.parse(strict.stdout);
            assert.deepEqual([refused.ok, refused.contentVerified, refused.expectedSha256], [false, false, null]);
            assert.ok(refused.entries > 5, "the table of contents still reads: structure alone cannot tell");

            const lenient = await runOps(["verify", "--file", copy, "--structure-only"], opsEnv(pg, db));
            assert.deepEqual(
                [lenient.code, lenient.stderr],
                [0, `verify: ${unverified}; only its structure was checked (\`--structure-only\`)\n`],
            );
            assert.deepEqual([JSON.parse(lenient.stdout).ok, JSON.parse(lenient.stdout).contentVerified], [true, false]);
        });
    }

    it("refuses --sha256 together with --log", async () => {
        const run = await runOps(["verify", "--file", record.location, "--sha256", record.sha256, "--log", "x.log"], opsEnv(pg, db));
        assert.deepEqual([run.code, run.stderr], [2, "verify: `--sha256` is the expected checksum: give either it or `--log`, not both\n"]);
    });
});
