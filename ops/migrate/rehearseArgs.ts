import { UsageError } from "../command";
import { ParsedFlags, parseDuration, parseFlags, requireValue } from "../flags";
import { parseCriticalTables } from "../pg/facts";
import { validateApp, validateDigest, validateVersion } from "../validate";
import { DEFAULT_LOCK_TIMEOUT } from "../commands/migrate";
import { MigrateRequest } from "./runOnce";
import { REHEARSAL_DATABASE_PREFIX } from "../../core/rehearsalDatabase";

export interface RehearseRequest {
    /** Where the dump comes from: a logged backup (`--id`, its store's flags kept for `storeFromFlags`), or the live database. */
    readonly source: { readonly kind: "stored"; readonly id: string; readonly flags: ParsedFlags } | { readonly kind: "live" };
    readonly migrate: MigrateRequest;
    /** Undefined: the tables the backup's facts count. */
    readonly criticalTables?: readonly string[];
    readonly expectChanged: readonly string[];
    readonly migrationsDir?: string;
    /** A fixed scratch name (`sr_rehearse_<app>`) instead of a stamped one: the runner's task was told it in advance. */
    readonly scratchDatabase?: string;
}

const FIXED_SCRATCH = new RegExp(`^${REHEARSAL_DATABASE_PREFIX}[a-z0-9_]{1,${63 - REHEARSAL_DATABASE_PREFIX.length}}$`);

export function parseRehearseArgs(args: readonly string[]): RehearseRequest {
    const flags = parseFlags(args, {
        id: "value",
        store: "value",
        log: "value",
        "from-live": "switch",
        app: "value",
        version: "value",
        digest: "value",
        "critical-tables": "value",
        "expect-changed": "value",
        "migrations-dir": "value",
        "lock-timeout": "value",
        "fix-forward-from": "value",
        "scratch-database": "value",
    });
    const fromLive = flags.switches.has("from-live");
    const id = flags.values.get("id");
    if (fromLive && (id !== undefined || flags.values.has("store") || flags.values.has("log"))) {
        throw new UsageError("`--from-live` dumps the live database itself: give it without `--id`, `--store` or `--log`");
    }
    if (!fromLive && id === undefined) {
        throw new UsageError("`--id` must name the postgres backup to rehearse on (with `--store`), or `--from-live` must be given");
    }
    if (!fromLive && !flags.values.has("store") && !flags.values.has("log")) {
        throw new UsageError("`--store` is required with `--id`: the backup store (or `--log`, the backup log) that records it");
    }
    const key = {
        app: validateApp(requireValue(flags, "app", "the application whose database is migrated")),
        version: validateVersion(requireValue(flags, "version", "the release version being migrated, e.g. v1.5.0")),
        digest: validateDigest(requireValue(flags, "digest", "the image digest of that version")),
    };
    if (flags.rest.length === 0) {
        throw new UsageError("a runner is required after `--`, the same one `migrate` runs, e.g. `-- npx prisma migrate deploy`");
    }
    const fixForward = flags.values.get("fix-forward-from");
    const critical = flags.values.get("critical-tables");
    const dir = flags.values.get("migrations-dir");
    const scratch = flags.values.get("scratch-database");
    if (scratch !== undefined && !FIXED_SCRATCH.test(scratch)) {
        throw new UsageError(
            `\`--scratch-database\` must be a name starting \`${REHEARSAL_DATABASE_PREFIX}\` (lower-case letters, digits, \`_\`; at most 63), ` +
                `which marks a database as the rehearsal's own: a leftover of that name is dropped; got \`${scratch}\``,
        );
    }
    return {
        source: fromLive ? { kind: "live" } : { kind: "stored", id: id!, flags },
        migrate: {
            key,
            lockTimeoutMs: parseDuration(flags.values.get("lock-timeout") ?? DEFAULT_LOCK_TIMEOUT, "--lock-timeout"),
            ...(fixForward !== undefined ? { fixForwardFrom: validateVersion(fixForward, "fix-forward-from") } : {}),
            runner: flags.rest,
        },
        ...(critical !== undefined ? { criticalTables: parseCriticalTables(critical) } : {}),
        expectChanged: parseCriticalTables(flags.values.get("expect-changed")),
        ...(dir !== undefined ? { migrationsDir: dir } : {}),
        ...(scratch !== undefined ? { scratchDatabase: scratch } : {}),
    };
}
