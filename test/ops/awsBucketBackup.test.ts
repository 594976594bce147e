import { strict as assert } from "assert";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { readLog } from "../../core/backupLog";
import { fakeAws, FakeResponse, FakeRule, runOps, secretsLeaked } from "../support/fakeAws";
import { tempDir } from "../support/processes";
import { versionRule } from "./backupTestSupport";

const MD5_A = "0cc175b9c0f1b6a831c399e269772661";
const MD5_C = "4a8a08f09d37b73795649038408b5f33";
const MULTIPART = "d41d8cd98f00b204e9800998ecf8427e-2";

function page(bucketPrefix: string, objects: Array<[string, number, string]>, next?: string): FakeResponse {
    return {
        json: {
            Contents: objects.map(([key, size, etag]) => ({
                Key: `${bucketPrefix}${key}`,
                Size: size,
                ETag: `"${etag}"`,
                StorageClass: "STANDARD",
            })),
            IsTruncated: next !== undefined,
            KeyCount: objects.length,
            ...(next !== undefined ? { NextContinuationToken: next } : {}),
        },
    };
}

const SOURCE_PAGE_1: Array<[string, number, string]> = [["a.jpg", 10, MD5_A]];
const SOURCE_PAGE_2: Array<[string, number, string]> = [["b/c.txt", 20000000, MULTIPART]];

function scenario(target: FakeResponse[]): FakeRule[] {
    return [
        { command: "s3 sync", responses: [{ text: "" }] },
        {
            command: "s3api list-objects-v2",
            when: { "--bucket": "shop-uploads", "--continuation-token": "tok-1" },
            responses: [page("media/", SOURCE_PAGE_2)],
        },
        {
            command: "s3api list-objects-v2",
            when: { "--bucket": "shop-uploads" },
            absent: ["--continuation-token"],
            responses: [page("media/", SOURCE_PAGE_1, "tok-1")],
        },
        { command: "s3api list-objects-v2", when: { "--bucket": "shop-backups" }, responses: target },
    ];
}

const ARGS = [
    "bucket-backup",
    "--source",
    "shop-uploads/media",
    "--target",
    "s3://shop-backups/uploads/v1.6.0/",
    "--app",
    "shop",
    "--version",
    "v1.6.0",
];
const CALLS = [
    ["s3", "sync", "s3://shop-uploads/media/", "s3://shop-backups/uploads/v1.6.0/", "--only-show-errors"],
    ["s3api", "list-objects-v2", "--bucket", "shop-uploads", "--prefix", "media/", "--no-paginate"],
    ["s3api", "list-objects-v2", "--bucket", "shop-uploads", "--prefix", "media/", "--no-paginate", "--continuation-token", "tok-1"],
    ["s3api", "list-objects-v2", "--bucket", "shop-backups", "--prefix", "uploads/v1.6.0/", "--no-paginate"],
];
/** The source listing's lines, hashed here by hand: the record's checksum names the content. */
const CHECKSUM = createHash("sha256").update(`a.jpg\t10\t${MD5_A}\nb/c.txt\t20000000\t${MULTIPART}\n`).digest("hex");

async function logFile(): Promise<string> {
    return path.join(await tempDir("safe-release-bucket-"), "ops", "backups.log");
}

describe("bucket-backup against a fake aws CLI", () => {
    it("syncs, lists both sides page by page, records and prints a verified record", async () => {
        // The copy of the multipart object got a plain ETag: only sizes can be compared for it.
        const fake = await fakeAws(
            scenario([
                page("uploads/v1.6.0/", [
                    ["a.jpg", 10, MD5_A],
                    ["b/c.txt", 20000000, MD5_C],
                ]),
            ]),
        );
        const log = await logFile();
        const run = await runOps(fake, [...ARGS, "--log", log]);
        assert.equal(run.code, 0, run.stderr);
        assert.deepEqual(fake.argvs(), CALLS);
        const record = JSON.parse(run.stdout);
        assert.match(record.id, /^shop-v1\.6\.0-\d{8}T\d{6}\.\d{3}Z$/);
        assert.equal(record.time, new Date(record.time).toISOString());
        assert.deepEqual(
            { ...record, id: "ID", time: "TIME" },
            {
                id: "ID",
                kind: "bucket",
                app: "shop",
                version: "v1.6.0",
                time: "TIME",
                size: 20000010,
                sha256: CHECKSUM,
                location: "s3://shop-backups/uploads/v1.6.0/",
                verified: true,
                source: "s3://shop-uploads/media/",
                files: 2,
            },
        );
        assert.equal(fs.readFileSync(log, "utf8"), `${JSON.stringify(record)}\n`);
        assert.deepEqual(
            readLog(log).map((r) => r.id),
            [record.id],
        );
        assert.equal(
            run.stderr,
            [
                "bucket-backup: copying s3://shop-uploads/media/ to s3://shop-backups/uploads/v1.6.0/",
                "bucket-backup: s3://shop-uploads/media/: 2 objects, 20000010 bytes",
                "bucket-backup: s3://shop-backups/uploads/v1.6.0/: 2 objects, 20000010 bytes",
                `bucket-backup: verified: 2 objects, 20000010 bytes on both sides; recorded in ${log}`,
                "",
            ].join("\n"),
        );
        assert.deepEqual(secretsLeaked(fake, run), []);
    });

    it("records an unverified backup and fails, listing the differing keys, when the copy lacks an object", async () => {
        const fake = await fakeAws(
            scenario([
                page("uploads/v1.6.0/", [
                    ["a.jpg", 10, MD5_A],
                    ["z.bin", 1, MD5_C],
                ]),
            ]),
        );
        const log = await logFile();
        const run = await runOps(fake, [...ARGS, "--log", log]);
        assert.equal(run.code, 1);
        assert.deepEqual(fake.argvs(), CALLS);
        const record = JSON.parse(run.stdout);
        assert.equal(record.verified, false);
        assert.equal(record.sha256, CHECKSUM);
        assert.deepEqual(readLog(log), [record]);
        assert.ok(
            run.stderr.endsWith(
                "bucket-backup: verification failed: s3://shop-uploads/media/ has 2 objects (20000010 bytes), " +
                    "s3://shop-backups/uploads/v1.6.0/ has 2 (11 bytes); 2 differences, the first: only in source: b/c.txt; only in target: z.bin\n",
            ),
            run.stderr,
        );
    });

    it("compares plain MD5 ETags unless --sizes-only", async () => {
        const target = [
            page("uploads/v1.6.0/", [
                ["a.jpg", 10, MD5_C],
                ["b/c.txt", 20000000, MULTIPART],
            ]),
        ];
        const strict = await runOps(await fakeAws(scenario(target)), [...ARGS, "--log", await logFile()]);
        assert.equal(strict.code, 1);
        assert.ok(strict.stderr.endsWith(`1 differences, the first: ETag differs: a.jpg (${MD5_A} vs ${MD5_C})\n`), strict.stderr);
        const sizes = await runOps(await fakeAws(scenario(target)), [...ARGS, "--log", await logFile(), "--sizes-only"]);
        assert.equal(sizes.code, 0, sizes.stderr);
    });

    it("fails without a record when the sync fails", async () => {
        const fake = await fakeAws([
            {
                command: "s3 sync",
                responses: [
                    {
                        exit: 1,
                        stderr: "fatal error: An error occurred (AccessDenied) when calling the ListObjectsV2 operation: Access Denied\n",
                    },
                ],
            },
        ]);
        const log = await logFile();
        const run = await runOps(fake, [...ARGS, "--log", log]);
        assert.equal(run.code, 1);
        assert.deepEqual(fake.argvs(), [CALLS[0]]);
        assert.equal(fs.existsSync(log), false);
        assert.equal(
            run.stderr,
            [
                "bucket-backup: copying s3://shop-uploads/media/ to s3://shop-backups/uploads/v1.6.0/",
                "bucket-backup: aws s3 sync failed (exit 1): fatal error: An error occurred (AccessDenied) when calling the ListObjectsV2 operation: Access Denied",
                "",
            ].join("\n"),
        );
    });

    it("refuses a truncated listing without a token and a token that repeats", async () => {
        const truncated: FakeResponse = { json: { Contents: [], IsTruncated: true } };
        const broken = await runOps(await fakeAws(scenario([truncated])), [...ARGS, "--log", await logFile()]);
        assert.equal(broken.code, 1);
        assert.ok(
            broken.stderr.endsWith(
                "bucket-backup: s3://shop-backups/uploads/v1.6.0/ listing is truncated but has no `NextContinuationToken`\n",
            ),
            broken.stderr,
        );
        const looping = await runOps(await fakeAws(scenario([page("uploads/v1.6.0/", [], "same")])), [...ARGS, "--log", await logFile()]);
        assert.equal(looping.code, 1);
        assert.ok(
            looping.stderr.endsWith(
                "bucket-backup: s3://shop-backups/uploads/v1.6.0/ listing returned the same `NextContinuationToken` twice\n",
            ),
            looping.stderr,
        );
    });

    it("exits 2 on bad arguments without calling aws", async () => {
        const fake = await fakeAws([]);
        const base = ["--app", "shop", "--version", "v1.6.0"];
        const cases: Array<[string[], string]> = [
            [
                ["--source", "shop-uploads", "--target", "shop-backups", ...base],
                "`--target` must be <bucket>/<prefix>: a backup gets a prefix of its own; got `shop-backups`",
            ],
            [
                ["--source", "Shop_Uploads", "--target", "shop-backups/x", ...base],
                "`--source` must be <bucket>[/<prefix>] with a valid bucket name; got `Shop_Uploads`",
            ],
            [
                ["--source", "shop-uploads", "--target", "shop-uploads/backup", ...base],
                "`--target` must not overlap `--source` (s3://shop-uploads/); got `s3://shop-uploads/backup/`",
            ],
            [["--source", "shop-uploads/a", "--target", "shop-backups/x", "--app", "shop", "--version", "1.6"], versionRule("1.6")],
        ];
        for (const [args, message] of cases) {
            const run = await runOps(fake, ["bucket-backup", ...args]);
            assert.equal(run.code, 2, args.join(" "));
            assert.equal(run.stderr, `bucket-backup: ${message}\n`);
        }
        assert.deepEqual(fake.calls(), []);
    });

    describe("verify --id of a bucket record", () => {
        async function recorded(): Promise<{ log: string; record: { id: string; sha256: string } }> {
            const fake = await fakeAws(
                scenario([
                    page("uploads/v1.6.0/", [
                        ["a.jpg", 10, MD5_A],
                        ["b/c.txt", 20000000, MD5_C],
                    ]),
                ]),
            );
            const log = await logFile();
            const run = await runOps(fake, [...ARGS, "--log", log]);
            assert.equal(run.code, 0, run.stderr);
            return { log, record: JSON.parse(run.stdout) };
        }

        const COPY_LISTING = ["s3api", "list-objects-v2", "--bucket", "shop-backups", "--prefix", "uploads/v1.6.0/", "--no-paginate"];

        it("lists the copy again, page by page, and passes when its objects and bytes match the record", async () => {
            const { log, record } = await recorded();
            const fake = await fakeAws([
                {
                    command: "s3api list-objects-v2",
                    when: { "--continuation-token": "c-1" },
                    responses: [page("uploads/v1.6.0/", [["b/c.txt", 20000000, MD5_C]])],
                },
                {
                    command: "s3api list-objects-v2",
                    absent: ["--continuation-token"],
                    responses: [page("uploads/v1.6.0/", [["a.jpg", 10, MD5_A]], "c-1")],
                },
            ]);
            const run = await runOps(fake, ["verify", "--id", record.id, "--log", log]);
            assert.equal(run.code, 0, run.stderr);
            assert.deepEqual(fake.argvs(), [COPY_LISTING, [...COPY_LISTING, "--continuation-token", "c-1"]]);
            const result = JSON.parse(run.stdout);
            assert.ok(Number.isInteger(result.durationMs));
            assert.deepEqual(
                { ...result, durationMs: 0 },
                {
                    ok: true,
                    id: record.id,
                    kind: "bucket",
                    location: "s3://shop-backups/uploads/v1.6.0/",
                    objects: 2,
                    bytes: 20000010,
                    // The copy's multipart object got a plain ETag: its listing hashes differently from the source's.
                    sha256: createHash("sha256").update(`a.jpg\t10\t${MD5_A}\nb/c.txt\t20000000\t${MD5_C}\n`).digest("hex"),
                    expectedSha256: CHECKSUM,
                    problems: [],
                    durationMs: 0,
                },
            );
            assert.equal(run.stderr, "verify: s3://shop-backups/uploads/v1.6.0/: 2 objects, 20000010 bytes\n");
            assert.deepEqual(secretsLeaked(fake, run), []);
        });

        it("fails naming both counts when the copy lost an object", async () => {
            const { log, record } = await recorded();
            const fake = await fakeAws([
                { command: "s3api list-objects-v2", responses: [page("uploads/v1.6.0/", [["a.jpg", 10, MD5_A]])] },
            ]);
            const run = await runOps(fake, ["verify", "--id", record.id, "--log", log]);
            assert.equal(run.code, 1);
            assert.equal(JSON.parse(run.stdout).ok, false);
            assert.equal(
                run.stderr,
                [
                    "verify: s3://shop-backups/uploads/v1.6.0/: 1 objects, 10 bytes",
                    "verify: contents of `s3://shop-backups/uploads/v1.6.0/`: expected 2 objects (20000010 bytes), got 1 objects (10 bytes)",
                    "",
                ].join("\n"),
            );
        });

        it("reports a listing the CLI refuses in one line", async () => {
            const { log, record } = await recorded();
            const fake = await fakeAws([
                {
                    command: "s3api list-objects-v2",
                    responses: [
                        { exit: 254, stderr: "An error occurred (AccessDenied) when calling the ListObjectsV2 operation: Access Denied\n" },
                    ],
                },
            ]);
            const run = await runOps(fake, ["verify", "--id", record.id, "--log", log]);
            assert.deepEqual(
                [run.code, run.stdout, run.stderr],
                [
                    1,
                    "",
                    "verify: aws s3api list-objects-v2 failed (exit 254): An error occurred (AccessDenied) when calling the ListObjectsV2 operation: Access Denied\n",
                ],
            );
        });
    });
});
