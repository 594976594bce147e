import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { run, tempDir } from "./support/processes";

const script = path.join(__dirname, "..", "scripts", "prune-build.js");

/** A project tree with the script in scripts/ and the given files, sources and outputs alike. */
async function project(files: string[]): Promise<string> {
    const root = await tempDir("prune-build-");
    for (const file of [...files, "scripts/prune-build.js"]) {
        fs.mkdirSync(path.join(root, path.dirname(file)), { recursive: true });
        fs.writeFileSync(path.join(root, file), file === "scripts/prune-build.js" ? fs.readFileSync(script) : "");
    }
    return root;
}

function listed(dir: string): string[] {
    return (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
        .filter((entry) => entry.isFile())
        .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
        .sort();
}

describe("npm run build's pruning of bin/", () => {
    it("removes the outputs of a deleted source, its maps and declarations too, and the directory it empties", async () => {
        const root = await project([
            "ops/commands/backup.ts",
            "bin/ops/commands/backup.js",
            "bin/ops/commands/gone.js",
            "bin/ops/commands/gone.js.map",
            "bin/ops/commands/gone.d.ts",
            "bin/drivers/config.js",
            "bin/.built",
        ]);
        const { stdout } = await run("node", [path.join(root, "scripts", "prune-build.js")], { cwd: root });
        assert.deepEqual(listed(path.join(root, "bin")), [".built", "ops/commands/backup.js"]);
        assert.equal(fs.existsSync(path.join(root, "bin", "drivers")), false);
        assert.match(stdout, /^removed bin\/ops\/commands\/gone\.js: its source ops\/commands\/gone\.ts is gone$/m);
    });

    it("leaves the staged host agent alone: it is copied, not compiled", async () => {
        const root = await project(["bin/host-agent/ops/cli.js", "bin/host-agent/node_modules/pg/index.js"]);
        await run("node", [path.join(root, "scripts", "prune-build.js")]);
        assert.deepEqual(listed(path.join(root, "bin")), ["host-agent/node_modules/pg/index.js", "host-agent/ops/cli.js"]);
    });

    it("prunes another output directory against the project's sources (`npm run build -- --outDir <dir>`)", async () => {
        const root = await project(["core/args.ts"]);
        const out = await tempDir("prune-build-out-");
        for (const file of ["core/args.js", "core/gone.js"]) {
            fs.mkdirSync(path.join(out, path.dirname(file)), { recursive: true });
            fs.writeFileSync(path.join(out, file), "");
        }
        await run("node", [path.join(root, "scripts", "prune-build.js"), out]);
        assert.deepEqual(listed(out), ["core/args.js"]);
    });
});
