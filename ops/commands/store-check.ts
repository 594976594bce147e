import { OpsCommand, OpsIO, UsageError } from "../command";
import { parseFlags } from "../flags";
import { reported } from "../report";
import { storeFromFlags } from "../store/backupStore";

const usage = `usage: safe-release-ops store-check --store <dir | s3://bucket/prefix> [--sse-kms-key <key>]
       (--dir <backup dir> [--log <path>] in place of --store: a directory store whose log may sit elsewhere)

Checks that the backup store takes a backup, before anything depends on it (the program runs
it in preflight, before any writer stops): writes a probe object (S3: <prefix>/store-check/…,
put with If-None-Match: * and the encryption a backup uses, aws:kms with --sse-kms-key else
AES256; a directory: a partial file in it, and its backups.log must be appendable), reads it
back, compares, and deletes it. Prints {"store", "ok", "probe", "bytes"} as JSON on stdout.
exit status: 0 the store took the probe, 1 it refused (the message names the store and the
cause), 2 usage error. AWS settings as for backup.
`;

export const command: OpsCommand = {
    name: "store-check",
    summary: "check that a backup store (directory or s3://bucket/prefix) takes a backup: write, read back, delete a probe",
    usage,
    run: (args: string[], io: OpsIO): Promise<number> =>
        reported("store-check", io, async () => {
            const flags = parseFlags(args, { store: "value", "sse-kms-key": "value", dir: "value", log: "value" });
            // A bare `--log` names records only: a backup needs the directory its artifacts go to.
            const opened = flags.values.has("store") || flags.values.has("dir") ? storeFromFlags(flags, io.env) : undefined;
            if (opened === undefined) {
                throw new UsageError(
                    "`--store` is required: the backup store to check, a directory or s3://<bucket>/<prefix> (or `--dir`)",
                );
            }
            const { store } = opened;
            try {
                const { probe, bytes } = await store.probe();
                io.stderr.write(`store-check: ${store.url} took a probe of ${bytes} bytes (written, read back, deleted)\n`);
                io.stdout.write(`${JSON.stringify({ store: store.url, ok: true, probe, bytes }, null, 2)}\n`);
                return 0;
            } finally {
                store.close();
            }
        }),
};
