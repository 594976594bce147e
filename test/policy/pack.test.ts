import * as assert from "assert";
import * as path from "path";
import { imagesPinnedByDigest } from "../../policy/rules/imagesPinnedByDigest";
import { migrationAfterBackup } from "../../policy/rules/migrationAfterBackup";
import { noPlaintextSecrets } from "../../policy/rules/noPlaintextSecrets";
import { stateRetainedInProduction } from "../../policy/rules/stateRetainedInProduction";
import { PolicyPackProcess, wireSecret, wireUrn } from "./policyPackProcess";
import { UNKNOWN_STRING } from "./policyArgs";

const PACK_DIR = path.join(__dirname, "..", "..", "policy");
const DIGEST = `sha256:${"ab".repeat(32)}`;
const RDS = "aws:rds/instance:Instance";

/**
 * The pack loaded the way the Pulumi CLI loads it (the SDK's policy-pack runner, type-checking
 * TypeScript with ts-node, in the pack's directory) and called over gRPC the way the engine calls it.
 */
describe("policy pack served to the engine", function () {
    this.timeout(30000);
    let pack: PolicyPackProcess;

    before(async () => {
        pack = await PolicyPackProcess.start(PACK_DIR, "prod");
    });

    after(async () => {
        await pack?.stop();
    });

    it("serves the six rules, all mandatory", async () => {
        assert.deepStrictEqual(await pack.policies(), [
            { name: "images-pinned-by-digest", enforcementLevel: "mandatory" },
            { name: "migration-after-backup", enforcementLevel: "mandatory" },
            { name: "state-retained-in-production", enforcementLevel: "mandatory" },
            { name: "no-open-ingress", enforcementLevel: "mandatory" },
            { name: "no-plaintext-secrets", enforcementLevel: "mandatory" },
            { name: "release-runner-least-privilege", enforcementLevel: "mandatory" },
        ]);
    });

    it("blocks an image by tag, prefixing the rule's description as the CLI shows it", async () => {
        const diagnostics = await pack.analyze({
            type: "docker:index/container:Container",
            name: "web",
            properties: { image: "nginx:latest" },
        });
        assert.deepStrictEqual(diagnostics, [
            {
                policyName: "images-pinned-by-digest",
                message:
                    `${imagesPinnedByDigest.description}\n\`image\` of docker:index/container:Container \`web\` must pin its image by digest ` +
                    "as `repository@sha256:<64 hex>`; got `nginx:latest`",
                enforcementLevel: "mandatory",
                urn: "",
            },
        ]);
    });

    it("skips a preview-time unknown instead of downgrading the rule to advisory", async () => {
        assert.deepStrictEqual(
            await pack.analyze({ type: "docker:index/container:Container", name: "web", properties: { image: UNKNOWN_STRING } }),
            [],
        );
        assert.deepStrictEqual(
            await pack.analyze({ type: "docker:index/remoteImage:RemoteImage", name: "web", properties: { name: `nginx@${DIGEST}` } }),
            [],
        );
    });

    it("sees a Pulumi secret as plain text, so only `additionalSecretOutputs` marks it, and reads the stack `prod` as production", async () => {
        const properties = { username: "app", password: wireSecret("hunter2"), deletionProtection: true };
        const undeclared = await pack.analyze({ type: RDS, name: "db", properties });
        assert.deepStrictEqual(
            undeclared.map((d) => [d.policyName, d.message]),
            [
                [
                    "no-plaintext-secrets",
                    `${noPlaintextSecrets.description}\n\`password\` of ${RDS} \`db\` has a plain-text value under the secret-like name \`password\`; ` +
                        "pass secrets as Pulumi secrets (`config.requireSecret`, `pulumi.secret`) and list `password` in the resource's `additionalSecretOutputs`",
                ],
            ],
        );
        assert.deepStrictEqual(await pack.analyze({ type: RDS, name: "db", properties, additionalSecretOutputs: ["password"] }), []);

        const unprotected = await pack.analyze({ type: "aws:s3/bucket:Bucket", name: "backups", properties: {} });
        assert.deepStrictEqual(
            unprotected.map((d) => [d.policyName, d.message]),
            [
                [
                    "state-retained-in-production",
                    `${stateRetainedInProduction.description}\naws:s3/bucket:Bucket \`backups\` holds state and must have the resource option ` +
                        "`protect: true` in production (stack `prod`); got `protect: false`",
                ],
            ],
        );
        assert.deepStrictEqual(await pack.analyze({ type: "aws:s3/bucket:Bucket", name: "backups", properties: {}, protect: true }), []);
    });

    it("reports a migration without its backup against the migration's URN", async () => {
        const migrationUrn = wireUrn("safe-release:data:Migration", "db-migrate-v1.5.0");
        const backupUrn = wireUrn("safe-release:data:PreUpgradeBackup", "db-backup-v1.4.2");
        const diagnostics = await pack.analyzeStack([
            { type: "safe-release:data:PreUpgradeBackup", name: "db-backup-v1.4.2", properties: { version: "v1.4.2" } },
            {
                type: "safe-release:data:Migration",
                name: "db-migrate-v1.5.0",
                properties: { version: "v1.5.0" },
                dependencies: [backupUrn],
            },
        ]);
        assert.deepStrictEqual(diagnostics, [
            {
                policyName: "migration-after-backup",
                message:
                    `${migrationAfterBackup.description}\nmigration \`${migrationUrn}\` (version \`v1.5.0\`) must have a ` +
                    "`safe-release:data:PreUpgradeBackup` of version `v1.5.0` among its dependencies (`dependsOn`); " +
                    "it depends only on backups of version `v1.4.2`",
                enforcementLevel: "mandatory",
                urn: migrationUrn,
            },
        ]);
    });

    it("follows the `production` and `allowedPublicPorts` config the engine sends", async () => {
        await pack.configure({
            "state-retained-in-production": { production: false },
            "no-open-ingress": { allowedPublicPorts: [8443] },
        });
        assert.deepStrictEqual(await pack.analyze({ type: "aws:s3/bucket:Bucket", name: "backups", properties: {} }), []);
        const rule = { type: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", name: "https" };
        const open443 = await pack.analyze({
            ...rule,
            properties: { ipProtocol: "tcp", fromPort: 443, toPort: 443, cidrIpv4: "0.0.0.0/0" },
        });
        assert.deepStrictEqual(
            open443.map((d) => d.policyName),
            ["no-open-ingress"],
        );
        assert.deepStrictEqual(
            await pack.analyze({ ...rule, properties: { ipProtocol: "tcp", fromPort: 8443, toPort: 8443, cidrIpv4: "0.0.0.0/0" } }),
            [],
        );
    });
});
