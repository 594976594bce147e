import { strict as assert } from "assert";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { Readable } from "stream";
import { command as hostUnpack } from "../../ops/commands/host-unpack";
import { Capture } from "../support/opsRun";
import { run, tempDir } from "../support/processes";

/**
 * `host-unpack`, the host side of `host-restore`: it checks the SHA-256 of the bytes that
 * arrive on its stdin itself, so an archive damaged on its way over SSH never replaces the
 * directory (`host-restore` checks the stored bytes before it sends them; this checks the wire).
 */
describe("host-unpack: the archive that arrives is checked before it replaces anything", () => {
    let dir: string;
    beforeEach(async () => (dir = await tempDir("safe-release-unpack-")));
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("refuses bytes whose SHA-256 is not the recorded one: the target untouched, the extracted copy kept and named", async () => {
        const source = path.join(dir, "source");
        fs.mkdirSync(source);
        fs.writeFileSync(path.join(source, "table"), "table one\n");
        await run("tar", ["-cf", path.join(dir, "a.tar"), "-C", source, "."]);
        const archive = fs.readFileSync(path.join(dir, "a.tar"));
        const recorded = createHash("sha256").update(archive).digest("hex");
        const damaged = Buffer.from(archive);
        damaged[damaged.indexOf("table one")] = "T".charCodeAt(0);
        const target = path.join(dir, "live");
        fs.mkdirSync(target);
        fs.writeFileSync(path.join(target, "table"), "live table\n");

        const stdout = new Capture();
        const stderr = new Capture();
        const args = ["--target", target, "--sha256", recorded, "--files", "1", "--bytes", "10"];
        const code = await hostUnpack.run(args, { env: process.env, stdout, stderr, stdin: Readable.from([damaged]) });
        assert.equal(code, 1);
        const actual = createHash("sha256").update(damaged).digest("hex");
        const result = JSON.parse(stdout.text);
        assert.equal(
            stderr.text,
            `host-unpack: the archive that arrived has SHA-256 ${actual}; the backup recorded ${recorded} (${damaged.length} bytes arrived); ` +
                `${target} is untouched, the extracted copy kept at ${result.scratch}\n`,
        );
        assert.deepEqual([result.ok, result.scratchKept], [false, true]);
        assert.equal(fs.readFileSync(path.join(target, "table"), "utf8"), "live table\n");
        assert.deepEqual(fs.readdirSync(dir).sort(), ["a.tar", "live", path.basename(result.scratch), "source"].sort());
    });
});
