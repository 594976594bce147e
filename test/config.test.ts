import { strict as assert } from "assert";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import { closestKey, rawReleaseValues } from "../config";
import { parseReleaseConfig } from "../settings/release";
import { SUBNETS, VPC, digestOf, ecsConfig } from "./support/fixtures";
import { runProgram } from "./support/mockEngine";
import { StackConfig } from "./support/mockProviders";
import { API, BAD, REPO, RUNNER_IMAGE, Raw, UNKNOWN_TAIL, WORKER, api, aws, canary, components, raw } from "./configCases";

/** Type and name of every resource registered while `run` evaluates, through the mock monitor every run uses. */
async function registrationsDuring(run: () => Promise<unknown>): Promise<{ error: unknown; registered: string[] }> {
    const registered: string[] = [];
    const original = { register: MockMonitor.prototype.registerResource, read: MockMonitor.prototype.readResource };
    MockMonitor.prototype.registerResource = function (this: MockMonitor, req: any, callback: any) {
        registered.push(`${req.getType()}::${req.getName()}`);
        return original.register.call(this, req, callback);
    };
    MockMonitor.prototype.readResource = function (this: MockMonitor, req: any, callback: any) {
        registered.push(`${req.getType()}::${req.getName()}`);
        return original.read.call(this, req, callback);
    };
    try {
        const error = await run().then(
            () => undefined,
            (err: unknown) => err,
        );
        return { error, registered };
    } finally {
        MockMonitor.prototype.registerResource = original.register;
        MockMonitor.prototype.readResource = original.read;
    }
}

/** Runs the whole program and asserts it fails with `message` having registered nothing but the stack itself. */
async function assertRefusedBeforeAnyResource(config: StackConfig, message: string): Promise<void> {
    const { error, registered } = await registrationsDuring(() => runProgram({ config }));
    assert.ok(error instanceof Error, `the run should have failed; registered ${registered.join(", ")}`);
    assert.deepEqual({ name: error.name, message: error.message }, { name: "ConfigError", message });
    assert.deepEqual(registered, ["pulumi:pulumi:Stack::release-staging"]);
}

function jsonReason(text: string): string {
    try {
        JSON.parse(text);
    } catch (err) {
        return (err as Error).message;
    }
    throw new Error(`${text} is valid JSON`);
}

describe("release config validation (settings/*.ts, config.ts)", () => {
    it("the table holds distinct configs with distinct expectations", () => {
        assert.ok(BAD.length >= 30);
        assert.equal(new Set(BAD.map(([what]) => what)).size, BAD.length);
        const spelt = (overrides: Raw) => JSON.stringify(overrides, (_, v: unknown) => (v === undefined ? "(removed)" : v));
        assert.equal(new Set(BAD.map(([, overrides]) => spelt(overrides))).size, BAD.length);
    });

    for (const [what, overrides, message] of BAD) {
        it(`refuses ${what}`, () => {
            assert.throws(() => parseReleaseConfig(raw(overrides)), { name: "ConfigError", message });
        });
    }

    it("parses the fixture with every default spelled out", () => {
        const digests = raw().digests;
        assert.deepEqual(parseReleaseConfig(raw()), {
            app: "shop",
            platform: "aws-ecs",
            version: "v1.5.0",
            canaryWeight: 100,
            digests,
            requirePinnedDigests: false,
            keepImages: 5,
            components: [
                {
                    name: "api",
                    image: REPO,
                    role: "web",
                    port: 8080,
                    healthPath: "/health",
                    cpu: 256,
                    memory: 512,
                    desiredCount: 1,
                    env: {},
                    secretEnv: {},
                },
                {
                    name: "worker",
                    image: REPO,
                    role: "worker",
                    healthPath: "/healthz",
                    command: ["node", "worker.js"],
                    cpu: 256,
                    memory: 512,
                    desiredCount: 1,
                    env: {},
                    secretEnv: {},
                },
            ],
            aws: {
                vpcId: VPC,
                subnetIds: SUBNETS,
                loadBalancerSubnetIds: SUBNETS,
                internal: false,
                deletionProtection: false,
                assignPublicIp: false,
                logRetentionDays: 30,
                healthCheckIntervalSeconds: 10,
                healthyThreshold: 2,
                deregistrationDelaySeconds: 30,
                testListenerCidrs: [],
                dataStepsIn: "local",
                dataStepTimeout: "30m",
            },
            data: {
                backup: {
                    store: { kind: "directory", location: "backups", log: "backups/backups.log" },
                    keep: 5,
                    retentionDays: 7,
                    beforeQuiesce: false,
                },
            },
            gates: { smoke: [], smokeSource: [], notify: false },
        });
    });

    it("defaults a bare component to web, /healthz, 256 CPU, 512 MiB, one task; platform to aws-ecs", () => {
        const config = parseReleaseConfig(
            raw({ platform: undefined, digests: undefined, components: { site: { image: REPO, port: 3000 } } }),
        );
        assert.equal(config.platform, "aws-ecs");
        assert.deepEqual(config.components, [
            {
                name: "site",
                image: REPO,
                role: "web",
                port: 3000,
                healthPath: "/healthz",
                cpu: 256,
                memory: 512,
                desiredCount: 1,
                env: {},
                secretEnv: {},
            },
        ]);
        assert.deepEqual(config.digests, {});
    });

    it("defaults canaryWeight to 0 with a previous and 100 without; accepts an explicit 100 alone", () => {
        assert.equal(parseReleaseConfig(raw(canary({}))).canaryWeight, 0);
        assert.equal(parseReleaseConfig(raw()).canaryWeight, 100);
        assert.equal(parseReleaseConfig(raw({ canaryWeight: "100" })).canaryWeight, 100);
        // Pulumi.yaml defaults the weight to 0 for every stack; without a previous it means nothing.
        assert.equal(parseReleaseConfig(raw({ canaryWeight: "0" })).canaryWeight, 100);
        assert.equal(parseReleaseConfig(raw({ canaryWeight: 10 })).canaryWeight, 100);
        assert.equal(parseReleaseConfig(raw(canary({}))).previous, "v1.4.2");
    });

    it('accepts numeric strings for integers and "true"/"false" for booleans, as stack config stores them', () => {
        const config = parseReleaseConfig(
            raw({
                ...canary({ canaryWeight: "10", requirePinnedDigests: "true" }),
                ...api({ port: "8080", cpu: "1024", memory: "3072", desiredCount: "3" }),
                ...aws({ internal: "true", assignPublicIp: "false", logRetentionDays: "90", deregistrationDelaySeconds: "0" }),
            }),
        );
        assert.equal(config.canaryWeight, 10);
        assert.equal(config.requirePinnedDigests, true);
        assert.deepEqual(
            [config.components[0].port, config.components[0].cpu, config.components[0].memory, config.components[0].desiredCount],
            [8080, 1024, 3072, 3],
        );
        assert.deepEqual(
            [config.aws!.internal, config.aws!.assignPublicIp, config.aws!.logRetentionDays, config.aws!.deregistrationDelaySeconds],
            [true, false, 90, 0],
        );
    });

    it("defaults memory to the smallest Fargate size for the CPU", () => {
        assert.equal(parseReleaseConfig(raw(api({ cpu: 1024 }))).components[0].memory, 2048);
        assert.equal(parseReleaseConfig(raw(api({ cpu: 16384 }))).components[0].memory, 32768);
    });

    it("accepts a registry with a port and nested repositories", () => {
        for (const image of ["localhost:5000/team/app", "registry.example.com:5000/app", "acme/shop_api", "ghcr.io/acme/shop__api-v2"]) {
            assert.equal(parseReleaseConfig(raw(api({ image }))).components[0].image, image);
        }
    });

    it("accepts several web components with distinct prefixes and one default", () => {
        const config = parseReleaseConfig(
            raw(
                components({
                    admin: { image: REPO, port: 8081, pathPrefix: "/admin" },
                    docs: { image: REPO, port: 8082, pathPrefix: "/docs/v1" },
                }),
            ),
        );
        assert.deepEqual(
            config.components.map((c) => [c.name, c.pathPrefix]),
            [
                ["admin", "/admin"],
                ["api", undefined],
                ["docs", "/docs/v1"],
                ["worker", undefined],
            ],
        );
    });

    it("accepts a missing digest when pinning is not required", () => {
        for (const requirePinnedDigests of [undefined, false, "false"]) {
            const config = parseReleaseConfig(raw({ requirePinnedDigests, digests: { "v1.5.0": { api: digestOf("a") } } }));
            assert.equal(config.requirePinnedDigests, false);
            assert.deepEqual(config.digests, { "v1.5.0": { api: digestOf("a") } });
        }
    });

    it("accepts secret references: Secrets Manager and SSM ARNs, and config keys that are set", () => {
        const secretEnv = {
            DB_PASSWORD: "config:dbPassword",
            API_KEY: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:key",
            TOKEN: "arn:aws:ssm:eu-west-1:123456789012:parameter/t",
        };
        const config = parseReleaseConfig(raw({ ...api({ secretEnv }), dbPassword: "s3cret" }));
        assert.deepEqual(config.components[0].secretEnv, secretEnv);
    });

    it("runs the aws-ecs data steps as runner tasks by default, bounded by 30m, and on this machine with `dataStepsIn: local`", () => {
        const runner = (patch: Raw) => {
            const settings = parseReleaseConfig(raw({ ...aws(patch), backup: { store: "s3://shop-backups/prod" } })).aws!;
            return [settings.dataStepsIn, settings.runnerImage, settings.dataStepTimeout];
        };
        assert.deepEqual(runner({ dataStepsIn: undefined, runnerImage: RUNNER_IMAGE, internal: true }), ["task", RUNNER_IMAGE, "30m"]);
        assert.deepEqual(
            runner({ dataStepsIn: "task", runnerImage: RUNNER_IMAGE, dataStepTimeout: "2h", testListenerCidrs: ["203.0.113.10/32"] }),
            ["task", RUNNER_IMAGE, "2h"],
        );
        assert.deepEqual(runner({ dataStepsIn: "local" }), ["local", undefined, "30m"]);
        // A directory store is the runner's disk only where something is backed up or restored.
        assert.equal(
            parseReleaseConfig(raw(aws({ dataStepsIn: "task", runnerImage: RUNNER_IMAGE, internal: true }))).aws!.dataStepsIn,
            "task",
        );
    });

    it("defaults loadBalancerSubnetIds to subnetIds and keeps an explicit list", () => {
        assert.deepEqual(parseReleaseConfig(raw()).aws!.loadBalancerSubnetIds, SUBNETS);
        assert.deepEqual(parseReleaseConfig(raw(aws({ loadBalancerSubnetIds: [SUBNETS[1]] }))).aws!.loadBalancerSubnetIds, [SUBNETS[1]]);
    });

    it("reads `backup.store`: an S3 prefix written one way, with `kmsKeyId` as its SSE key", () => {
        const store = (backup: Raw) => parseReleaseConfig(raw({ backup })).data.backup.store;
        const s3 = { kind: "s3", location: "s3://shop-backups/prod/daily", bucket: "shop-backups", prefix: "prod/daily" };
        assert.deepEqual(store({ store: "s3://shop-backups/prod/daily" }), s3);
        assert.deepEqual(store({ store: "s3://shop-backups/prod/daily/" }), s3, "a trailing `/` names the same prefix");
        const key = "arn:aws:kms:eu-west-1:123456789012:key/2f6c1a4e-7d3b-4c59-9e8a-0b1c2d3e4f50";
        const withKey = parseReleaseConfig(raw({ backup: { store: "s3://shop.backups-1/prod", kmsKeyId: key } })).data.backup;
        assert.deepEqual(
            [withKey.store, withKey.kmsKeyId],
            [{ kind: "s3", location: "s3://shop.backups-1/prod", bucket: "shop.backups-1", prefix: "prod", sseKmsKeyId: key }, key],
        );
    });

    it("reads a directory `backup.store`, the older `backup.dir`, and a log kept elsewhere", () => {
        const store = (backup: Raw) => parseReleaseConfig(raw({ backup })).data.backup.store;
        assert.deepEqual(store({ store: "var/backups/" }), { kind: "directory", location: "var/backups", log: "var/backups/backups.log" });
        assert.deepEqual(store({ dir: "old-backups" }), { kind: "directory", location: "old-backups", log: "old-backups/backups.log" });
        assert.deepEqual(store({ store: "backups", log: "logs/backups.log" }), {
            kind: "directory",
            location: "backups",
            log: "logs/backups.log",
        });
    });

    describe("raw values from stack config (rawReleaseValues)", () => {
        it("parses objects and lists, keeps scalars as text, drops other namespaces", () => {
            assert.deepEqual(
                rawReleaseValues({
                    "release:aws": ` {"vpcId":"${VPC}"}`,
                    "release:version": "v1.5.0",
                    "aws:region": "eu-west-1",
                    "release:canaryWeight": "10",
                }),
                { aws: { vpcId: VPC }, version: "v1.5.0", canaryWeight: "10" },
            );
        });

        it("refuses invalid JSON object text, naming the key", () => {
            const text = "{api: {image: ghcr.io/acme/api}}";
            assert.throws(() => rawReleaseValues({ "release:components": text }), {
                name: "ConfigError",
                message: `\`release:components\` is not a valid object or list: ${jsonReason(text)}`,
            });
        });

        it("treats an empty value as unset, as Pulumi.yaml's empty defaults for optional keys mean", () => {
            assert.deepEqual(rawReleaseValues({ "release:previous": "", "release:acceptSchemaHead": "", "release:version": "v1.5.0" }), {
                version: "v1.5.0",
            });
        });

        it("keeps secrets as text even when they look like JSON, so no parse error can quote them", () => {
            assert.deepEqual(rawReleaseValues({ "release:dbPassword": "[not-json" }), { dbPassword: "[not-json" });
        });
    });

    describe("whole program under mocks: refused before any resource is registered", () => {
        const release = (overrides: StackConfig): StackConfig => ecsConfig({ "release:version": "v1.5.0", ...overrides });

        it("refuses an unknown `release:` key (a misspelt canaryWeight)", async () => {
            await assertRefusedBeforeAnyResource(
                release({ "release:previous": "v1.4.2", "release:canaryWieght": 10 }),
                `unknown config \`release:canaryWieght\` (did you mean \`release:canaryWeight\`?); ${UNKNOWN_TAIL}`,
            );
        });

        it("lists several unknown keys in order", async () => {
            await assertRefusedBeforeAnyResource(
                release({ "release:zone": "a", "release:Version": "v1.5.0" }),
                `unknown config \`release:Version\` (did you mean \`release:version\`?), \`release:zone\`; ${UNKNOWN_TAIL}`,
            );
        });

        it("refuses invalid JSON in an object key", async () => {
            const text = `{"vpcId": "${VPC}", subnetIds: []}`;
            await assertRefusedBeforeAnyResource(
                release({ "release:aws": text }),
                `\`release:aws\` is not a valid object or list: ${jsonReason(text)}`,
            );
        });

        it("refuses a bad value found by the parser", async () => {
            await assertRefusedBeforeAnyResource(
                release({ "release:previous": "v1.4.2", "release:canaryWeight": 101 }),
                '`release:canaryWeight` must be an integer from 0 to 100; got "101"',
            );
        });

        it("registers resources for a valid config through the same monitor (the check above can fail)", async () => {
            const config = release({
                "release:components": { api: { ...API, secretEnv: { DB_PASSWORD: "config:dbPassword" } }, worker: WORKER },
                "release:dbPassword": "[s3cret",
            });
            const { error, registered } = await registrationsDuring(() => runProgram({ config, secretKeys: ["release:dbPassword"] }));
            assert.equal(error, undefined);
            assert.ok(registered.includes("safe-release:index:Release::shop"), registered.join(", "));
            assert.ok(registered.length > 10, registered.join(", "));
        });
    });
});

describe("closestKey: the key a typo meant", () => {
    const keys = ["version", "previous", "canaryWeight", "components", "digests"];
    it("finds transpositions, case slips and a missing letter", () => {
        assert.equal(closestKey("canaryWieght", keys), "canaryWeight");
        assert.equal(closestKey("Version", keys), "version");
        assert.equal(closestKey("digest", keys), "digests");
    });
    it("suggests nothing for a key far from every known one", () => {
        assert.equal(closestKey("zone", keys), undefined);
        assert.equal(closestKey("weights", keys), undefined);
    });
});
