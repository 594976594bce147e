import { strict as assert } from "assert";
import { createHash } from "crypto";
import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as path from "path";
import { BatchDeleteImageCommand, CreateRepositoryCommand, ECRClient, PutImageCommand } from "@aws-sdk/client-ecr";
import { awsClientConfig } from "../../core/awsClient";
import { parsePinnedImage } from "../../core/imageRef";
import { startRegistry, Registry } from "../e2e/support/registry";
import { MOTO_REGION, startMoto, TestMoto } from "../support/moto";
import { runOps } from "../support/opsRun";
import { atTestEnd, tempDir } from "../support/processes";

const MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json";

function sha256(data: Buffer | string): string {
    return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

/** Pushes a one-layer image by the registry API (no docker engine) and returns its manifest digest. */
async function pushImage(registry: Registry, repository: string, tag: string, content: string): Promise<string> {
    const base = `http://${registry.address}/v2/${repository}`;
    const blob = async (data: Buffer) => {
        const started = await fetch(`${base}/blobs/uploads/`, { method: "POST" });
        assert.equal(started.status, 202);
        const location = new URL(started.headers.get("location")!, `http://${registry.address}`);
        location.searchParams.set("digest", sha256(data));
        const put = await fetch(location, { method: "PUT", body: data, headers: { "Content-Type": "application/octet-stream" } });
        assert.equal(put.status, 201, await put.text());
        return { digest: sha256(data), size: data.length };
    };
    const config = await blob(
        Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } })),
    );
    const layer = await blob(Buffer.from(content));
    const manifest = JSON.stringify({
        schemaVersion: 2,
        mediaType: MANIFEST_TYPE,
        config: { mediaType: "application/vnd.docker.container.image.v1+json", ...config },
        layers: [{ mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip", ...layer }],
    });
    const put = await fetch(`${base}/manifests/${tag}`, { method: "PUT", body: manifest, headers: { "Content-Type": MANIFEST_TYPE } });
    assert.equal(put.status, 201, await put.text());
    return put.headers.get("docker-content-digest")!;
}

describe("artifacts-check: the images a rollback returns to, in a real registry", function () {
    this.timeout(60_000);
    let registry: Registry;
    let kept: string;
    let deleted: string;

    before(async () => {
        registry = await startRegistry();
        kept = `${registry.address}/shop/api@${await pushImage(registry, "shop/api", "v1.4.2", "api v1.4.2")}`;
        const digest = await pushImage(registry, "shop/worker", "v1.4.2", "worker v1.4.2");
        deleted = `${registry.address}/shop/worker:v1.4.2@${digest}`;
        const removed = await fetch(`http://${registry.address}/v2/shop/worker/manifests/${digest}`, { method: "DELETE" });
        assert.equal(removed.status, 202);
    });
    after(async () => registry?.stop());

    it("passes when every pinned image is still served", async () => {
        const run = await runOps(["artifacts-check", "--version", "v1.4.2", "--images", kept], process.env);
        assert.equal(run.code, 0, run.stderr);
        assert.deepEqual(JSON.parse(run.stdout), { version: "v1.4.2", images: [kept] });
        assert.equal(run.stderr, `artifacts-check: v1.4.2: ${kept} is there\n`);
    });

    it("fails naming the version, the image and the registry's answer when a digest was deleted", async () => {
        const run = await runOps(["artifacts-check", "--version", "v1.4.2", "--images", `${kept},${deleted}`], process.env);
        const digest = deleted.split("@")[1];
        assert.equal(run.code, 1);
        assert.equal(run.stdout, "");
        assert.equal(
            run.stderr,
            `artifacts-check: v1.4.2: ${kept} is there\n` +
                `artifacts-check: v1.4.2: missing ${deleted}: http://${registry.address}/v2/shop/worker/manifests/${digest} answered 404: ` +
                "the registry no longer holds that manifest\n" +
                "artifacts-check: a rollback to v1.4.2 would have no image to start; push the image again under the same digest " +
                "(or keep it by the registry's retention rules) before going forward\n",
        );
    });

    it("refuses an image that is not pinned by digest, with exit 2", async () => {
        const run = await runOps(
            ["artifacts-check", "--version", "v1.4.2", "--images", `${registry.address}/shop/api:v1.4.2`],
            process.env,
        );
        assert.equal(run.code, 2);
        assert.match(
            run.stderr,
            /`--images`: `127\.0\.0\.1:\d+\/shop\/api:v1\.4\.2` must be an image pinned by digest: `\[registry\/\]repository@sha256:<64 hex digits>`/,
        );
    });
});

describe("artifacts-check: a registry that asks for a token", function () {
    this.timeout(30_000);
    const TOKEN = "registry-token-do-not-print";
    const PASSWORD = "docker-config-password-do-not-print";
    const digest = sha256("manifest");
    let address: string;
    let configDir: string;
    const seen: string[] = [];

    before(async () => {
        // The challenge-and-token dance of Docker Hub and GHCR, reduced to what a HEAD by digest needs.
        const server = http.createServer((req, res) => {
            const url = new URL(req.url!, "http://registry");
            seen.push(`${req.method} ${url.pathname}${url.search}`);
            if (url.pathname === "/token") {
                const basic = Buffer.from(`robot:${PASSWORD}`).toString("base64");
                if (req.headers.authorization !== `Basic ${basic}`) return void res.writeHead(401).end();
                return void res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ token: TOKEN }));
            }
            if (req.headers.authorization !== `Bearer ${TOKEN}`) {
                res.writeHead(401, {
                    "WWW-Authenticate": `Bearer realm="http://${address}/token",service="registry.test",scope="repository:shop/api:pull"`,
                });
                return void res.end();
            }
            res.writeHead(url.pathname === `/v2/shop/api/manifests/${digest}` ? 200 : 404).end();
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
        atTestEnd(() => new Promise((resolve) => server.close(() => resolve())));
        configDir = await tempDir("safe-release-docker-config-");
        atTestEnd(async () => fs.rmSync(configDir, { recursive: true, force: true }));
    });

    it("gets a token from the challenge's realm with the docker config's credentials, and prints neither", async () => {
        fs.writeFileSync(
            path.join(configDir, "config.json"),
            JSON.stringify({ auths: { [address]: { auth: Buffer.from(`robot:${PASSWORD}`).toString("base64") } } }),
        );
        const image = `${address}/shop/api@${digest}`;
        const run = await runOps(["artifacts-check", "--version", "v1.4.2", "--images", image], {
            ...process.env,
            DOCKER_CONFIG: configDir,
        });
        assert.equal(run.code, 0, run.stderr);
        assert.deepEqual(seen.slice(-3), [
            `HEAD /v2/shop/api/manifests/${digest}`,
            "GET /token?service=registry.test&scope=repository%3Ashop%2Fapi%3Apull",
            `HEAD /v2/shop/api/manifests/${digest}`,
        ]);
        for (const secret of [TOKEN, PASSWORD]) assert.ok(!run.stdout.includes(secret) && !run.stderr.includes(secret));
    });

    it("without credentials, says the token service refused and how credentials are found", async () => {
        fs.rmSync(path.join(configDir, "config.json"), { force: true });
        const image = `${address}/shop/api@${digest}`;
        const run = await runOps(["artifacts-check", "--version", "v1.4.2", "--images", image], {
            ...process.env,
            DOCKER_CONFIG: configDir,
        });
        assert.equal(run.code, 1);
        assert.ok(
            run.stderr.includes(
                `missing ${image}: the token service http://${address}/token answered 401; no credentials for ${address} in the docker config ` +
                    `(\`docker login ${address}\` writes them; credential helpers are not read)\n`,
            ),
            run.stderr,
        );
    });
});

describe("artifacts-check: ECR images, against moto", function () {
    this.timeout(60_000);
    let moto: TestMoto;
    let ecr: ECRClient;

    before(async () => {
        moto = await startMoto();
        ecr = new ECRClient(awsClientConfig(moto.env, "ECR"));
    });
    after(async () => {
        ecr?.destroy();
        await moto?.stop();
    });

    it("finds a pushed digest, and names the repository when a lifecycle rule expired it", async () => {
        const repository = await ecr.send(new CreateRepositoryCommand({ repositoryName: "shop/api" }));
        const registryHost = repository.repository!.repositoryUri!.split("/")[0];
        const manifest = JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST_TYPE, config: {}, layers: [] });
        const put = await ecr.send(new PutImageCommand({ repositoryName: "shop/api", imageManifest: manifest, imageTag: "v1.4.2" }));
        const image = `${registryHost}/shop/api@${put.image!.imageId!.imageDigest}`;
        assert.equal(parsePinnedImage(image).registry, registryHost);

        const present = await runOps(["artifacts-check", "--version", "v1.4.2", "--images", image], moto.env);
        assert.equal(present.code, 0, present.stderr);

        await ecr.send(
            new BatchDeleteImageCommand({ repositoryName: "shop/api", imageIds: [{ imageDigest: put.image!.imageId!.imageDigest }] }),
        );
        const gone = await runOps(["artifacts-check", "--version", "v1.4.2", "--images", image], moto.env);
        const account = registryHost.split(".")[0];
        assert.equal(gone.code, 1);
        assert.ok(
            gone.stderr.includes(
                `missing ${image}: ECR repository shop/api (${account}, ${MOTO_REGION}) no longer holds ${put.image!.imageId!.imageDigest}\n`,
            ),
            gone.stderr,
        );
    });
});
