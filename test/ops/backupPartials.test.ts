import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { Writable } from "stream";
import { commitPartial, partialName, removeStalePartials } from "../../ops/partialFiles";
import { backupDir, removeDir } from "./backupTestSupport";

class Lines extends Writable {
    text = "";
    _write(chunk: Buffer, _encoding: string, done: () => void): void {
        this.text += chunk.toString();
        done();
    }
}

describe("backup partial files", () => {
    it("removes the partial file of a process that is gone and leaves that of a running one", async () => {
        const dir = await backupDir();
        // A pid that existed and has exited; this test's parent still runs.
        const gone = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]).stdout.toString();
        const dead = partialName(path.join(dir, "shop-v1.0.0-a.dump"), Number(gone));
        const live = partialName(path.join(dir, "shop-v1.0.0-b.dump"), process.ppid);
        const other = path.join(dir, "shop-v1.0.0-c.dump");
        for (const file of [dead, live, other]) fs.writeFileSync(file, "bytes");
        const stderr = new Lines();
        removeStalePartials(dir, stderr);
        assert.equal(
            stderr.text,
            `backup: removed \`${dead}\`: the partial file of a backup that did not finish (process ${gone} is gone)\n` +
                `backup: left \`${live}\`: process ${process.ppid}, a backup still writing it, is running\n`,
        );
        assert.deepEqual(fs.readdirSync(dir).sort(), [path.basename(live), path.basename(other)].sort());
        removeDir(dir);
    });

    it("gives a whole file its name without replacing one that has it", async () => {
        const dir = await backupDir();
        const file = path.join(dir, "x.dump");
        fs.writeFileSync(partialName(file), "new");
        commitPartial(partialName(file), file);
        assert.deepEqual([fs.readFileSync(file, "utf8"), fs.readdirSync(dir)], ["new", ["x.dump"]]);
        fs.writeFileSync(partialName(file), "newer");
        assert.throws(() => commitPartial(partialName(file), file), /EEXIST/);
        assert.equal(fs.readFileSync(file, "utf8"), "new");
        removeDir(dir);
    });
});
