import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Writable } from "stream";
import { findRecord, PostgresBackupRecord, recordHead } from "../../core/backupLog";
import { UsageError } from "../command";
import { dumpFileName, dumpWithFacts, parseDumpCompression } from "../pg/dump";
import { PgTarget } from "../pg/connection";
import { Facts, parseFacts } from "../pg/facts";
import { BackupStore } from "../store/backupStore";
import { localFileSink } from "../store/artifact";

/**
 * The dump a rehearsal restores, on this machine: a logged backup brought from its store
 * (checked against its record's SHA-256 as it arrives), or a dump of the live database
 * taken for the rehearsal alone, which no record names and which is removed after.
 */
export interface RehearsalSource {
    /** The dump's record; its `location` is the local file to restore. */
    readonly record: PostgresBackupRecord;
    readonly facts: Facts | undefined;
    /** How messages name it: `backup shop-v1.4.2-…` or `a dump of shop taken for this rehearsal`. */
    readonly description: string;
    /** Where the dump is kept (what a record names), or, for one taken now, undefined: it is removed after. */
    readonly kept?: string;
    cleanup(): void;
}

export async function storedSource(store: BackupStore, id: string, stderr: Writable): Promise<RehearsalSource> {
    const record = findRecord(await store.records(), id, store.log);
    if (record.kind !== "postgres") {
        throw new UsageError(
            `\`--id\` must name a postgres backup: only a database copy can be migrated; \`${record.id}\` is a ${record.kind} backup`,
        );
    }
    const fetched = await store.fetch(record.location, stderr);
    let facts: Facts | undefined;
    try {
        const text = record.factsLocation === undefined ? undefined : await store.readText(record.factsLocation).catch(() => undefined);
        facts = text === undefined ? undefined : parseFacts(text, record.factsLocation!);
    } catch (err) {
        fetched.cleanup();
        throw err;
    }
    return {
        record: { ...record, location: fetched.file },
        facts,
        description: `backup ${record.id}`,
        kept: record.location,
        cleanup: () => fetched.cleanup(),
    };
}

/**
 * A dump of the live database, in the dump's own snapshot with its facts, into a private
 * temporary directory. Taken while writers still run (pg_dump's snapshot is consistent
 * without stopping them), so the rehearsal never lengthens the write pause; the
 * pre-upgrade backup inside the pause is still the one a restore uses.
 */
export async function liveSource(
    target: PgTarget,
    app: string,
    version: string,
    criticalTables: readonly string[],
    env: NodeJS.ProcessEnv,
    stderr: Writable,
): Promise<RehearsalSource> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "safe-release-rehearse-"));
    const cleanup = () => fs.rmSync(dir, { recursive: true, force: true });
    try {
        const head = recordHead("postgres", app, version, new Date());
        const compression = parseDumpCompression(undefined);
        const file = path.join(dir, dumpFileName(head.id, compression));
        stderr.write(`rehearse: dumping ${target.database} for the rehearsal (writers keep running)\n`);
        const dump = await dumpWithFacts({
            target,
            env,
            sink: localFileSink(file),
            criticalTables: [...criticalTables],
            beforeFirstMigration: true,
            compression,
            stderr,
        });
        const record: PostgresBackupRecord = {
            ...head,
            size: dump.size,
            sha256: dump.sha256,
            location: file,
            factsLocation: `${file}.facts.json`,
            verified: true,
            database: target.database,
        };
        return { record, facts: dump.facts, description: `a dump of ${target.database} taken for this rehearsal`, cleanup };
    } catch (err) {
        cleanup();
        throw err;
    }
}
