import { strict as assert } from "assert";
import * as net from "net";
import { ConfigError } from "../settings/checks";
import { LastRelease } from "../components/plan";
import { SchemaHeadLog, checkAgainstLedger } from "../components/schemaHeadCheck";
import { MIGRATION_LEDGER, headOfRows, readLedgerHead } from "../core/ledgerHead";
import { ensureToolLedger, markRestoredAway, recordRunEnd, recordRunStart } from "../ops/pg/ledgers";
import { connect, parseDatabaseUrl } from "../ops/pg/connection";
import { atTestEnd, freePort } from "./support/processes";
import { TestPostgres, testPostgres } from "./support/postgres";

/** Trust auth ignores it, so it travels in every URL here and must show up in no message. */
const PASSWORD = "Ledger-S3cret-do-not-print";
const DIGEST = `sha256:${"c".repeat(64)}`;

/** Log lines as the program would emit them, by level. */
class RecordingLog implements SchemaHeadLog {
    readonly lines: string[] = [];
    info = (message: string) => void this.lines.push(`info: ${message}`);
    warn = (message: string) => void this.lines.push(`warn: ${message}`);
}

describe("schema head: the migration ledger is the truth, the outputs a cache (real PostgreSQL)", function () {
    this.timeout(60000);
    let pg: TestPostgres;
    let db: string;
    let url: string;
    let where: string;

    /** Runs a migration of `version` through the ops ledger functions, as `safe-release-ops migrate` records it. */
    async function migrated(version: string, status: "succeeded" | "failed", app = "shop"): Promise<void> {
        const client = await connect(parseDatabaseUrl(url));
        try {
            await ensureToolLedger(client);
            const key = { app, version, digest: DIGEST };
            await recordRunStart(client, key);
            await recordRunEnd(client, key, { status, exitCode: status === "succeeded" ? 0 : 1, logTail: "" });
        } finally {
            await client.end();
        }
    }

    async function check(last: LastRelease, extra: { acceptSchemaHead?: string; restoreFrom?: string } = {}) {
        const log = new RecordingLog();
        const result = await checkAgainstLedger(last, { app: "shop", databaseUrl: url, log, ...extra });
        return { result, lines: log.lines };
    }

    before(async () => {
        pg = await testPostgres();
        db = await pg.createDatabase("schema_head");
        url = `postgresql://${pg.user}:${PASSWORD}@${pg.host}:${pg.port}/${db}`;
        where = `${pg.host}:${pg.port}/${db}`;
    });

    describe("reading the ledger's head", () => {
        it("no table yet: no ledger", async () => {
            assert.deepEqual(await readLedgerHead(url, "shop"), { state: "no-ledger" });
        });

        it("a table without a succeeded run of the app: no run; a failed run and another app's run do not count", async () => {
            await migrated("v1.4.2", "failed");
            await migrated("v9.0.0", "succeeded", "other");
            assert.deepEqual(await readLedgerHead(url, "shop"), { state: "no-run" });
        });

        it("the newest succeeded run by SemVer (v1.10.0 after v1.9.0), not a newer failed one", async () => {
            await pg.psql(db, `DELETE FROM ${MIGRATION_LEDGER} WHERE app = 'shop'`);
            await migrated("v1.9.0", "succeeded");
            await migrated("v1.10.0", "succeeded");
            await migrated("v1.11.0", "failed");
            assert.deepEqual(await readLedgerHead(url, "shop"), { state: "head", version: "v1.10.0" });
        });

        it("a run a restore undid (`restored_by`) no longer counts", async () => {
            const client = await connect(parseDatabaseUrl(url));
            try {
                // Just before v1.10.0's run started, as a backup taken then records its time.
                const before = await pg.psql(
                    db,
                    `SELECT to_json(started_at - interval '1 microsecond') #>> '{}' FROM ${MIGRATION_LEDGER} WHERE version = 'v1.10.0'`,
                );
                const undone = await markRestoredAway(client, { id: "shop-v1.10.0-backup", app: "shop", time: before });
                assert.deepEqual(
                    undone.map((r) => [r.version, r.restoredBy]),
                    [
                        ["v1.10.0", "shop-v1.10.0-backup"],
                        ["v1.11.0", "shop-v1.10.0-backup"],
                    ],
                );
            } finally {
                await client.end();
            }
            assert.deepEqual(await readLedgerHead(url, "shop"), { state: "head", version: "v1.9.0" });
        });

        it("a ledger from before restore marks (no `restored_by` column) reads too", async () => {
            const old = await pg.createDatabase("schema_head_old");
            await pg.psql(
                old,
                `CREATE TABLE ${MIGRATION_LEDGER} (app text, version text, image_digest text, status text);
                 INSERT INTO ${MIGRATION_LEDGER} VALUES ('shop', 'v1.2.0', 'd', 'succeeded'), ('shop', 'v1.3.0', 'd', 'running');`,
            );
            const oldUrl = `postgresql://${pg.user}:${PASSWORD}@${pg.host}:${pg.port}/${old}`;
            assert.deepEqual(await readLedgerHead(oldUrl, "shop"), { state: "head", version: "v1.2.0" });
        });

        it("ignores a row whose version is no release tag (a hand edit cannot be ordered)", () => {
            const rows = [
                { version: "v1.4.2", status: "succeeded" },
                { version: "1.9.0", status: "succeeded" },
                { version: "v1.5.0", status: "succeeded", restored_by: "b" },
            ];
            assert.equal(headOfRows(rows), "v1.4.2");
        });
    });

    describe("the check before the planner", () => {
        // From here the ledger's head is v1.9.0 (v1.10.0 and v1.11.0 were restored away).
        it("agreeing: the outputs pass unchanged and nothing is said", async () => {
            const last = { version: "v1.9.0", schemaHead: "v1.9.0" };
            const { result, lines } = await check(last);
            assert.equal(result, last);
            assert.deepEqual(lines, []);
        });

        it("a newer ledger (an update migrated, then failed) stops the update, naming both heads and what to do", async () => {
            await assert.rejects(check({ version: "v1.8.0", schemaHead: "v1.8.0" }), (err: Error) => {
                assert.ok(err instanceof ConfigError);
                assert.equal(
                    err.message,
                    `the migration ledger \`safe_release_migrations\` at ${where} says the schema head of \`shop\` is v1.9.0; ` +
                        "the stack output schemaHead says v1.8.0. v1.9.0's migration ran without an update recording it: " +
                        "an update that migrated and then failed, or a migration run by hand. " +
                        "If the ledger is right, set `release:acceptSchemaHead: v1.9.0` (the schema the live versions run on) and run the update again; " +
                        "if its row was added by hand, remove it; compare `pulumi stack output schemaHead` with the ledger " +
                        "(`SELECT version, status, finished_at, restored_by FROM safe_release_migrations WHERE app = 'shop'`)",
                );
                assert.ok(!err.message.includes(PASSWORD));
                return true;
            });
        });

        it("an older ledger (a restore done by hand) stops the update, pointing at `release:restoreFrom`", async () => {
            await assert.rejects(check({ version: "v1.10.0", schemaHead: "v1.10.0" }), {
                message:
                    `the migration ledger \`safe_release_migrations\` at ${where} says the schema head of \`shop\` is v1.9.0; ` +
                    "the stack output schemaHead says v1.10.0. The database no longer holds v1.10.0's migration: " +
                    "a restore done by hand (a restore marks the runs it undid `restored_by`), or an edited ledger. " +
                    "If a backup was restored, name it in `release:restoreFrom` so the update restores it again, verifies it and records its schema head; " +
                    "if the ledger is right otherwise, set `release:acceptSchemaHead: v1.9.0`; compare `pulumi stack output schemaHead` with the ledger " +
                    "(`SELECT version, status, finished_at, restored_by FROM safe_release_migrations WHERE app = 'shop'`)",
            });
        });

        it("`release:acceptSchemaHead` at the ledger's head: the ledger's head is planned from, and the warning says so", async () => {
            const { result, lines } = await check({ version: "v1.8.0", schemaHead: "v1.8.0" }, { acceptSchemaHead: "v1.9.0" });
            assert.deepEqual(result, { version: "v1.8.0", schemaHead: "v1.9.0" });
            assert.deepEqual(lines, [
                `warn: schema head v1.9.0 taken from the migration ledger at ${where}, as \`release:acceptSchemaHead: v1.9.0\` says; ` +
                    "the stack output schemaHead says v1.8.0 (this update records v1.9.0)",
            ]);
        });

        it("`release:restoreFrom` this update runs: the restore replaces both heads, so the disagreement is a note only", async () => {
            // The e2e case: a release migrated to v1.9.0, its smoke test failed, and its backup (of v1.8.0) is restored.
            const backup = { id: "shop-v1.9.0-backup", schemaHead: "v1.8.0" };
            const last = { version: "v1.8.0", schemaHead: "v1.8.0", backups: [backup] };
            const { result, lines } = await check(last, { restoreFrom: backup.id });
            assert.equal(result, last);
            assert.deepEqual(lines, [
                `info: the migration ledger at ${where} says the schema head is v1.9.0; the stack output schemaHead says v1.8.0; ` +
                    "this update restores backup shop-v1.9.0-backup, which puts the schema back to v1.8.0",
            ]);
        });

        it("`release:restoreFrom` of a restore already recorded: a ledger that moved on since stops the update", async () => {
            const backup = { id: "shop-v1.8.0-backup", schemaHead: "v1.8.0" };
            const last = { version: "v1.8.0", schemaHead: "v1.8.0", backups: [backup], restoredFrom: backup.id };
            await assert.rejects(check(last, { restoreFrom: backup.id }), (err: Error) => {
                assert.ok(err instanceof ConfigError);
                assert.ok(
                    err.message.startsWith(
                        `the migration ledger \`safe_release_migrations\` at ${where} says the schema head of \`shop\` is v1.9.0; `,
                    ),
                );
                return true;
            });
        });

        it("no ledger in the database the URL names, while the outputs have a head: stops, naming the database", async () => {
            const other = await pg.createDatabase("schema_head_empty");
            const log = new RecordingLog();
            const otherUrl = `postgresql://${pg.user}:${PASSWORD}@${pg.host}:${pg.port}/${other}`;
            await assert.rejects(checkAgainstLedger({ schemaHead: "v1.9.0" }, { app: "shop", databaseUrl: otherUrl, log }), {
                message:
                    `the migration ledger \`safe_release_migrations\` at ${pg.host}:${pg.port}/${other} does not exist (no migration ever ran in that database); ` +
                    "the stack output schemaHead says v1.9.0. Either `release:databaseUrl` names another database than the one the stack migrated (correct it), " +
                    "or the database was restored to before its first migration (name that backup in `release:restoreFrom`); " +
                    "compare `pulumi stack output schemaHead` with the ledger " +
                    "(`SELECT version, status, finished_at, restored_by FROM safe_release_migrations WHERE app = 'shop'`)",
            });
        });
    });

    describe("where the ledger cannot be read, the outputs are planned from and the note says so", () => {
        const last = { version: "v1.4.2", schemaHead: "v1.4.2" };

        async function noted(databaseUrl: string | undefined, connectTimeoutMs?: number): Promise<string[]> {
            const log = new RecordingLog();
            const result = await checkAgainstLedger(last, {
                app: "shop",
                databaseUrl,
                log,
                ...(connectTimeoutMs ? { connectTimeoutMs } : {}),
            });
            assert.equal(result, last);
            for (const line of log.lines) assert.ok(!line.includes(PASSWORD), line);
            return log.lines;
        }

        it("a closed loopback port: connection refused", async () => {
            const port = await freePort();
            assert.deepEqual(await noted(`postgresql://shop:${PASSWORD}@127.0.0.1:${port}/shop`), [
                `info: schema head v1.4.2 taken from the stack outputs: the migration ledger at 127.0.0.1:${port}/shop could not be read (connection refused)`,
            ]);
        });

        it("a server that accepts and never answers: no answer within the connect timeout", async () => {
            const silent = net.createServer(() => undefined);
            const sockets = new Set<net.Socket>();
            silent.on("connection", (socket) => sockets.add(socket));
            await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
            const stop = () =>
                new Promise<void>((resolve) => {
                    for (const socket of sockets) socket.destroy();
                    silent.close(() => resolve());
                });
            atTestEnd(async () => (silent.listening ? stop() : undefined));
            const { port } = silent.address() as net.AddressInfo;
            try {
                assert.deepEqual(await noted(`postgresql://shop:${PASSWORD}@127.0.0.1:${port}/shop`, 300), [
                    `info: schema head v1.4.2 taken from the stack outputs: the migration ledger at 127.0.0.1:${port}/shop could not be read (no answer within 0.3 s)`,
                ]);
                assert.equal(sockets.size, 1, "the check connected once");
            } finally {
                await stop();
            }
        });

        it("no `release:databaseUrl`", async () => {
            assert.deepEqual(await noted(undefined), [
                "info: schema head v1.4.2 taken from the stack outputs: `release:databaseUrl` is not set, so the migration ledger was not read",
            ]);
        });

        it("a server that refuses the database: a warning with the server's reason, no password", async () => {
            assert.deepEqual(await noted(`postgresql://${pg.user}:${PASSWORD}@${pg.host}:${pg.port}/no_such_db`), [
                `warn: schema head v1.4.2 taken from the stack outputs: the migration ledger at ${pg.host}:${pg.port}/no_such_db could not be read (database "no_such_db" does not exist)`,
            ]);
        });

        it("a value that is no postgresql:// URL (the offline plan's placeholder): a warning that shows no value", async () => {
            assert.deepEqual(await noted(`https://user:${PASSWORD}@secret.invalid/not-decrypted-offline`), [
                "warn: schema head v1.4.2 taken from the stack outputs: the migration ledger at `release:databaseUrl` could not be read " +
                    "(it is not a postgresql:// connection string; value not shown)",
            ]);
        });
    });
});
