import { strict as assert } from "assert";
import { parseKeepImages } from "../settings/imageRetention";
import { parseReleaseConfig } from "../settings/release";
import { raw } from "./configCases";
import { digestOf, ecsConfig } from "./support/fixtures";
import { resource, resourcesOfType } from "./support/inspect";
import { runProgram } from "./support/mockEngine";

const ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
const OTHER_REGION = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const POLICY = "aws:ecr/lifecyclePolicy:LifecyclePolicy";
const COMMAND = "command:local:Command";

/** The one rule the program manages: images tagged `safe-release-*` beyond the newest `keep` expire. */
const rule = (keep: number) => ({
    rules: [
        {
            rulePriority: 1,
            description: `keep the images of the last ${keep} versions safe-release released`,
            selection: { tagStatus: "tagged", tagPatternList: ["safe-release-*"], countType: "imageCountMoreThan", countNumber: keep },
            action: { type: "expire" },
        },
    ],
});

/** ecsConfig with the api in ECR `shop/api`, the worker in ECR `shop/worker` of another region. */
function ecrConfig(overrides: Record<string, unknown> = {}) {
    return ecsConfig({
        "release:version": "v1.5.0",
        "release:previous": "v1.4.2",
        "release:canaryWeight": 10,
        "release:components": {
            api: { image: `${ECR}/shop/api`, role: "web", port: 8080, healthPath: "/health" },
            worker: { image: `${OTHER_REGION}/shop/worker`, role: "worker", command: ["node", "worker.js"] },
        },
        ...overrides,
    });
}

describe("release:keepImages and the ECR lifecycle policy (aws-ecs)", () => {
    describe("the setting", () => {
        it("defaults to 5 and reads a number or a numeric string", () => {
            assert.equal(parseReleaseConfig(raw()).keepImages, 5);
            assert.equal(parseReleaseConfig(raw({ keepImages: 8 })).keepImages, 8);
            assert.equal(parseReleaseConfig(raw({ keepImages: "2" })).keepImages, 2);
        });

        const expectation =
            "`release:keepImages` must be an integer from 2 to 1000 (the images of the version that takes traffic and of the one a rollback returns to, at least)";
        for (const [given, shown] of [
            [1, "1"],
            [0, "0"],
            [2.5, "2.5"],
            ["five", '"five"'],
            [1001, "1001"],
            [true, "true"],
        ] as const) {
            it(`refuses ${shown}`, () => {
                assert.throws(() => parseReleaseConfig(raw({ keepImages: given })), {
                    name: "ConfigError",
                    message: `${expectation}; got ${shown}`,
                });
            });
        }

        it("refuses fewer than the live versions", () => {
            assert.throws(() => parseKeepImages(2, ["v1.6.0", "v1.5.0", "v1.4.2"]), {
                name: "ConfigError",
                message:
                    "`release:keepImages` is 2, fewer than the 3 live versions (v1.6.0, v1.5.0, v1.4.2): ECR would expire images they run; set it to at least 3",
            });
            assert.equal(parseKeepImages(3, ["v1.6.0", "v1.5.0", "v1.4.2"]), 3);
        });
    });

    describe("the program", () => {
        it("manages one lifecycle policy per ECR repository, in the repository's region, keeping the last keepImages", async () => {
            const run = await runProgram({ config: ecrConfig({ "release:keepImages": 7 }) });
            const policies = resourcesOfType(run, POLICY);
            assert.deepEqual(
                policies.map((p) => [p.name, p.inputs.repository, p.inputs.region]),
                [
                    ["shop-ecs-shop-api-retention", "shop/api", "eu-west-1"],
                    ["shop-ecs-shop-worker-retention", "shop/worker", "us-east-1"],
                ],
            );
            for (const policy of policies) assert.deepEqual(JSON.parse(policy.inputs.policy), rule(7));
        });

        it("keeps 5 when unset, and one policy for two components of one repository", async () => {
            const run = await runProgram({
                config: ecrConfig({
                    "release:components": {
                        api: { image: `${ECR}/shop/app`, role: "web", port: 8080, healthPath: "/health" },
                        worker: { image: `${ECR}/shop/app`, role: "worker", command: ["node", "worker.js"] },
                    },
                }),
            });
            const policies = resourcesOfType(run, POLICY);
            assert.deepEqual(
                policies.map((p) => p.inputs.repository),
                ["shop/app"],
            );
            assert.equal(policies[0].inputs.policy, JSON.stringify(rule(5)));
        });

        it("tags each live version's ECR images safe-release-<version>, once its services are ready", async () => {
            const run = await runProgram({ config: ecrConfig() });
            for (const version of ["v1.4.2", "v1.5.0"]) {
                const tag = resource(run, COMMAND, `shop-ecs-${version}-ecr-tag`);
                const images = [
                    `${ECR}/shop/api@${digestOf(`api${version}`)}`,
                    `${OTHER_REGION}/shop/worker@${digestOf(`worker${version}`)}`,
                ].sort();
                assert.equal(
                    tag.inputs.create,
                    `node ops/bin/safe-release-ops.js ecr-tag --version ${version} --images ${images.join(",")}`,
                );
                assert.equal(tag.inputs.update, `printf '%s' "$PULUMI_COMMAND_STDOUT"`);
                const service = resource(run, "aws:ecs/service:Service", `shop-ecs-${version}-api-service`);
                assert.ok(tag.dependencies.includes(service.urn), `${version}: tagged before its api service is ready`);
            }
        });

        it("manages no policy and tags nothing for images outside ECR", async () => {
            const run = await runProgram({
                config: ecsConfig({ "release:version": "v1.5.0", "release:previous": "v1.4.2", "release:canaryWeight": 10 }),
            });
            assert.deepEqual(resourcesOfType(run, POLICY), []);
            assert.deepEqual(
                resourcesOfType(run, COMMAND).filter((c) => c.name.endsWith("-ecr-tag")),
                [],
            );
        });
    });
});
