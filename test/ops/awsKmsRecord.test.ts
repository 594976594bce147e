import { strict as assert } from "assert";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { canonicalJson } from "../../ops/aws/records";
import { fakeAws, FakeResponse, FakeRule, runOps, secretsLeaked } from "../support/fakeAws";
import { tempDir } from "../support/processes";
import { appRule } from "./backupTestSupport";

const KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab";
const ARN = `arn:aws:kms:eu-west-1:123456789012:key/${KEY_ID}`;
const POLICY = '{\n  "Version" : "2012-10-17",\n  "Id" : "key-default-1",\n  "Statement" : [ ]\n}';

function describeKey(state: string, extra: Record<string, unknown> = {}): FakeResponse {
    return {
        json: {
            KeyMetadata: {
                AWSAccountId: "123456789012",
                KeyId: KEY_ID,
                Arn: ARN,
                CreationDate: "2024-03-01T10:20:30.123000+00:00",
                Enabled: state === "Enabled",
                KeyUsage: "ENCRYPT_DECRYPT",
                KeyState: state,
                Origin: "AWS_KMS",
                KeyManager: "CUSTOMER",
                ...extra,
            },
        },
    };
}

function scenario(describe: FakeResponse): FakeRule[] {
    return [
        { command: "kms describe-key", responses: [describe] },
        { command: "kms get-key-policy", responses: [{ json: { Policy: POLICY, PolicyName: "default" } }] },
    ];
}

const ARGS = ["kms-record", "--key", "alias/shop", "--app", "shop", "--version", "v1.6.0"];

async function logFile(): Promise<string> {
    return path.join(await tempDir("safe-release-kms-"), "backups.log");
}

describe("kms-record against a fake aws CLI", () => {
    it("records an Enabled key's metadata and policy, with a checksum of their canonical JSON", async () => {
        const fake = await fakeAws(scenario(describeKey("Enabled")));
        const log = await logFile();
        const run = await runOps(fake, [...ARGS, "--log", log]);
        assert.equal(run.code, 0, run.stderr);
        assert.deepEqual(fake.argvs(), [
            ["kms", "describe-key", "--key-id", "alias/shop"],
            ["kms", "get-key-policy", "--key-id", KEY_ID, "--policy-name", "default"],
        ]);
        // Written out by hand: keys sorted, no spaces, the policy kept as its text.
        const canonical =
            `{"arn":"${ARN}","creationDate":"2024-03-01T10:20:30.123000+00:00","keyId":"${KEY_ID}","keyManager":"CUSTOMER",` +
            `"policy":${JSON.stringify(POLICY)},"state":"Enabled"}`;
        const record = JSON.parse(run.stdout);
        assert.match(record.id, /^shop-v1\.6\.0-\d{8}T\d{6}\.\d{3}Z$/);
        assert.deepEqual(
            { ...record, id: "ID", time: "TIME" },
            {
                id: "ID",
                kind: "kms",
                app: "shop",
                version: "v1.6.0",
                time: "TIME",
                size: Buffer.byteLength(canonical),
                sha256: createHash("sha256").update(canonical).digest("hex"),
                location: ARN,
                verified: true,
                key: {
                    keyId: KEY_ID,
                    arn: ARN,
                    state: "Enabled",
                    keyManager: "CUSTOMER",
                    creationDate: "2024-03-01T10:20:30.123000+00:00",
                    policy: POLICY,
                },
            },
        );
        assert.equal(fs.readFileSync(log, "utf8"), `${JSON.stringify(record)}\n`);
        assert.equal(run.stderr, `kms-record: recorded ${ARN} (Enabled, CUSTOMER-managed) in ${log}\n`);
        assert.deepEqual(secretsLeaked(fake, run), []);
    });

    it("refuses a key pending deletion, says how to cancel it and appends nothing", async () => {
        const fake = await fakeAws(
            scenario(describeKey("PendingDeletion", { DeletionDate: "2026-12-01T00:00:00+00:00", PendingDeletionWindowInDays: 30 })),
        );
        const log = await logFile();
        const run = await runOps(fake, [...ARGS, "--log", log]);
        assert.equal(run.code, 1);
        assert.deepEqual(fake.argvs(), [["kms", "describe-key", "--key-id", "alias/shop"]]);
        assert.equal(run.stdout, "");
        assert.equal(fs.existsSync(log), false);
        assert.equal(
            run.stderr,
            `kms-record: KMS key \`${ARN}\` is PendingDeletion (deletion scheduled for 2026-12-01T00:00:00+00:00): ` +
                "data encrypted with it becomes unreadable once it is deleted. " +
                `Cancel the deletion (\`aws kms cancel-key-deletion --key-id ${KEY_ID}\`) and enable the key (\`aws kms enable-key --key-id ${KEY_ID}\`) ` +
                "before upgrading; nothing was recorded\n",
        );
    });

    it("refuses a Disabled key and a replica pending deletion", async () => {
        const disabled = await runOps(await fakeAws(scenario(describeKey("Disabled"))), [...ARGS, "--log", await logFile()]);
        assert.equal(disabled.code, 1);
        assert.equal(
            disabled.stderr,
            `kms-record: KMS key \`${ARN}\` is Disabled: nothing can be encrypted or decrypted with it. ` +
                `Enable the key (\`aws kms enable-key --key-id ${KEY_ID}\`) before upgrading; nothing was recorded\n`,
        );
        const replica = await runOps(await fakeAws(scenario(describeKey("PendingReplicaDeletion"))), [...ARGS, "--log", await logFile()]);
        assert.equal(replica.code, 1);
        assert.equal(
            replica.stderr,
            `kms-record: KMS key \`${ARN}\` is PendingReplicaDeletion: this replica is scheduled for deletion. ` +
                `Cancel the deletion (\`aws kms cancel-key-deletion --key-id ${KEY_ID}\` in the replica's Region) and enable the key ` +
                `(\`aws kms enable-key --key-id ${KEY_ID}\`) before upgrading; nothing was recorded\n`,
        );
    });

    it("reports a key that does not exist in one line", async () => {
        const fake = await fakeAws([
            {
                command: "kms describe-key",
                responses: [
                    {
                        exit: 254,
                        stderr: "\nAn error occurred (NotFoundException) when calling the DescribeKey operation: Alias arn:aws:kms:eu-west-1:123456789012:alias/shop is not found.\n",
                    },
                ],
            },
        ]);
        const run = await runOps(fake, [...ARGS, "--log", await logFile()]);
        assert.equal(run.code, 1);
        assert.equal(
            run.stderr,
            "kms-record: aws kms describe-key failed (exit 254): An error occurred (NotFoundException) when calling the DescribeKey operation: Alias arn:aws:kms:eu-west-1:123456789012:alias/shop is not found.\n",
        );
    });

    it("exits 2 on bad arguments without calling aws", async () => {
        const fake = await fakeAws([]);
        const cases: Array<[string[], string]> = [
            [["--app", "shop", "--version", "v1.6.0"], "`--key` is required: the KMS key to record"],
            [
                ["--key", "my key", "--app", "shop", "--version", "v1.6.0"],
                "`--key` must be a KMS key id, key ARN, alias/<name> or alias ARN; got `my key`",
            ],
            [["--key", KEY_ID, "--app", "Shop", "--version", "v1.6.0"], appRule("Shop")],
        ];
        for (const [args, message] of cases) {
            const run = await runOps(fake, ["kms-record", ...args]);
            assert.equal(run.code, 2, args.join(" "));
            assert.equal(run.stderr, `kms-record: ${message}\n`);
        }
        assert.deepEqual(fake.calls(), []);
    });

    it("verify --id recomputes the checksum of the recorded key without calling aws, and names a tampered record", async () => {
        const log = await logFile();
        const recordRun = await runOps(await fakeAws(scenario(describeKey("Enabled"))), [...ARGS, "--log", log]);
        const record = JSON.parse(recordRun.stdout);
        const noAws = await fakeAws([]);
        const run = await runOps(noAws, ["verify", "--id", record.id, "--log", log]);
        assert.equal(run.code, 0, run.stderr);
        assert.deepEqual(noAws.calls(), []);
        assert.deepEqual(
            { ...JSON.parse(run.stdout), durationMs: 0 },
            {
                ok: true,
                id: record.id,
                kind: "kms",
                location: ARN,
                expectedSha256: record.sha256,
                sha256: record.sha256,
                size: record.size,
                problems: [],
                durationMs: 0,
            },
        );
        assert.equal(run.stderr, "");

        const tampered = { ...record, key: { ...record.key, policy: POLICY.replace("key-default-1", "key-default-2") } };
        fs.writeFileSync(log, `${JSON.stringify(tampered)}\n`);
        const actual = createHash("sha256").update(canonicalJson(tampered.key)).digest("hex");
        const bad = await runOps(noAws, ["verify", "--id", record.id, "--log", log]);
        assert.deepEqual(
            [bad.code, bad.stderr],
            [1, `verify: checksum mismatch for \`${ARN}\`: expected sha256 ${record.sha256}, got ${actual}\n`],
        );
        assert.equal(JSON.parse(bad.stdout).sha256, actual);
        assert.deepEqual(noAws.calls(), []);
    });
});
