import { strict as assert } from "assert";
import { createHash } from "crypto";
import * as fs from "fs";
import { installArtifact, RECORD_FILE } from "../../ops/host/artifact";
import { runOps } from "../support/opsRun";
import { run, tempDir } from "../support/processes";

const sha = (file: string) => createHash("sha256").update(fs.readFileSync(file)).digest("hex");

describe("safe-release-ops host-check: the release directory a rollback returns to", () => {
    let dir: string;
    let root: string;
    let apiSha: string;
    let workerSha: string;

    beforeEach(async () => {
        dir = await tempDir("safe-release-host-check-");
        root = `${dir}/srv`;
        fs.mkdirSync(`${dir}/build/bin`, { recursive: true });
        fs.writeFileSync(`${dir}/build/bin/api`, "#!/bin/sh\necho api v1.4.2\n", { mode: 0o755 });
        fs.writeFileSync(`${dir}/build/bin/schema.sql`, "CREATE TABLE t (id int);\n");
        await run("tar", ["-czf", `${dir}/api.tar.gz`, "-C", `${dir}/build`, "bin"]);
        fs.writeFileSync(`${dir}/worker`, "#!/bin/sh\necho worker\n");
        apiSha = sha(`${dir}/api.tar.gz`);
        workerSha = sha(`${dir}/worker`);
        const install = (component: string, source: string, sha256: string) =>
            installArtifact({ root, version: "v1.4.2", component, sha256, source, key: `release:artifacts.v1.4.2.${component}.sha256` });
        await install("api", `${dir}/api.tar.gz`, apiSha);
        await install("worker", `${dir}/worker`, workerSha);
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    const check = (components: string) =>
        runOps(["host-check", "--root", root, "--version", "v1.4.2", "--components", components], process.env);

    it("install records every file's sha256, and an intact release passes", async () => {
        const record = JSON.parse(fs.readFileSync(`${root}/releases/v1.4.2/api/${RECORD_FILE}`, "utf8"));
        assert.deepEqual(record.files, {
            "bin/api": sha(`${dir}/build/bin/api`),
            "bin/schema.sql": sha(`${dir}/build/bin/schema.sql`),
        });
        const result = await check(`api=${apiSha},worker=${workerSha}`);
        assert.equal(result.code, 0, result.stderr);
        assert.deepEqual(JSON.parse(result.stdout), {
            version: "v1.4.2",
            components: [
                { component: "api", dir: `${root}/releases/v1.4.2/api`, files: 2 },
                { component: "worker", dir: `${root}/releases/v1.4.2/worker`, files: 1 },
            ],
        });
    });

    it("names a deleted and an edited file, and says what to do", async () => {
        fs.rmSync(`${root}/releases/v1.4.2/api/bin/schema.sql`);
        fs.appendFileSync(`${root}/releases/v1.4.2/api/bin/api`, "# edited\n");
        const edited = sha(`${root}/releases/v1.4.2/api/bin/api`);
        const result = await check(`api=${apiSha}`);
        assert.equal(result.code, 1);
        assert.equal(result.stdout, "");
        assert.equal(
            result.stderr,
            `host-check: ${root}/releases/v1.4.2/api changed since it was installed: bin/api has sha256 ${edited}; ` +
                `${sha(`${dir}/build/bin/api`)} was installed; bin/schema.sql is missing\n` +
                "host-check: release v1.4.2 cannot be returned to as it was installed; install it again " +
                "(an update with `release:version: v1.4.2` and its artifacts) before going forward\n",
        );
    });

    it("names a removed release directory and a digest that is not the pinned one", async () => {
        fs.rmSync(`${root}/releases/v1.4.2/worker`, { recursive: true });
        const other = "f".repeat(64);
        const result = await check(`api=${other},worker=${workerSha}`);
        assert.equal(result.code, 1);
        assert.ok(
            result.stderr.startsWith(
                `host-check: ${root}/releases/v1.4.2/api holds api v1.4.2 with sha256 ${apiSha}; the pinned sha256 is ${other}\n` +
                    `host-check: ${root}/releases/v1.4.2/worker is missing (or has no ${RECORD_FILE}): worker v1.4.2 is not installed there\n`,
            ),
            result.stderr,
        );
    });

    it("checks a directory installed before files were recorded by its digest, and says so", async () => {
        const recordFile = `${root}/releases/v1.4.2/worker/${RECORD_FILE}`;
        const { files: _files, ...older } = JSON.parse(fs.readFileSync(recordFile, "utf8"));
        fs.writeFileSync(recordFile, JSON.stringify(older));
        const result = await check(`worker=${workerSha}`);
        assert.equal(result.code, 0, result.stderr);
        assert.deepEqual(JSON.parse(result.stdout).components, [
            { component: "worker", dir: `${root}/releases/v1.4.2/worker`, files: null },
        ]);
        assert.equal(
            result.stderr,
            `host-check: ${root}/releases/v1.4.2/worker: digest matches; its files were not recorded at install, so they are not compared\n`,
        );
    });

    it("refuses a malformed or repeated component list with exit 2", async () => {
        assert.equal(
            (await check("api")).stderr,
            "host-check: `--components` must list `<component>=<64 hex digits>` separated by commas; got `api`\n",
        );
        const repeated = await check(`api=${apiSha},api=${apiSha}`);
        assert.equal(repeated.code, 2);
        assert.equal(repeated.stderr, "host-check: `--components` names `api` twice; give each component once\n");
    });
});
