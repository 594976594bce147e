import { spawn } from "child_process";
import * as path from "path";
import { pipeline } from "stream/promises";
import { TarCounter } from "../archive";
import { recordHead } from "../../core/backupLog";
import { directoryRecord, recorded } from "../backupRecording";
import { shellQuote } from "../../core/shell";
import { HashingCounter, ProgressMeter } from "../checksum";
import { OpsCommand, OpsIO, UsageError } from "../command";
import { parseFlags, requireValue } from "../flags";
import { ArtifactSink } from "../store/artifact";
import { inspectArchiveStream, sinkStream } from "../store/archiveSink";
import { BackupStore, storeFromFlags } from "../store/backupStore";
import { RecordHead } from "../../core/backupLog";
import { describeTarget, SSH_FLAGS, SSH_MISSING, sshFailure, SshTarget, sshTarget, withSshKey } from "../host/ssh";
import { reported } from "../report";
import { validateApp, validateVersion } from "../validate";

const usage = `usage: safe-release-ops host-archive --host <host> [--port 22] --user <user> --path <data dir on the host>
                        --app <app> --version <vX.Y.Z> --store <dir | s3://bucket/prefix> [--sse-kms-key <key>] [--quiesced]
       (--dir <backup dir> [--log <path>] in place of --store: a directory store whose log may sit elsewhere)

The directory backup of a remote host's data directory (release:host.address): GNU tar on the
host archives --path (sorted names, relative paths) to its stdout, and the archive streams over
SSH into the backup store as <app>-<version>-<stamp>.tar (a directory on THIS machine, or an
S3 prefix, uploaded while it streams, as \`backup\` does), so the backup outlives the host.
Its SHA-256, file count and bytes are taken in the same pass as it is written; then the stored
archive is read back (checksum, tar headers). The store must take a probe object first, and a
killed run's partial file or unfinished upload is removed by the next backup into the store.
The record added to the store's log is a directory backup's, as \`backup --kind directory\` writes it, with
\`host\` (user@host:port) naming where \`source\` is: \`host-restore\` puts it back there.
--quiesced: the writers are stopped; a file that changes during the copy fails the backup.
The private key is read from SAFE_RELEASE_SSH_KEY (as ssh-exec does), never an argument.
`;

export const command: OpsCommand = {
    name: "host-archive",
    summary: "archive a remote host's data directory over SSH into the backup store (a local directory or S3), checksummed, logged",
    usage,
    run: (args: string[], io: OpsIO): Promise<number> =>
        reported("host-archive", io, async () => {
            const flags = parseFlags(args, {
                ...SSH_FLAGS,
                path: "value",
                app: "value",
                version: "value",
                store: "value",
                "sse-kms-key": "value",
                dir: "value",
                log: "value",
                quiesced: "switch",
            });
            const target = sshTarget(flags);
            const source = requireValue(flags, "path", "the data directory on the host");
            if (!path.isAbsolute(source)) throw new UsageError(`\`--path\` must be an absolute path on ${target.host}; got \`${source}\``);
            const app = validateApp(requireValue(flags, "app", "the application being backed up"));
            const version = validateVersion(requireValue(flags, "version", "the release version being backed up for, e.g. v1.5.0"));
            const quiesced = flags.switches.has("quiesced");
            const opened = storeFromFlags(flags, io.env);
            if (opened === undefined || opened.given === "log") {
                throw new UsageError(
                    "`--store` is required: the backup store that receives the archive, a directory or s3://<bucket>/<prefix> (or `--dir`)",
                );
            }
            const store = opened.store;
            try {
                return await archiveHost(store, target, source, recordHead("directory", app, version, new Date()), quiesced, io);
            } finally {
                store.close();
            }
        }),
};

async function archiveHost(
    store: BackupStore,
    target: SshTarget,
    source: string,
    head: RecordHead<"directory">,
    quiesced: boolean,
    io: OpsIO,
): Promise<number> {
    // Before the copy, which runs inside the write pause: a store that cannot take the archive wastes it.
    await store.prepare("host-archive", io.stderr);
    const name = `${head.id}.tar`;
    const file = store.artifactLocation(name);
    io.stderr.write(
        `archiving ${source} on ${describeTarget(target)} to ${file}${quiesced ? " (writers stopped)" : " (live: crash-consistent at best)"}\n`,
    );
    const sink = await store.artifactSink(name, io.stderr);
    const archive = await withSshKey("host-archive", target, io.env, (session) =>
        streamArchive(target, source, sink, quiesced, session.argv(remoteTar(source, target.host)), session.env, io),
    ).catch(async (err) => {
        await sink.abort();
        throw err;
    });
    if (archive === undefined) return 1;
    const verified = await readBack(store, file, archive, io);
    const record = { ...directoryRecord(head, archive, { file, source, verified, quiesced }), host: describeTarget(target) };
    if (!(await recorded("host-archive", store, record, io))) return 1;
    io.stdout.write(`${JSON.stringify(record, null, 2)}\n`);
    return verified ? 0 : 1;
}

/** The host's shell line: a missing directory is named, not left to tar's wording; `exec` so tar's exit code is ssh's. */
function remoteTar(source: string, host: string): string {
    const missing = `host-archive: ${source} is not a directory on ${host}; \`release:backup.directory\` must name the data directory there`;
    return `test -d ${shellQuote([source])} || { printf '%s\\n' ${shellQuote([missing])} >&2; exit 3; }; exec tar --sort=name -C ${shellQuote([source])} -cf - .`;
}

interface Streamed {
    readonly sha256: string;
    readonly size: number;
    readonly files: number;
    readonly contentBytes: number;
}

async function streamArchive(
    target: SshTarget,
    source: string,
    sink: ArtifactSink,
    quiesced: boolean,
    argv: string[],
    env: NodeJS.ProcessEnv,
    io: OpsIO,
): Promise<Streamed | undefined> {
    // The sink holds it apart until whole, as `backup` does: a backup killed part-way leaves nothing a record could name.
    const meter = new ProgressMeter("archived", io.stderr);
    const counter = new TarCounter();
    const hash = new HashingCounter((bytes) => meter.update(bytes));
    const child = spawn("ssh", argv, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    // Keep the tail: the cause of a failure is printed last.
    child.stderr.on("data", (chunk) => (stderr = (stderr + chunk).slice(-8000)));
    const exited = new Promise<number>((resolve, reject) => {
        child.once("error", reject);
        child.once("close", (code, signal) => resolve(code ?? (signal !== null ? 128 : 1)));
    });
    const written = pipeline([child.stdout, counter, hash, sinkStream(sink)]);
    const [exit, stream] = await Promise.allSettled([exited, written]);
    const failure = async (message: string) => {
        await sink.abort();
        io.stderr.write(`backup: ${message}\n`);
        return undefined;
    };
    if (exit.status === "rejected") {
        const err = exit.reason as NodeJS.ErrnoException;
        return await failure(err.code === "ENOENT" ? SSH_MISSING : `could not start ssh: ${err.message}`);
    }
    // The exit code first: a tar that failed on the host also leaves a stream too short to read.
    const code = exit.value;
    if (code !== 0 && !(code === 1 && !quiesced)) {
        const why = sshFailure(target, code) ?? `tar of ${source} on ${describeTarget(target)} exited ${code}`;
        return await failure(`${why}: ${stderr.trim()}${code === 1 ? " (files changed while the writers were said to be stopped)" : ""}`);
    }
    if (stream.status === "rejected")
        return await failure(`the archive streamed from ${describeTarget(target)}: ${(stream.reason as Error).message}`);
    if (code === 1) io.stderr.write(`warning: files changed while being archived (copy is crash-consistent at best): ${stderr.trim()}\n`);
    meter.finish(hash.bytes);
    const sha256 = hash.digest();
    try {
        await sink.commit({ sha256, bytes: hash.bytes });
    } catch (err) {
        return await failure(`the archive streamed from ${describeTarget(target)} could not be stored: ${(err as Error).message}`);
    }
    return { sha256, size: hash.bytes, files: counter.files, contentBytes: counter.contentBytes };
}

/** The record says `verified` only if the written file hashes to what was streamed and its headers list what was counted. */
async function readBack(store: BackupStore, file: string, streamed: Streamed, io: OpsIO): Promise<boolean> {
    const started = Date.now();
    try {
        const check = await inspectArchiveStream(await store.read(file), "none");
        if (check.sha256 !== streamed.sha256) {
            throw new Error(`checksum of the written file is ${check.sha256}, ${streamed.sha256} was streamed`);
        }
        if (check.files !== streamed.files || check.contentBytes !== streamed.contentBytes) {
            throw new Error(
                `archive lists ${check.files} files (${check.contentBytes} bytes); ${streamed.files} (${streamed.contentBytes}) were streamed`,
            );
        }
        io.stderr.write(`verified (checksum read back, archive readable) in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
        return true;
    } catch (err) {
        io.stderr.write(`backup: verification failed: ${(err as Error).message}\n`);
        return false;
    }
}
