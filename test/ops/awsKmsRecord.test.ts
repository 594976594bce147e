import { strict as assert } from "assert";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import {
    CreateAliasCommand,
    CreateKeyCommand,
    DescribeKeyCommand,
    DisableKeyCommand,
    EnableKeyRotationCommand,
    GetKeyPolicyCommand,
    GetKeyRotationStatusCommand,
    KMSClient,
    ScheduleKeyDeletionCommand,
    UnsupportedOperationException,
} from "@aws-sdk/client-kms";
import { mockClient } from "aws-sdk-client-mock";
import { awsClientConfig } from "../../core/awsClient";
import { KmsBackupRecord, readLog } from "../../core/backupLog";
import { RecordedKeyFacts } from "../../ops/aws/kmsKey";
import { verifyKeyRecordLive } from "../../ops/aws/kmsLive";
import { canonicalJson } from "../../ops/aws/records";
import { startMoto, TestMoto } from "../support/moto";
import { runOps, SECRET_ENV, secretsLeaked } from "../support/opsRun";
import { tempDir } from "../support/processes";
import { appRule } from "./backupTestSupport";

async function logFile(): Promise<string> {
    return path.join(await tempDir("safe-release-kms-"), "backups.log");
}

describe("kms-record and the live check of key records against moto's KMS", function () {
    // moto and the SDK's first load take seconds of CPU on a busy machine; each wait below is bounded on its own.
    this.timeout(60_000);
    let moto: TestMoto;
    let kms: KMSClient;
    let env: NodeJS.ProcessEnv;
    let serial = 0;

    before(async () => {
        moto = await startMoto();
        kms = new KMSClient(awsClientConfig(moto.env, "KMS"));
        env = { ...moto.env, ...SECRET_ENV };
    });
    after(async () => {
        kms?.destroy();
        await moto?.stop();
    });

    /** A fresh customer-managed key behind its own alias. */
    async function createKey(): Promise<{ keyId: string; arn: string; alias: string }> {
        const created = await kms.send(new CreateKeyCommand({ KeySpec: "SYMMETRIC_DEFAULT", KeyUsage: "ENCRYPT_DECRYPT" }));
        const alias = `alias/shop-${++serial}`;
        await kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: created.KeyMetadata!.KeyId }));
        return { keyId: created.KeyMetadata!.KeyId!, arn: created.KeyMetadata!.Arn!, alias };
    }

    async function record(alias: string): Promise<{ log: string; record: KmsBackupRecord & { key: RecordedKeyFacts }; stderr: string }> {
        const log = await logFile();
        const run = await runOps(["kms-record", "--key", alias, "--app", "shop", "--version", "v1.6.0", "--log", log], env);
        assert.equal(run.code, 0, run.stderr);
        assert.deepEqual(secretsLeaked(run), []);
        return { log, record: JSON.parse(run.stdout), stderr: run.stderr };
    }

    it("records the key's metadata, spec, rotation and policy with a checksum of their canonical JSON", async () => {
        const key = await createKey();
        const { log, record: recorded, stderr } = await record(key.alias);
        const policy = (await kms.send(new GetKeyPolicyCommand({ KeyId: key.keyId, PolicyName: "default" }))).Policy!;
        assert.match(recorded.key.creationDate, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        const facts = {
            arn: key.arn,
            creationDate: recorded.key.creationDate,
            keyId: key.keyId,
            keyManager: "CUSTOMER",
            keySpec: "SYMMETRIC_DEFAULT",
            policy,
            rotation: "disabled",
            state: "Enabled",
        };
        // Written out by hand: keys sorted, no spaces, the policy kept as its text.
        const canonical =
            `{"arn":"${key.arn}","creationDate":"${facts.creationDate}","keyId":"${key.keyId}","keyManager":"CUSTOMER",` +
            `"keySpec":"SYMMETRIC_DEFAULT","policy":${JSON.stringify(policy)},"rotation":"disabled","state":"Enabled"}`;
        assert.equal(canonicalJson(facts), canonical);
        assert.deepEqual(
            { ...recorded, id: "ID", time: "TIME" },
            {
                id: "ID",
                kind: "kms",
                app: "shop",
                version: "v1.6.0",
                time: "TIME",
                size: Buffer.byteLength(canonical),
                sha256: createHash("sha256").update(canonical).digest("hex"),
                location: key.arn,
                verified: true,
                key: facts,
            },
        );
        assert.deepEqual(readLog(log), [recorded]);
        assert.equal(
            stderr,
            `kms-record: recorded ${key.arn} (Enabled, CUSTOMER-managed, SYMMETRIC_DEFAULT, rotation disabled) in ${log}\n`,
        );
    });

    it("verifies a record against the live key, and fails naming `state` once the key is disabled", async () => {
        const key = await createKey();
        const { record: recorded } = await record(key.alias);
        const ok = await verifyKeyRecordLive(recorded, env);
        assert.deepEqual(ok, {
            id: recorded.id,
            kind: "kms",
            location: key.arn,
            sha256: recorded.sha256,
            expectedSha256: recorded.sha256,
            live: { keyId: key.keyId, arn: key.arn, state: "Enabled", keySpec: "SYMMETRIC_DEFAULT", rotation: "disabled" },
            problems: [],
        });

        const { log } = await record(key.alias);
        const [logged] = readLog(log) as KmsBackupRecord[];
        const verified = await runOps(["verify", "--id", logged.id, "--log", log], env);
        assert.equal(verified.code, 0, verified.stderr);
        assert.deepEqual(JSON.parse(verified.stdout).problems, []);

        await kms.send(new DisableKeyCommand({ KeyId: key.keyId }));
        const refused = await runOps(["verify", "--id", logged.id, "--log", log], env);
        assert.equal(refused.code, 1, "`verify` of a disabled key's record fails");
        assert.match(refused.stdout, /`state` is `Disabled` now/);
        const disabled = await verifyKeyRecordLive(recorded, env);
        assert.deepEqual(disabled.problems, [
            `KMS key \`${key.arn}\`: \`state\` is \`Disabled\` now; record \`${recorded.id}\` says \`Enabled\` ` +
                `(enable it with \`aws kms enable-key --key-id ${key.keyId}\`)`,
        ]);
    });

    it("fails naming `rotation` when automatic rotation was switched on after the record", async () => {
        const key = await createKey();
        const { record: recorded } = await record(key.alias);
        await kms.send(new EnableKeyRotationCommand({ KeyId: key.keyId }));
        const check = await verifyKeyRecordLive(recorded, env);
        assert.deepEqual(check.problems, [
            `KMS key \`${key.arn}\`: \`rotation\` is \`enabled\` now; record \`${recorded.id}\` says \`disabled\``,
        ]);
    });

    it("names a record whose key metadata was edited, and a key that no longer exists", async () => {
        const key = await createKey();
        const { record: recorded } = await record(key.alias);
        const tampered = { ...recorded, key: { ...recorded.key, state: "Disabled" } };
        const actual = createHash("sha256").update(canonicalJson(tampered.key)).digest("hex");
        const edited = await verifyKeyRecordLive(tampered, env);
        assert.deepEqual(edited.problems, [
            `record \`${recorded.id}\`: the recorded key metadata has SHA-256 ${actual}, the record says ${recorded.sha256}`,
            `KMS key \`${key.arn}\`: \`state\` is \`Enabled\` now; record \`${recorded.id}\` says \`Disabled\` (a key must be Enabled to encrypt and decrypt)`,
        ]);

        const gone = key.arn.replace(key.keyId, "00000000-0000-0000-0000-000000000000");
        const missing = await verifyKeyRecordLive({ ...recorded, key: { ...recorded.key, arn: gone } }, env);
        assert.equal(missing.problems.length, 2);
        assert.match(
            missing.problems[1],
            new RegExp(
                `^KMS key \`${gone}\` of record \`${recorded.id}\` could not be read: KMS DescribeKey of \`${gone}\` failed: NotFoundException: `,
            ),
        );
    });

    it("records a key whose rotation KMS does not support as `unsupported` (aws-sdk-client-mock: moto answers `false`)", async () => {
        // Real KMS answers GetKeyRotationStatus of an asymmetric key with UnsupportedOperationException; moto does not.
        const keyId = "1234abcd-12ab-34cd-56ef-1234567890ab";
        const arn = `arn:aws:kms:eu-west-1:123456789012:key/${keyId}`;
        const mock = mockClient(KMSClient);
        try {
            mock.on(DescribeKeyCommand).resolves({
                KeyMetadata: {
                    KeyId: keyId,
                    Arn: arn,
                    KeyState: "Enabled",
                    KeyManager: "CUSTOMER",
                    KeySpec: "RSA_2048",
                    CreationDate: new Date(0),
                },
            });
            mock.on(GetKeyPolicyCommand).resolves({ Policy: "{}" });
            mock.on(GetKeyRotationStatusCommand).rejects(
                new UnsupportedOperationException({ message: "asymmetric keys do not rotate", $metadata: {} }),
            );
            const { record: recorded } = await record("alias/signing");
            assert.deepEqual([recorded.key.keySpec, recorded.key.rotation], ["RSA_2048", "unsupported"]);
            assert.deepEqual((await verifyKeyRecordLive(recorded, env)).problems, []);
        } finally {
            mock.restore();
        }
    });

    it("refuses a key pending deletion and a disabled key, says what to do and appends nothing", async () => {
        const pending = await createKey();
        const deletion = await kms.send(new ScheduleKeyDeletionCommand({ KeyId: pending.keyId, PendingWindowInDays: 7 }));
        const log = await logFile();
        const run = await runOps(["kms-record", "--key", pending.alias, "--app", "shop", "--version", "v1.6.0", "--log", log], env);
        assert.equal(run.code, 1);
        assert.equal(run.stdout, "");
        assert.equal(fs.existsSync(log), false);
        const id = pending.keyId;
        assert.equal(
            run.stderr,
            `kms-record: KMS key \`${pending.arn}\` is PendingDeletion (deletion scheduled for ${deletion.DeletionDate!.toISOString()}): ` +
                "data encrypted with it becomes unreadable once it is deleted. " +
                `Cancel the deletion (\`aws kms cancel-key-deletion --key-id ${id}\`) and enable the key (\`aws kms enable-key --key-id ${id}\`) ` +
                "before upgrading; nothing was recorded\n",
        );

        const off = await createKey();
        await kms.send(new DisableKeyCommand({ KeyId: off.keyId }));
        const disabled = await runOps(["kms-record", "--key", off.keyId, "--app", "shop", "--version", "v1.6.0", "--log", log], env);
        assert.equal(disabled.code, 1);
        assert.equal(
            disabled.stderr,
            `kms-record: KMS key \`${off.arn}\` is Disabled: nothing can be encrypted or decrypted with it. ` +
                `Enable the key (\`aws kms enable-key --key-id ${off.keyId}\`) before upgrading; nothing was recorded\n`,
        );
        assert.equal(fs.existsSync(log), false);
    });

    it("reports an alias that does not exist in one line", async () => {
        const run = await runOps(
            ["kms-record", "--key", "alias/nope", "--app", "shop", "--version", "v1.6.0", "--log", await logFile()],
            env,
        );
        assert.equal(run.code, 1);
        assert.match(run.stderr, /^kms-record: KMS DescribeKey of `alias\/nope` failed: NotFoundException: .*alias\/nope.*\n$/);
    });

    it("exits 2 on bad arguments before any AWS call", async () => {
        const cases: Array<[string[], string]> = [
            [["--app", "shop", "--version", "v1.6.0"], "`--key` is required: the KMS key to record"],
            [
                ["--key", "my key", "--app", "shop", "--version", "v1.6.0"],
                "`--key` must be a KMS key id, key ARN, alias/<name> or alias ARN; got `my key`",
            ],
            [["--key", "1234abcd-12ab-34cd-56ef-1234567890ab", "--app", "Shop", "--version", "v1.6.0"], appRule("Shop")],
        ];
        for (const [args, message] of cases) {
            const run = await runOps(["kms-record", ...args], { PATH: process.env.PATH });
            assert.equal(run.code, 2, args.join(" "));
            assert.equal(run.stderr, `kms-record: ${message}\n`);
        }
    });
});
