import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { run, tempDir } from "./support/processes";

const PROJECT = path.join(__dirname, "..");

describe("the dev stack's demo artifacts", function () {
    this.timeout(60_000);

    it("rebuild byte for byte to the sha256 pinned in Pulumi.dev.yaml", async () => {
        const out = await tempDir("safe-release-demo-artifacts-");
        try {
            const { stdout } = await run(path.join(PROJECT, "scripts", "demo-artifacts.sh"), [out]);
            const built = Object.fromEntries(
                stdout
                    .trim()
                    .split("\n")
                    .map((line) => {
                        const [sha256, file] = line.split(/\s+/);
                        return [path.basename(file).replace(/^demo-(.*)\.tar\.gz$/, "$1"), sha256];
                    }),
            );
            const stack = yaml.load(fs.readFileSync(path.join(PROJECT, "Pulumi.dev.yaml"), "utf8")) as {
                config: Record<string, Record<string, { web: { path: string; sha256: string } }>>;
            };
            const artifacts = stack.config["release:artifacts"];
            const pinned = Object.fromEntries(Object.entries(artifacts).map(([version, c]) => [version, c.web.sha256]));
            assert.deepStrictEqual(built, pinned);
            for (const [version, c] of Object.entries(artifacts))
                assert.strictEqual(c.web.path, `examples/demo/dist/demo-${version}.tar.gz`);
        } finally {
            fs.rmSync(out, { recursive: true, force: true });
        }
    });
});
