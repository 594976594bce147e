import { strict as assert } from "assert";
import { spawn } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { FifoCopy } from "../../ops/fifoCopy";
import { backupDir, removeDir } from "./backupTestSupport";

describe("FifoCopy", () => {
    it("copies what a program writes to the pipe in small pieces, hashing the same bytes, in blocks larger than a pipe", async () => {
        const dir = await backupDir();
        const target = path.join(dir, "copy.bin");
        const fd = fs.openSync(target, "wx");
        const progress: number[] = [];
        // 3 MiB + 7 bytes in 4 KiB writes, as pg_dump writes through stdio; blocks of 1 MiB make the last one partial.
        const copy = new FifoCopy(fd, (bytes) => progress.push(bytes), 1024 * 1024);
        const program = `const fs = require("fs");
            for (let i = 0; i < 768; i++) fs.writeSync(1, Buffer.alloc(4096, i % 251));
            fs.writeSync(1, "the end");`;
        const child = spawn(process.execPath, ["-e", program], { stdio: ["ignore", copy.writerFd, "inherit"] });
        copy.closeWriter();
        await new Promise((resolve) => child.on("close", resolve));
        const result = await copy.done;
        fs.closeSync(fd);
        const expected = Buffer.concat([...Array.from({ length: 768 }, (_, i) => Buffer.alloc(4096, i % 251)), Buffer.from("the end")]);
        assert.deepEqual(result, { sha256: createHash("sha256").update(expected).digest("hex"), bytes: expected.length });
        assert.ok(fs.readFileSync(target).equals(expected));
        assert.deepEqual(progress, []);
        copy.remove();
        assert.equal(fs.existsSync(path.dirname(copy.fifo)), false);
        removeDir(dir);
    });

    it("hands the program a write-only end, so the program is not a reader of its own output", async () => {
        const dir = await backupDir();
        const fd = fs.openSync(path.join(dir, "copy.bin"), "wx");
        const copy = new FifoCopy(fd);
        // The access mode (O_ACCMODE, 3): with a read-write end the program would never see EPIPE once this process is killed.
        const flags = /^flags:\s+([0-7]+)$/m.exec(fs.readFileSync(`/proc/self/fdinfo/${copy.writerFd}`, "utf8"))![1];
        assert.equal(Number.parseInt(flags, 8) & 0o3, fs.constants.O_WRONLY);
        copy.closeWriter();
        await copy.done;
        fs.closeSync(fd);
        copy.remove();
        removeDir(dir);
    });

    it("ends with nothing copied when no program ever writes to the pipe", async () => {
        const dir = await backupDir();
        const fd = fs.openSync(path.join(dir, "copy.bin"), "wx");
        const copy = new FifoCopy(fd);
        assert.equal(fs.statSync(copy.fifo).isFIFO(), true);
        assert.equal(fs.statSync(path.dirname(copy.fifo)).mode & 0o777, 0o700);
        copy.closeWriter();
        assert.deepEqual(await copy.done, { sha256: createHash("sha256").digest("hex"), bytes: 0 });
        fs.closeSync(fd);
        copy.remove();
        removeDir(dir);
    });
});
