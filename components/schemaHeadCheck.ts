import * as pulumi from "@pulumi/pulumi";
import {
    LEDGER_CONNECT_TIMEOUT_MS,
    LedgerHead,
    LedgerReadError,
    MIGRATION_LEDGER,
    ledgerConnection,
    readLedgerHead,
} from "../core/ledgerHead";
import { compareTags } from "../core/releaseTags";
import { ConfigError } from "../settings/checks";
import { LastRelease } from "./plan";

/**
 * The migration ledger is the truth of the schema head, the stack outputs a cache
 * of it: an update that migrated and then failed records no outputs, a restore or
 * a migration done by hand bypasses them. Before the planner trusts the outputs'
 * `schemaHead`, the program reads the ledger where it can and stops on a disagreement.
 */

export interface SchemaHeadCheckArgs {
    readonly app: string;
    /** `release:databaseUrl` as plain text; undefined where the stack sets none. */
    readonly databaseUrl?: string;
    /** `release:acceptSchemaHead`: set to the ledger's head, the operator's word to plan from the ledger. */
    readonly acceptSchemaHead?: string;
    /** `release:restoreFrom`: a restore this update runs replaces the schema head, so a disagreement only gets a note. */
    readonly restoreFrom?: string;
    /** Where the notes go. @default pulumi.log */
    readonly log?: SchemaHeadLog;
    /** @default LEDGER_CONNECT_TIMEOUT_MS (3 s) */
    readonly connectTimeoutMs?: number;
}

export interface SchemaHeadLog {
    info(message: string): void;
    warn(message: string): void;
}

/** The offline plan and the mocked tests evaluate the program where no database is: they turn the read off. */
let ledgerReads = true;
export function skipLedgerRead(): void {
    ledgerReads = false;
}

/**
 * `last` as the planner should see it: unchanged where the ledger agrees or cannot be
 * read (said in a note), its `schemaHead` the ledger's where `release:acceptSchemaHead`
 * names that head (said in a warning). Any other disagreement throws a `ConfigError`.
 */
export async function checkSchemaHead(last: LastRelease, args: SchemaHeadCheckArgs): Promise<LastRelease> {
    return ledgerReads ? checkAgainstLedger(last, args) : last;
}

/** The check itself, whatever `skipLedgerRead` said (the tests call it in the same process as the plan's). */
export async function checkAgainstLedger(last: LastRelease, args: SchemaHeadCheckArgs): Promise<LastRelease> {
    const log = args.log ?? { info: (m: string) => void pulumi.log.info(m), warn: (m: string) => void pulumi.log.warn(m) };
    const fromOutputs = `schema head ${shown(last.schemaHead)} taken from the stack outputs`;
    if (args.databaseUrl === undefined || args.databaseUrl === "") {
        log.info(`${fromOutputs}: \`release:databaseUrl\` is not set, so the migration ledger was not read`);
        return last;
    }
    let ledger: LedgerHead;
    let where: string;
    try {
        where = ledgerConnection(args.databaseUrl).where;
        ledger = await readLedgerHead(args.databaseUrl, args.app, args.connectTimeoutMs ?? LEDGER_CONNECT_TIMEOUT_MS);
    } catch (err) {
        if (!(err instanceof LedgerReadError)) throw err;
        // Unreachable is the normal case of a preview run away from the database; any other failure may hide a disagreement.
        (err.kind === "unreachable" ? log.info : log.warn)(`${fromOutputs}: ${err.message}`);
        return last;
    }
    return reconcile(last, ledger, args, where, log);
}

/** The decision alone, given what the ledger said. */
export function reconcile(
    last: LastRelease,
    ledger: LedgerHead,
    args: SchemaHeadCheckArgs,
    where: string,
    log: SchemaHeadLog,
): LastRelease {
    const head = ledger.state === "head" ? ledger.version : undefined;
    if (head === last.schemaHead) return last;
    // A restore this update runs puts the schema back to its backup's, whatever either says now (an update that
    // migrated and then failed is exactly what it repairs); the planner checks the backup itself.
    if (args.restoreFrom !== undefined && last.restoredFrom !== args.restoreFrom) {
        const backupHead = last.backups?.find((b) => b.id === args.restoreFrom)?.schemaHead;
        log.info(
            `the migration ledger at ${where} says the schema head is ${shown(head)}; the stack output schemaHead says ${shown(last.schemaHead)}; ` +
                `this update restores backup ${args.restoreFrom}, which puts the schema back to ${shown(backupHead)}`,
        );
        return last;
    }
    if (head !== undefined && args.acceptSchemaHead === head) {
        log.warn(
            `schema head ${head} taken from the migration ledger at ${where}, as \`release:acceptSchemaHead: ${head}\` says; ` +
                `the stack output schemaHead says ${shown(last.schemaHead)} (this update records ${head})`,
        );
        return { ...last, schemaHead: head };
    }
    throw new ConfigError(disagreement(last.schemaHead, ledger, args.app, where));
}

function disagreement(recorded: string | undefined, ledger: LedgerHead, app: string, where: string): string {
    const said =
        ledger.state === "head"
            ? `says the schema head of \`${app}\` is ${ledger.version}`
            : ledger.state === "no-ledger"
              ? "does not exist (no migration ever ran in that database)"
              : `holds no succeeded migration of \`${app}\` that a restore did not undo`;
    const facts = `the migration ledger \`${MIGRATION_LEDGER}\` at ${where} ${said}; the stack output schemaHead says ${shown(recorded)}`;
    const check = `compare \`pulumi stack output schemaHead\` with the ledger (\`SELECT version, status, finished_at, restored_by FROM ${MIGRATION_LEDGER} WHERE app = '${app}'\`)`;
    if (ledger.state !== "head") {
        return (
            `${facts}. Either \`release:databaseUrl\` names another database than the one the stack migrated (correct it), ` +
            `or the database was restored to before its first migration (name that backup in \`release:restoreFrom\`); ${check}`
        );
    }
    const head = ledger.version;
    if (recorded === undefined || compareTags(head, recorded) > 0) {
        return (
            `${facts}. ${head}'s migration ran without an update recording it: an update that migrated and then failed, ` +
            `or a migration run by hand. If the ledger is right, set \`release:acceptSchemaHead: ${head}\` (the schema the live versions run on) ` +
            `and run the update again; if its row was added by hand, remove it; ${check}`
        );
    }
    return (
        `${facts}. The database no longer holds ${recorded}'s migration: a restore done by hand (a restore marks the runs it undid \`restored_by\`), ` +
        `or an edited ledger. If a backup was restored, name it in \`release:restoreFrom\` so the update restores it again, verifies it and records its schema head; ` +
        `if the ledger is right otherwise, set \`release:acceptSchemaHead: ${head}\`; ${check}`
    );
}

function shown(head: string | undefined): string {
    return head ?? "nothing (no schema head recorded)";
}

/** The plain text of a secret config value, for the one read that needs it before any resource exists. */
export function plainSecret(value: pulumi.Output<string> | undefined): Promise<string | undefined> {
    if (value === undefined) return Promise.resolve(undefined);
    return new Promise((resolve) => value.apply((text) => resolve(text)));
}
