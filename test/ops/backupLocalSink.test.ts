import { strict as assert } from "assert";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { partialName } from "../../ops/partialFiles";
import { localFileSink } from "../../ops/store/artifact";
import { backupDir, removeDir } from "./backupTestSupport";

/** Writes `chunks` to the sink's descriptor as the copy thread does, telling the sink after each. */
function produce(sink: ReturnType<typeof localFileSink>, chunks: Buffer[]): { sha256: string; bytes: number } {
    const hash = createHash("sha256");
    let bytes = 0;
    for (const chunk of chunks) {
        fs.writeSync(sink.fd, chunk);
        hash.update(chunk);
        bytes += chunk.length;
        sink.written?.(bytes);
    }
    return { sha256: hash.digest("hex"), bytes };
}

describe("a local backup file (the directory store's sink)", () => {
    it("holds exactly the bytes written while it was synced in the background, under its name only once committed", async () => {
        const dir = await backupDir();
        const file = path.join(dir, "shop-v1.0.0.dump.zst");
        const sink = localFileSink(file);
        const chunks = Array.from({ length: 8 }, (_, i) => Buffer.alloc(1024 * 1024 + i, i + 1));
        const written = produce(sink, chunks);
        assert.deepEqual(fs.readdirSync(dir), [path.basename(partialName(file))]);
        await sink.commit(written);
        assert.deepEqual(fs.readdirSync(dir), [path.basename(file)]);
        assert.ok(fs.readFileSync(file).equals(Buffer.concat(chunks)));
        removeDir(dir);
    });

    it("leaves nothing when aborted while a background sync runs", async () => {
        const dir = await backupDir();
        const file = path.join(dir, "shop-v1.0.0.dump.zst");
        const sink = localFileSink(file);
        produce(sink, [Buffer.alloc(4 * 1024 * 1024, 7)]);
        await sink.abort();
        await sink.abort();
        assert.deepEqual(fs.readdirSync(dir), []);
        removeDir(dir);
    });

    it("refuses to commit when the file holds other than the bytes the producer counted, leaving nothing", async () => {
        const dir = await backupDir();
        const file = path.join(dir, "shop-v1.0.0.dump.zst");
        const sink = localFileSink(file);
        const { sha256, bytes } = produce(sink, [Buffer.from("pg_dump archive")]);
        await assert.rejects(sink.commit({ sha256, bytes: bytes + 1 }), {
            message: `\`${partialName(file)}\` holds ${bytes} bytes; ${bytes + 1} were written`,
        });
        assert.deepEqual(fs.readdirSync(dir), []);
        removeDir(dir);
    });
});
