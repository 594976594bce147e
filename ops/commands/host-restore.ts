import * as fs from "fs";
import { DirectoryBackupRecord, findRecord } from "../../core/backupLog";
import { shellQuote } from "../../core/shell";
import { checksumMismatch, runChild } from "../checksum";
import { OpsCommand, OpsIO, UsageError } from "../command";
import { parseFlags, requireValue } from "../flags";
import { describeTarget, SSH_FLAGS, SSH_MISSING, sshFailure, SshTarget, sshTarget, withSshKey } from "../host/ssh";
import { describeTarget as describeDatabase, PgTarget, redactor } from "../pg/connection";
import { checkLedgerReachable, LedgerOutcome, markLedgerAfterRestore } from "../pg/ledgerAfterRestore";
import { ledgerTarget } from "../pg/ledgers";
import { reported } from "../report";
import { BackupStore, storeFromFlags } from "../store/backupStore";
import { command as restore, NO_STORE } from "./restore";

const usage = `usage: safe-release-ops host-restore --host <host> [--port 22] --user <user> --agent <dir on the host>
                        --id <backup id> --store <dir | s3://bucket/prefix> [--drill]
       (--log <backup log> in place of --store: a directory store's log)

Restores a logged backup for a remote host (release:host.address). A directory backup that
\`host-archive\` took there (its record's \`host\`) streams from this machine over SSH to the host
agent (<agent>/ops/hostAgent.js host-unpack) — from an S3 store it is downloaded here first, its
SHA-256 checked as it arrives — which extracts it beside the recorded \`source\`,
checks its SHA-256, file count and bytes against the record, and only then swaps it in (the
old directory kept as <source>.pre-restore-<stamp>). A record of another host is refused. Any
other record (a pg_dump, or a directory of this machine) is restored by \`restore\` here.
The migration ledger is then brought in line with the restored data as \`restore\` does it
(SAFE_RELEASE_LEDGER_URL, else DATABASE_URL; checked reachable before anything is touched).
The private key is read from SAFE_RELEASE_SSH_KEY, never an argument.
`;

export const command: OpsCommand = {
    name: "host-restore",
    summary: "restore a remote host's directory backup over SSH (checksum checked on the host, then swapped in); others by restore",
    usage,
    run: (args: string[], io: OpsIO): Promise<number> =>
        reported("host-restore", io, async () => {
            const flags = parseFlags(args, { ...SSH_FLAGS, agent: "value", id: "value", store: "value", log: "value", drill: "switch" });
            const target = sshTarget(flags);
            const agent = requireValue(flags, "agent", "the host agent's directory (<root>/agent)");
            const id = requireValue(flags, "id", "the id of a backup in the store");
            const opened = storeFromFlags(flags, io.env);
            if (opened === undefined) throw new UsageError(NO_STORE);
            const where = flags.values.has("store") ? ["--store", flags.values.get("store")!] : ["--log", flags.values.get("log")!];
            const drill = flags.switches.has("drill");
            const { store } = opened;
            let record: ReturnType<typeof findRecord> & { host?: string };
            try {
                record = findRecord(await store.records(), id, store.log);
            } catch (err) {
                store.close();
                throw err;
            }
            if (record.kind !== "directory" || record.host === undefined) {
                store.close();
                return restore.run(["--id", id, ...where, ...(drill ? ["--drill"] : [])], io);
            }
            try {
                return await restoreOnHost(target, agent, store, record as DirectoryBackupRecord & { host: string }, drill, io);
            } finally {
                store.close();
            }
        }),
};

async function restoreOnHost(
    target: SshTarget,
    agent: string,
    store: BackupStore,
    record: DirectoryBackupRecord & { host: string },
    drill: boolean,
    io: OpsIO,
): Promise<number> {
    const id = record.id;
    if (record.host !== describeTarget(target)) {
        throw new UsageError(`\`--id\` must name a backup of ${describeTarget(target)}; \`${id}\` is of ${record.host}'s ${record.source}`);
    }
    if (store.location.kind === "directory" && !fs.existsSync(record.location)) {
        throw new Error(`backup \`${id}\` must be at \`${record.location}\` (its \`location\`); the file is missing`);
    }
    // The host checks the SHA-256 again as it unpacks; a download's is checked here first, before anything is sent.
    const fetched = await store.fetch(record.location, io.stderr);
    try {
        if (fetched.sha256 !== record.sha256) {
            io.stderr.write(`host-restore: ${checksumMismatch(record.location, record.sha256, fetched.sha256)}\n`);
            io.stderr.write(`host-restore: failed; ${record.source} on ${record.host} was not touched\n`);
            io.stdout.write(`${JSON.stringify({ id, kind: record.kind, host: record.host, drill, ok: false }, null, 2)}\n`);
            return 1;
        }
        return await unpackOnHost(target, agent, { ...record, location: fetched.file }, drill, io);
    } finally {
        fetched.cleanup();
    }
}

async function unpackOnHost(
    target: SshTarget,
    agent: string,
    record: DirectoryBackupRecord & { host: string },
    drill: boolean,
    io: OpsIO,
): Promise<number> {
    const id = record.id;
    const ledger = ledgerTarget(io.env);
    if (ledger !== undefined && !drill) await checkLedgerReachable(ledger);
    const started = Date.now();
    io.stderr.write(`restoring ${id} to ${record.source} on ${record.host}${drill ? " (drill)" : ""}\n`);
    const unpacked = await withSshKey("host-restore", target, io.env, (session) =>
        sendArchive(target, record, session.argv(unpackLine(agent, target.host, record, drill), { stdin: true }), session.env, io),
    );
    if (!unpacked.ok) io.stderr.write(`host-restore: failed; ${record.source} on ${record.host} was not touched\n`);
    const result = unpacked.ok ? await withLedger(unpacked, record, ledger, drill, io) : unpacked;
    const printed = { id, kind: record.kind, host: record.host, drill, ...result, totalMs: Date.now() - started };
    io.stdout.write(`${JSON.stringify(printed, null, 2)}\n`);
    return result.ok === true ? 0 : 1;
}

/** The host's shell line: without Node.js the agent cannot run, which is said rather than `node: not found`. */
function unpackLine(agent: string, host: string, record: DirectoryBackupRecord, drill: boolean): string {
    const script = `${agent}/ops/hostAgent.js`;
    const noNode = `host-restore: the restore unpacks with node ${script} on ${host}, which has no node; install Node.js 20 or newer there`;
    const argv = [
        "node",
        script,
        "host-unpack",
        "--target",
        record.source,
        "--sha256",
        record.sha256,
        "--files",
        String(record.files),
        "--bytes",
        String(record.contentBytes),
        ...(drill ? ["--drill"] : []),
    ];
    return `command -v node >/dev/null 2>&1 || { printf '%s\\n' ${shellQuote([noNode])} >&2; exit 127; }; exec ${shellQuote(argv)}`;
}

type Unpacked = Record<string, unknown> & { ok: boolean };

async function sendArchive(
    target: SshTarget,
    record: DirectoryBackupRecord,
    argv: string[],
    env: NodeJS.ProcessEnv,
    io: OpsIO,
): Promise<Unpacked> {
    let outcome: { code: number; stdout: string; stderr: string };
    try {
        outcome = await runChild({
            command: "ssh",
            label: `host-unpack on ${describeTarget(target)}`,
            args: argv,
            env,
            input: [fs.createReadStream(record.location, { highWaterMark: 4 * 1024 * 1024 })],
            // host-unpack's own failures (1: a checksum or count difference) print their result; they are read below.
            tolerated: [1],
        });
    } catch (err) {
        const error = err as NodeJS.ErrnoException;
        const exit = /exited (\d+):/.exec(error.message)?.[1];
        const explained = exit !== undefined ? sshFailure(target, Number(exit)) : undefined;
        const message = error.code === "ENOENT" ? SSH_MISSING : explained !== undefined ? `${explained}: ${error.message}` : error.message;
        io.stderr.write(`host-restore: ${message}\n`);
        return { ok: false, error: message };
    }
    io.stderr.write(outcome.stderr);
    try {
        return JSON.parse(outcome.stdout) as Unpacked;
    } catch {
        return { ok: false, error: `host-unpack on ${describeTarget(target)} printed no result (exit ${outcome.code})` };
    }
}

/** As `restore` does after a swap: the runs that started after the backup are marked `restored_by` it, so they migrate again. */
async function withLedger(
    unpacked: Unpacked,
    record: DirectoryBackupRecord,
    ledger: PgTarget | undefined,
    drill: boolean,
    io: OpsIO,
): Promise<Unpacked> {
    const skipped = (note: string): Unpacked => {
        io.stderr.write(`host-restore: ledger: ${note}\n`);
        return { ...unpacked, ledger: { database: ledger ? describeDatabase(ledger) : null, marked: [], note } satisfies LedgerOutcome };
    };
    if (drill) return skipped("a drill leaves the migration ledger as it is");
    if (ledger === undefined) {
        return skipped("no SAFE_RELEASE_LEDGER_URL or DATABASE_URL: no migration ledger to bring in line with the restored data");
    }
    try {
        const outcome = await markLedgerAfterRestore(ledger, { id: record.id, app: record.app, time: record.time }, undefined, io.stderr);
        return { ...unpacked, ledger: outcome };
    } catch (err) {
        const error =
            `the data was restored on the host, but the migration ledger at ${describeDatabase(ledger)} could not be marked: ` +
            `${redactor(ledger)((err as Error).message)}. Until it is, a release of a version that ran after the backup skips its ` +
            "migration: run the update again (the restore runs again from the same backup, then marks the ledger)";
        io.stderr.write(`host-restore: ${error}\n`);
        return { ...unpacked, ok: false, error };
    }
}
