import { strict as assert } from "assert";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { run, tempDir } from "../support/processes";

const OPS = path.join(__dirname, "..", "..", "ops", "bin", "safe-release-ops.js");
const sha = (file: string) => createHash("sha256").update(fs.readFileSync(file)).digest("hex");

async function ops(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return run(process.execPath, [OPS, ...args]).then(
        (r) => ({ code: 0, ...r }),
        (err: Error) => ({ code: Number(/exited (\d+)/.exec(err.message)?.[1] ?? -1), stdout: "", stderr: err.message }),
    );
}

describe("safe-release-ops host-install and host-prune (ops/host/artifact.ts)", () => {
    let dir: string;
    beforeEach(async () => (dir = await tempDir("safe-release-install-")));
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("fails on a sha256 mismatch before writing anything", async () => {
        fs.writeFileSync(`${dir}/api`, "#!/bin/sh\necho api\n");
        const wrong = "0".repeat(64);
        const result = await ops([
            "host-install",
            "--root",
            `${dir}/srv`,
            "--version",
            "v1.5.0",
            "--component",
            "api",
            "--sha256",
            wrong,
            "--path",
            `${dir}/api`,
        ]);
        assert.equal(result.code, 1);
        assert.match(
            result.stderr,
            new RegExp(
                `host-install: the artifact ${dir}/api has sha256 ${sha(`${dir}/api`)}, but \`release:artifacts\\.v1\\.5\\.0\\.api\\.sha256\` is ${wrong}; nothing was installed or stopped`,
            ),
        );
        assert.deepEqual(fs.readdirSync(`${dir}/srv/releases/v1.5.0`), []);
    });

    it("places a single file as an executable, and installs nothing the second time", async () => {
        fs.writeFileSync(`${dir}/api`, "#!/bin/sh\necho api\n");
        const args = [
            "host-install",
            "--root",
            `${dir}/srv`,
            "--version",
            "v1.5.0",
            "--component",
            "api",
            "--sha256",
            sha(`${dir}/api`),
            "--path",
            `${dir}/api`,
        ];
        const first = await ops(args);
        const target = `${dir}/srv/releases/v1.5.0/api`;
        assert.deepEqual(JSON.parse(first.stdout), { dir: target, sha256: sha(`${dir}/api`), installed: true });
        assert.equal(fs.statSync(`${target}/api`).mode & 0o777, 0o755);
        assert.deepEqual(JSON.parse((await ops(args)).stdout).installed, false);
    });

    it("unpacks a .tar.gz, and refuses another digest for an installed version", async () => {
        fs.mkdirSync(`${dir}/build/bin`, { recursive: true });
        fs.writeFileSync(`${dir}/build/bin/api`, "#!/bin/sh\n", { mode: 0o755 });
        await run("tar", ["-czf", `${dir}/api.tar.gz`, "-C", `${dir}/build`, "bin"]);
        const install = (file: string) =>
            ops([
                "host-install",
                "--root",
                `${dir}/srv`,
                "--version",
                "v1.5.0",
                "--component",
                "api",
                "--sha256",
                sha(file),
                "--path",
                file,
            ]);
        assert.equal((await install(`${dir}/api.tar.gz`)).code, 0);
        assert.deepEqual(fs.readdirSync(`${dir}/srv/releases/v1.5.0/api`).sort(), [".safe-release.json", "bin"]);
        fs.writeFileSync(`${dir}/other`, "other");
        const refused = await install(`${dir}/other`);
        assert.equal(refused.code, 1);
        assert.match(
            refused.stderr,
            /holds api v1\.5\.0 with sha256 [0-9a-f]{64}, but `release:artifacts\.v1\.5\.0\.api\.sha256` is [0-9a-f]{64}; a release directory is never overwritten/,
        );
        assert.ok(fs.existsSync(`${dir}/srv/releases/v1.5.0/api/bin/api`));
    });

    it("prunes the oldest releases beyond --keep, never a protected one", async () => {
        for (const v of ["v1.0.0", "v1.1.0", "v1.2.0", "v1.3.0", "v1.10.0"]) fs.mkdirSync(`${dir}/srv/releases/${v}`, { recursive: true });
        const result = await ops(["host-prune", "--root", `${dir}/srv`, "--keep", "1", "--protect", "v1.0.0,v1.10.0"]);
        assert.deepEqual(JSON.parse(result.stdout), { kept: ["v1.10.0", "v1.3.0", "v1.0.0"], removed: ["v1.2.0", "v1.1.0"] });
        assert.deepEqual(fs.readdirSync(`${dir}/srv/releases`).sort(), ["v1.0.0", "v1.10.0", "v1.3.0"]);
    });
});
