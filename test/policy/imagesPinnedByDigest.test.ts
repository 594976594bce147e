import * as assert from "assert";
import { imagesPinnedByDigest, isPinnedByDigest, taskDefinitionImages } from "../../policy/rules/imagesPinnedByDigest";
import { UNKNOWN_STRING, resourceViolations } from "./policyArgs";

const DIGEST = `sha256:${"0123456789abcdef".repeat(4)}`;
const TASK = "aws:ecs/taskDefinition:TaskDefinition";
const CONTAINER = "docker:index/container:Container";
const REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage";

function pinnedMessage(field: string, resource: string, got: string): string {
    return `\`${field}\` of ${resource} must pin its image by digest as \`repository@sha256:<64 hex>\`; got ${got}`;
}

describe("policy images-pinned-by-digest", () => {
    describe("isPinnedByDigest", () => {
        it("accepts a repository, with or without registry host and port, followed by a sha256 digest", () => {
            assert.strictEqual(isPinnedByDigest(`nginx@${DIGEST}`), true);
            assert.strictEqual(isPinnedByDigest(`registry.example.com:5000/team/app@${DIGEST}`), true);
            assert.strictEqual(isPinnedByDigest(`123456789012.dkr.ecr.eu-west-1.amazonaws.com/app@${DIGEST}`), true);
        });

        it("refuses tags, bare repositories, short or upper-case digests and other algorithms", () => {
            for (const image of [
                "nginx",
                "nginx:latest",
                "ghcr.io/acme/app:v1.2",
                `nginx:1.25@${DIGEST}`,
                `@${DIGEST}`,
                `nginx@${DIGEST.slice(0, -1)}`,
                `nginx@${DIGEST.toUpperCase().replace("SHA256", "sha256")}`,
                `nginx@sha512:${"a".repeat(64)}`,
                `nginx@${DIGEST}@${DIGEST}`,
                `my app@${DIGEST}`,
                DIGEST,
            ]) {
                assert.strictEqual(isPinnedByDigest(image), false, image);
            }
        });
    });

    describe("taskDefinitionImages", () => {
        it("lists every container's image with its index", () => {
            assert.deepStrictEqual(taskDefinitionImages(JSON.stringify([{ name: "app", image: "a" }, { name: "sidecar" }])), [
                { field: "containerDefinitions[0].image", image: "a" },
                { field: "containerDefinitions[1].image", image: undefined },
            ]);
        });

        it("refuses JSON that is not an array of definitions", () => {
            assert.throws(() => taskDefinitionImages("[{"), {
                message: "must be a JSON array of container definitions; got text that is not JSON",
            });
            assert.throws(() => taskDefinitionImages("{}"), { message: "must be a JSON array of container definitions; got an object" });
            assert.throws(() => taskDefinitionImages("3"), { message: "must be a JSON array of container definitions; got `3`" });
        });
    });

    describe("validateResource", () => {
        it("passes task definitions, containers and remote images pinned by digest", async () => {
            const definitions = JSON.stringify([
                { name: "app", image: `app@${DIGEST}` },
                { name: "proxy", image: `nginx@${DIGEST}` },
            ]);
            assert.deepStrictEqual(
                await resourceViolations(imagesPinnedByDigest, {
                    type: TASK,
                    name: "app-v1.5.0",
                    props: { containerDefinitions: definitions },
                }),
                [],
            );
            assert.deepStrictEqual(
                await resourceViolations(imagesPinnedByDigest, { type: CONTAINER, name: "app", props: { image: `app@${DIGEST}` } }),
                [],
            );
            assert.deepStrictEqual(
                await resourceViolations(imagesPinnedByDigest, { type: REMOTE_IMAGE, name: "app", props: { name: `app@${DIGEST}` } }),
                [],
            );
        });

        it("names the resource, the container and the offending image for every unpinned task definition image", async () => {
            const definitions = JSON.stringify([
                { name: "app", image: "ghcr.io/acme/app:v1.5.0" },
                { name: "proxy", image: `nginx@${DIGEST}` },
                { name: "agent", image: "datadog/agent" },
            ]);
            assert.deepStrictEqual(
                await resourceViolations(imagesPinnedByDigest, {
                    type: TASK,
                    name: "app-v1.5.0",
                    props: { containerDefinitions: definitions },
                }),
                [
                    pinnedMessage("containerDefinitions[0].image", `${TASK} \`app-v1.5.0\``, "`ghcr.io/acme/app:v1.5.0`"),
                    pinnedMessage("containerDefinitions[2].image", `${TASK} \`app-v1.5.0\``, "`datadog/agent`"),
                ],
            );
        });

        it("reports a container definition without an image and unreadable definitions", async () => {
            assert.deepStrictEqual(
                await resourceViolations(imagesPinnedByDigest, {
                    type: TASK,
                    name: "t",
                    props: { containerDefinitions: JSON.stringify([{ name: "app" }]) },
                }),
                [pinnedMessage("containerDefinitions[0].image", `${TASK} \`t\``, "nothing")],
            );
            assert.deepStrictEqual(
                await resourceViolations(imagesPinnedByDigest, { type: TASK, name: "t", props: { containerDefinitions: "not json" } }),
                [`\`containerDefinitions\` of ${TASK} \`t\` must be a JSON array of container definitions; got text that is not JSON`],
            );
        });

        it("reports docker containers and remote images by tag", async () => {
            assert.deepStrictEqual(
                await resourceViolations(imagesPinnedByDigest, { type: CONTAINER, name: "web", props: { image: "nginx:latest" } }),
                [pinnedMessage("image", `${CONTAINER} \`web\``, "`nginx:latest`")],
            );
            assert.deepStrictEqual(
                await resourceViolations(imagesPinnedByDigest, { type: REMOTE_IMAGE, name: "web", props: { name: "nginx:1.25" } }),
                [pinnedMessage("name", `${REMOTE_IMAGE} \`web\``, "`nginx:1.25`")],
            );
        });

        it("leaves images that preview cannot know yet to the update, and ignores other types", async () => {
            assert.deepStrictEqual(
                await resourceViolations(imagesPinnedByDigest, { type: CONTAINER, name: "web", props: { image: UNKNOWN_STRING } }),
                [],
            );
            assert.deepStrictEqual(
                await resourceViolations(imagesPinnedByDigest, { type: TASK, name: "t", props: { containerDefinitions: UNKNOWN_STRING } }),
                [],
            );
            assert.deepStrictEqual(
                await resourceViolations(imagesPinnedByDigest, {
                    type: "aws:s3/bucket:Bucket",
                    name: "b",
                    props: { image: "nginx:latest" },
                }),
                [],
            );
        });

        it("is mandatory", () => {
            assert.strictEqual(imagesPinnedByDigest.enforcementLevel, "mandatory");
        });
    });
});
