import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { S3Client } from "@aws-sdk/client-s3";
import { DirectoryBackupRecord } from "../../core/backupLog";
import { SSH_KEY_ENV } from "../../core/sshExec";
import { readStoreRecords } from "../../core/storeRecords";
import { command as hostArchive } from "../../ops/commands/host-archive";
import { Sshd, startSshd } from "../e2e/support/sshd";
import { startMoto, TestMoto } from "../support/moto";
import { runCommand } from "../support/opsRun";
import { tempDir } from "../support/processes";
import { createBucket, head, keysUnder, objectBytes, sha256, testS3 } from "./storeTestSupport";

describe("host-archive into an S3 store (real sshd, moto)", function () {
    this.timeout(120_000);
    let sshd: Sshd;
    let moto: TestMoto;
    let s3: S3Client;
    let data: string;

    before(async () => {
        if (!fs.existsSync("/usr/bin/ssh"))
            throw new Error("/usr/bin/ssh is missing: apt-get install -y --no-install-recommends openssh-client");
        [sshd, moto] = await Promise.all([startSshd(), startMoto()]);
        s3 = testS3(moto);
        await createBucket(s3, "host-backups");
        data = await tempDir("safe-release-store-host-");
        fs.mkdirSync(path.join(data, "db"));
        fs.writeFileSync(path.join(data, "FORMAT"), "2\n");
        fs.writeFileSync(path.join(data, "db", "000001.sst"), "table one\n".repeat(1000));
    });
    after(async () => {
        s3?.destroy();
        if (data !== undefined) fs.rmSync(data, { recursive: true, force: true });
        await Promise.all([sshd?.stop(), moto?.stop()]);
    });

    it("streams the host's archive into the store: the object is the recorded bytes, read back, encrypted", async () => {
        const store = "s3://host-backups/demo";
        const result = await runCommand(
            hostArchive,
            [
                ...["--host", sshd.host, "--port", String(sshd.port), "--user", sshd.user],
                ...["--path", data, "--app", "demo", "--version", "v1.1.0", "--store", store, "--quiesced"],
            ],
            { ...moto.env, [SSH_KEY_ENV]: sshd.privateKey },
        );
        assert.equal(result.code, 0, result.stderr);
        const record: DirectoryBackupRecord & { host: string } = JSON.parse(result.stdout);
        assert.equal(record.location, `s3://host-backups/demo/${record.id}.tar`);
        assert.deepEqual([record.files, record.contentBytes, record.verified, record.consistency], [2, 10_002, true, "quiesced"]);
        assert.equal(record.host, `${sshd.user}@${sshd.host}:${sshd.port}`);
        const bytes = await objectBytes(s3, record.location);
        assert.deepEqual([bytes.length, sha256(bytes)], [record.size, record.sha256]);
        assert.equal((await head(s3, record.location))?.ServerSideEncryption, "AES256");
        assert.deepEqual(await readStoreRecords(store, moto.env), [record]);
        assert.deepEqual(await keysUnder(s3, "host-backups", ""), [`demo/${record.id}.tar`, `demo/records/${record.id}.json`]);
        assert.match(result.stderr, /\nverified \(checksum read back, archive readable\) in \d+\.\d s\n$/);
    });
});
