import * as path from "path";
import { inspectArchive } from "../archive";
import { findRecord, readLog } from "../backupLog";
import { checksumMismatch, sha256OfFile } from "../checksum";
import { OpsCommand, OpsIO, UsageError } from "../command";
import { checkDumpFile } from "../pg/dump";
import { parseOptions, reported } from "./backup";

const usage = `usage: safe-release-ops verify --file <backup file> [--sha256 <hex>]
       safe-release-ops verify --id <backup id> --log <backup log>

Checks a backup without a server: recomputes its SHA-256 and reads its structure —
pg_restore --list for a .dump (the table of contents), every tar header for a .tar[.gz]
(and, with --id, the file count and bytes of the record). Exits 1 naming the expected
and actual checksum when they differ. Prints the result as JSON on stdout.
SAFE_RELEASE_PG_BIN: directory of pg_restore (else PATH).
`;

const HEX64 = /^[0-9a-f]{64}$/;

export const command: OpsCommand = {
    name: "verify",
    summary: "recompute a backup's checksum and check that its archive reads back",
    usage,
    run: (args: string[], io: OpsIO): Promise<number> =>
        reported("verify", io, async () => {
            const values = parseOptions(args, {
                file: { type: "string" },
                sha256: { type: "string" },
                id: { type: "string" },
                log: { type: "string" },
            });
            const expectation = expectationFrom(values);
            const started = Date.now();
            try {
                const check = await checkFile(expectation.file, io.env);
                const problems: string[] = check.readError !== undefined ? [check.readError] : [];
                if (expectation.sha256 !== undefined && check.sha256 !== expectation.sha256) {
                    problems.push(checksumMismatch(expectation.file, expectation.sha256, check.sha256));
                }
                if (check.files !== undefined && expectation.files !== undefined && (check.files !== expectation.files || check.contentBytes !== expectation.contentBytes)) {
                    problems.push(
                        `contents of \`${expectation.file}\`: expected ${expectation.files} files (${expectation.contentBytes} bytes), got ${check.files} files (${check.contentBytes} bytes)`,
                    );
                }
                for (const problem of problems) io.stderr.write(`verify: ${problem}\n`);
                const result = {
                    ok: problems.length === 0,
                    file: expectation.file,
                    sha256: check.sha256,
                    expectedSha256: expectation.sha256 ?? null,
                    size: check.size,
                    ...(check.entries !== undefined ? { entries: check.entries } : { files: check.files, contentBytes: check.contentBytes }),
                    problems,
                    durationMs: Date.now() - started,
                };
                io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
                return result.ok ? 0 : 1;
            } catch (err) {
                io.stderr.write(`verify: ${(err as Error).message}\n`);
                return 1;
            }
        }),
};

interface Expectation {
    readonly file: string;
    readonly sha256?: string;
    readonly files?: number;
    readonly contentBytes?: number;
}

function expectationFrom(values: Record<string, string | boolean | undefined>): Expectation {
    if (typeof values.id === "string") {
        if (typeof values.log !== "string") throw new UsageError("`--log` must name the backup log that records `--id`; got nothing");
        if (values.file !== undefined || values.sha256 !== undefined) {
            throw new UsageError("`--id` takes its file and checksum from the log: give either `--id` and `--log`, or `--file` [--sha256]");
        }
        const record = findRecord(readLog(values.log), values.id, values.log);
        const counts = record.kind === "directory" ? { files: record.files, contentBytes: record.contentBytes } : {};
        return { file: record.location, sha256: record.sha256, ...counts };
    }
    if (typeof values.file !== "string") throw new UsageError("`--file` (or `--id` with `--log`) must name the backup to verify; got nothing");
    const sha256 = values.sha256 as string | undefined;
    if (sha256 !== undefined && !HEX64.test(sha256)) {
        throw new UsageError(`\`--sha256\` must be 64 lowercase hexadecimal digits; got \`${sha256}\``);
    }
    return { file: path.resolve(values.file), sha256 };
}

interface FileCheck {
    readonly sha256: string;
    readonly size: number;
    readonly entries?: number;
    readonly files?: number;
    readonly contentBytes?: number;
    readonly readError?: string;
}

async function checkFile(file: string, env: NodeJS.ProcessEnv): Promise<FileCheck> {
    if (!/\.tar(\.gz)?$/.test(file)) return checkDumpFile(file, env);
    try {
        return await inspectArchive(file);
    } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") throw err;
        // A damaged archive stops the single pass early; hash it alone so the report still names its checksum.
        const { sha256, bytes } = await sha256OfFile(file);
        return { sha256, size: bytes, readError: `\`${file}\` must be a readable tar archive: ${(err as Error).message}` };
    }
}
