import { strict as assert } from "assert";
import {
    CompleteMultipartUploadCommand,
    CopyObjectCommand,
    CreateMultipartUploadCommand,
    ListObjectsV2Command,
    S3Client,
    UploadPartCopyCommand,
} from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import {
    checkSeparate,
    compareListings,
    isPlainMd5Etag,
    ListedObject,
    listAllObjects,
    listingChecksum,
    parseS3Location,
    readListingPage,
    sortByKey,
} from "../../ops/aws/bucketListing";
import { sha256Hex } from "../../ops/aws/records";
import { copyObjects, copySource, COPY_PART_BYTES, objectsToCopy, SINGLE_COPY_LIMIT } from "../../ops/aws/s3Copy";

describe("aws: bucket listing logic", () => {
    const object = (key: string, size: number, etag: string): ListedObject => ({ key, size, etag });

    it("parses locations, folds slashes and refuses overlapping copies", () => {
        assert.deepEqual(parseS3Location("s3://shop/a/b/", "source", false), { bucket: "shop", prefix: "a/b" });
        assert.deepEqual(parseS3Location("shop", "source", false), { bucket: "shop", prefix: "" });
        assert.doesNotThrow(() => checkSeparate({ bucket: "s", prefix: "data" }, { bucket: "s", prefix: "database" }));
        assert.doesNotThrow(() => checkSeparate({ bucket: "s", prefix: "" }, { bucket: "t", prefix: "x" }));
        assert.throws(() => checkSeparate({ bucket: "s", prefix: "a/b" }, { bucket: "s", prefix: "a" }), {
            message: "`--target` must not overlap `--source` (s3://s/a/b/); got `s3://s/a/`",
        });
    });

    it("reads a page: keys made relative, quotes dropped, the next token kept; an empty page has no Contents", () => {
        const location = { bucket: "s", prefix: "p" };
        assert.deepEqual(
            readListingPage({ Contents: [{ Key: "p/x", Size: 3, ETag: '"e"' }], IsTruncated: true, NextContinuationToken: "t" }, location),
            { objects: [object("x", 3, "e")], next: "t" },
        );
        assert.deepEqual(readListingPage({ KeyCount: 0, IsTruncated: false }, location), { objects: [] });
        assert.throws(() => readListingPage({ Contents: [{ Key: "p/x" }] }, location), {
            message: "s3://s/p/ listing has an entry without `Key` and `Size`",
        });
        assert.throws(() => readListingPage({ Contents: [], IsTruncated: true }, location), {
            message: "s3://s/p/ listing is truncated but has no `NextContinuationToken`",
        });
    });

    it("refuses a listing whose token repeats, which the paginator would follow for ever (aws-sdk-client-mock: moto's tokens do not repeat)", async () => {
        const mock = mockClient(S3Client);
        try {
            mock.on(ListObjectsV2Command).resolves({ Contents: [], IsTruncated: true, NextContinuationToken: "same" });
            await assert.rejects(
                listAllObjects({ bucket: "s", prefix: "p" }, { AWS_REGION: "eu-west-1" }, () => undefined),
                {
                    message: "S3 ListObjectsV2 of s3://s/p/ failed: s3://s/p/ listing returned the same `NextContinuationToken` twice",
                },
            );
            assert.equal(mock.commandCalls(ListObjectsV2Command).length, 2);
        } finally {
            mock.restore();
        }
    });

    it("copies what sync would: missing, resized or, for plain MD5 ETags, changed objects", () => {
        const md5 = (c: string): string => c.repeat(32);
        const source = [object("a", 1, md5("a")), object("b", 2, md5("b")), object("c", 3, md5("c")), object("d", 4, `${md5("d")}-2`)];
        const target = [object("b", 9, md5("b")), object("c", 3, md5("f")), object("d", 4, md5("0"))];
        assert.deepEqual(
            objectsToCopy(source, target).map((o) => o.key),
            ["a", "b", "c"],
        );
        assert.equal(copySource({ bucket: "s", prefix: "p q" }, "b/c d+é.txt"), "s/p%20q/b/c%20d%2B%C3%A9.txt");
    });

    it("copies an object over 5 GiB part by part, 512 MiB each (aws-sdk-client-mock: moto would need the 5 GiB)", async () => {
        const mock = mockClient(S3Client);
        try {
            mock.on(CreateMultipartUploadCommand).resolves({ UploadId: "u-1" });
            mock.on(UploadPartCopyCommand).callsFake((input) => ({ CopyPartResult: { ETag: `"part-${input.PartNumber}"` } }));
            mock.on(CompleteMultipartUploadCommand).resolves({});
            const s3 = new S3Client({ region: "eu-west-1" });
            const size = SINGLE_COPY_LIMIT + 1;
            await copyObjects({ s3, source: { bucket: "s", prefix: "" }, target: { bucket: "t", prefix: "x" }, env: {} }, [
                object("big", size, ""),
            ]);
            assert.equal(mock.commandCalls(CopyObjectCommand).length, 0);
            const parts = mock.commandCalls(UploadPartCopyCommand).map((call) => call.args[0].input);
            assert.equal(parts.length, 11);
            assert.deepEqual(parts[0], {
                Bucket: "t",
                Key: "x/big",
                UploadId: "u-1",
                PartNumber: 1,
                CopySource: "s/big",
                CopySourceRange: `bytes=0-${COPY_PART_BYTES - 1}`,
            });
            assert.equal(parts[10].CopySourceRange, `bytes=${10 * COPY_PART_BYTES}-${size - 1}`);
            const completed = mock.commandCalls(CompleteMultipartUploadCommand)[0].args[0].input;
            assert.deepEqual(
                completed.MultipartUpload?.Parts?.map((p) => p.ETag),
                Array.from({ length: 11 }, (_, i) => `"part-${i + 1}"`),
            );
        } finally {
            mock.restore();
        }
    });

    it("sorts keys by UTF-8 bytes and hashes the sorted lines", () => {
        // U+FF5E sorts before U+1F600 in UTF-8, after it in UTF-16 code units.
        assert.deepEqual(
            sortByKey([object("😀", 1, ""), object("～", 1, ""), object("a", 1, "")]).map((o) => o.key),
            ["a", "～", "😀"],
        );
        const objects = [object("b", 2, "e2"), object("a", 1, "e1")];
        assert.equal(listingChecksum(objects), sha256Hex("a\t1\te1\nb\t2\te2\n"));
        assert.equal(listingChecksum([...objects].reverse()), listingChecksum(objects));
        assert.equal(listingChecksum([]), sha256Hex(""));
        assert.ok(isPlainMd5Etag("0cc175b9c0f1b6a831c399e269772661"));
        assert.ok(!isPlainMd5Etag("0cc175b9c0f1b6a831c399e269772661-3"));
    });

    it("compares listings key by key, in key order, up to the limit", () => {
        const md5 = (c: string): string => c.repeat(32);
        const source = [object("a", 1, md5("a")), object("b", 2, md5("b")), object("c", 3, md5("c")), object("d", 4, `${md5("d")}-2`)];
        const target = [object("e", 5, md5("e")), object("b", 9, md5("b")), object("c", 3, md5("f")), object("d", 4, md5("0"))];
        assert.deepEqual(compareListings(source, target, { limit: 3 }), {
            source: { objects: 4, bytes: 10 },
            target: { objects: 4, bytes: 21 },
            differences: ["only in source: a", "size differs: b (2 vs 9 bytes)", `ETag differs: c (${md5("c")} vs ${md5("f")})`],
            differenceCount: 4,
        });
        assert.equal(compareListings(source, target, { compareEtags: false }).differenceCount, 3);
        assert.equal(compareListings(source, source).differenceCount, 0);
    });
});
