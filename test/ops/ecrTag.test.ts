import { strict as assert } from "assert";
import {
    BatchGetImageCommand,
    CreateRepositoryCommand,
    DescribeImagesCommand,
    ECRClient,
    ImageTagAlreadyExistsException,
    PutImageCommand,
} from "@aws-sdk/client-ecr";
import { mockClient } from "aws-sdk-client-mock";
import { awsClientConfig } from "../../core/awsClient";
import { MOTO_REGION, startMoto, TestMoto } from "../support/moto";
import { runOps } from "../support/opsRun";

const MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json";

/** A distinct small manifest per `content`, as `docker push` would store it. */
const manifest = (content: string): string =>
    JSON.stringify({
        schemaVersion: 2,
        mediaType: MANIFEST_TYPE,
        config: { mediaType: "application/vnd.docker.container.image.v1+json", size: content.length, digest: `sha256:${"c".repeat(64)}` },
        layers: [],
        annotations: { content },
    });

/**
 * `ecr-tag` against moto's ECR: the tag `safe-release-<version>` lands on the very digest
 * (BatchGetImage's manifest stored again by PutImage), a second run is a success, a missing
 * image is named, and other registries are left alone; the immutable-tag refusal, which moto
 * does not enforce, against a mocked client.
 */
describe("ecr-tag: marks a released version's ECR images (moto)", function () {
    this.timeout(60_000);
    let moto: TestMoto;
    let ecr: ECRClient;
    let registryHost: string;

    before(async () => {
        moto = await startMoto();
        ecr = new ECRClient(awsClientConfig(moto.env, "ECR"));
        const created = await ecr.send(new CreateRepositoryCommand({ repositoryName: "shop/api" }));
        registryHost = created.repository!.repositoryUri!.split("/")[0];
    });
    after(async () => {
        ecr?.destroy();
        await moto?.stop();
    });

    async function push(repository: string, content: string, tag: string): Promise<string> {
        const put = await ecr.send(new PutImageCommand({ repositoryName: repository, imageManifest: manifest(content), imageTag: tag }));
        return put.image!.imageId!.imageDigest!;
    }

    async function tagsOf(repository: string, digest: string): Promise<string[]> {
        const described = await ecr.send(new DescribeImagesCommand({ repositoryName: repository, imageIds: [{ imageDigest: digest }] }));
        return [...(described.imageDetails![0].imageTags ?? [])].sort();
    }

    it("tags the pinned digest safe-release-<version>, skips other registries, and succeeds again when run twice", async () => {
        const digest = await push("shop/api", "api v1.5.0", "v1.5.0");
        const image = `${registryHost}/shop/api@${digest}`;
        const elsewhere = `ghcr.io/acme/worker@sha256:${"a".repeat(64)}`;

        const first = await runOps(["ecr-tag", "--version", "v1.5.0", "--images", `${image},${elsewhere}`], moto.env);
        assert.equal(first.code, 0, first.stderr);
        assert.deepEqual(JSON.parse(first.stdout), {
            version: "v1.5.0",
            tag: "safe-release-v1.5.0",
            tagged: [image],
            alreadyTagged: [],
            skipped: [elsewhere],
        });
        assert.equal(
            first.stderr,
            `ecr-tag: v1.5.0: tagged ${image} safe-release-v1.5.0\n` +
                `ecr-tag: v1.5.0: ${elsewhere} is not in ECR; its registry's own retention rules keep it or not\n`,
        );
        assert.deepEqual(await tagsOf("shop/api", digest), ["safe-release-v1.5.0", "v1.5.0"]);

        const again = await runOps(["ecr-tag", "--version", "v1.5.0", "--images", image], moto.env);
        assert.equal(again.code, 0, again.stderr);
        assert.deepEqual(JSON.parse(again.stdout).alreadyTagged, [image]);
        assert.deepEqual(await tagsOf("shop/api", digest), ["safe-release-v1.5.0", "v1.5.0"]);
    });

    it("names a digest the repository no longer holds, and exits 1", async () => {
        const missing = `sha256:${"0".repeat(64)}`;
        const image = `${registryHost}/shop/api@${missing}`;
        const run = await runOps(["ecr-tag", "--version", "v1.6.0", "--images", image], moto.env);
        const account = registryHost.split(".")[0];
        assert.equal(run.code, 1);
        assert.equal(run.stdout, "");
        assert.match(
            run.stderr,
            new RegExp(
                `^ecr-tag: v1\\.6\\.0: could not tag ${image.replace(/\./g, "\\.")}: ECR repository shop/api \\(${account}, ${MOTO_REGION}\\) no longer holds ${missing}`,
            ),
        );
        assert.ok(
            run.stderr.endsWith(
                "ecr-tag: without the tag the lifecycle policy does not count v1.6.0 among the released versions " +
                    "(it neither keeps nor expires its images); fix the cause and run the update again\n",
            ),
            run.stderr,
        );
    });

    it("stores BatchGetImage's manifest again under the tag, and names an immutable tag on another digest (aws-sdk-client-mock: moto moves it)", async () => {
        const digest = `sha256:${"b".repeat(64)}`;
        const account = registryHost.split(".")[0];
        const image = `${registryHost}/shop/frozen@${digest}`;
        const stored = manifest("frozen build 2");
        const mocked = mockClient(ECRClient);
        try {
            mocked.on(BatchGetImageCommand).resolves({
                images: [{ imageId: { imageDigest: digest }, imageManifest: stored, imageManifestMediaType: MANIFEST_TYPE }],
            });
            mocked.on(PutImageCommand).rejects(new ImageTagAlreadyExistsException({ message: "tag exists", $metadata: {} }));
            const run = await runOps(["ecr-tag", "--version", "v2.0.0", "--images", image], moto.env);
            assert.equal(run.code, 1);
            assert.ok(
                run.stderr.startsWith(
                    `ecr-tag: v2.0.0: could not tag ${image}: ECR repository shop/frozen (${account}, ${MOTO_REGION}) has immutable tags ` +
                        "and `safe-release-v2.0.0` already names another image there; release the rebuilt image under a new version, " +
                        "or delete that tag if no live version runs it\n",
                ),
                run.stderr,
            );
            assert.deepEqual(
                mocked.calls().map((call) => call.args[0].input),
                [
                    {
                        registryId: account,
                        repositoryName: "shop/frozen",
                        imageIds: [{ imageDigest: digest }],
                        acceptedMediaTypes: [
                            "application/vnd.docker.distribution.manifest.v2+json",
                            "application/vnd.docker.distribution.manifest.list.v2+json",
                            "application/vnd.oci.image.manifest.v1+json",
                            "application/vnd.oci.image.index.v1+json",
                        ],
                    },
                    {
                        registryId: account,
                        repositoryName: "shop/frozen",
                        imageManifest: stored,
                        imageManifestMediaType: MANIFEST_TYPE,
                        imageDigest: digest,
                        imageTag: "safe-release-v2.0.0",
                    },
                ],
            );
        } finally {
            mocked.restore();
        }
    });

    it("refuses a reference that is not pinned by digest, before calling AWS", async () => {
        const run = await runOps(["ecr-tag", "--version", "v1.5.0", "--images", `${registryHost}/shop/api:v1.5.0`], moto.env);
        assert.equal(run.code, 2);
        assert.equal(
            run.stderr,
            `ecr-tag: \`--images\`: \`${registryHost}/shop/api:v1.5.0\` must be an image pinned by digest: ` +
                "`[registry/]repository@sha256:<64 hex digits>`\n",
        );
    });
});
