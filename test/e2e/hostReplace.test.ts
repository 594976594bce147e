import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { atTestEnd, freePortRun, run, tempDir } from "../support/processes";
import { CliResult, E2eStack, PROJECT_DIR, StackConfig, changedSteps } from "./support/pulumiCli";

/**
 * progressdb as a binary on `host` in `replace` mode (examples/progressdb-host.yaml),
 * under the real engine, with the stand-in of examples/progressdb-demo/ under a
 * private supervisord and PostgreSQL (scripts/dev-machine.sh): first deploy of
 * v0.5.0; a release of v0.6.0 (stop v0.5.0 → archive → migrate once → v0.6.0 on the
 * same port → smoke); v0.6.1, which never turns healthy: the update fails and v0.6.0
 * answers again; and the way back from the incompatible migration, `restoreFrom`
 * the pre-upgrade archive with v0.5.0, which marks the ledger's later runs undone; and
 * v0.6.0 released again, whose migration runs again on the restored data. The stack
 * file is the example's with this test's root, ports and backup directory.
 */
describe("e2e: progressdb released with `replace` on host", function () {
    const EXAMPLE_ROOT = "/var/tmp/safe-release-progressdb";
    const APP = "progressdb";
    const PROGRAM = "progressdb-progressdb";
    const KMS_MASTER_KEY = "e2e-kms-master-key-0123456789";
    let dir: string;
    let root: string;
    let backupDir: string;
    let routerPort: number;
    let basePort: number;
    let stack: E2eStack;
    let base: StackConfig;

    const db = () => `${root}/data/db`;
    const configure = (step: StackConfig) => stack.writeConfig({ ...base, ...step });
    const outputOf = (result: CliResult) => result.stdout + result.stderr;

    /** Steps of `pulumi preview --json` that change something, sorted, without the command type's prefix. */
    async function previewSteps(): Promise<string[]> {
        const { json } = await stack.preview();
        return changedSteps(json)
            .filter((s) => s.includes("command:local:Command::"))
            .map((s) => s.replace("command:local:Command::", ""))
            .sort();
    }

    async function request(pathname: string, init: RequestInit = {}, port = routerPort): Promise<{ status: number; body: any }> {
        const response = await fetch(`http://127.0.0.1:${port}${pathname}`, { ...init, signal: AbortSignal.timeout(5000) });
        return { status: response.status, body: await response.json() };
    }

    async function post(pathname: string, body: unknown): Promise<any> {
        const answer = await request(pathname, { method: "POST", body: JSON.stringify(body) });
        assert.strictEqual(answer.status, 201, `POST ${pathname}: ${JSON.stringify(answer.body)}`);
        return answer.body;
    }

    /** The JOURNAL's events without their time and pid: `open v0.5.0 addr 127.0.0.1:9100 format 1`. */
    function journal(text = fs.readFileSync(`${db()}/JOURNAL`, "utf8")): string[] {
        return text
            .trim()
            .split("\n")
            .map((line) => line.replace(/^\S+ /, "").replace(/ pid \d+/, ""));
    }

    function journalTime(event: string): string {
        const line = fs
            .readFileSync(`${db()}/JOURNAL`, "utf8")
            .split("\n")
            .filter((l) => l.includes(` ${event}`))
            .pop();
        assert.ok(line !== undefined, `the journal records ${event}`);
        return line.split(" ")[0];
    }

    function backupRecords(): Array<Record<string, any>> {
        const text = fs.readFileSync(path.join(PROJECT_DIR, backupDir, "backups.log"), "utf8");
        return text
            .trim()
            .split("\n")
            .map((line) => JSON.parse(line));
    }

    /** `version status`, and the backup id of the restore that undid the run, if one did; oldest first. */
    async function ledger(): Promise<string[]> {
        const sql =
            "SELECT version || ' ' || status || coalesce(' restored by ' || restored_by, '') FROM safe_release_migrations ORDER BY started_at";
        const { stdout } = await run("psql", ["-h", `${root}/postgres`, "-U", "postgres", "-d", APP, "-tAc", sql]);
        return stdout.trim().split("\n");
    }

    async function programStatus(): Promise<string> {
        const { stdout } = await run("supervisorctl", ["-c", `${root}/supervisor/supervisord.conf`, "status", PROGRAM]).catch(
            (err: Error) => ({ stdout: err.message }),
        );
        return stdout.trim().split(/\s+/).slice(0, 2).join(" ");
    }

    async function myMessages(thread: string): Promise<string[]> {
        const { body } = await request(`/v1/threads/${thread}/messages`);
        return (body.messages as Array<{ body: string }>).map((m) => m.body);
    }

    before(async () => {
        dir = await tempDir("safe-release-replace-");
        // The private PostgreSQL runs as `postgres` when the tests run as root: it must reach the root.
        fs.chmodSync(dir, 0o755);
        root = `${dir}/root`;
        backupDir = `.e2e-state/${path.basename(dir)}/backups`;
        atTestEnd(async () => {
            fs.rmSync(dir, { recursive: true, force: true });
            fs.rmSync(path.join(PROJECT_DIR, path.dirname(backupDir)), { recursive: true, force: true });
        });
        // One run: the router's four ports, then progressdb's.
        routerPort = await freePortRun(5);
        basePort = routerPort + 4;
        await run(path.join(PROJECT_DIR, "scripts", "progressdb-artifacts.sh"), [], { cwd: PROJECT_DIR });
        const exampleText = fs
            .readFileSync(path.join(PROJECT_DIR, "examples", "progressdb-host.yaml"), "utf8")
            .split(EXAMPLE_ROOT)
            .join(root);
        const example = (yaml.load(exampleText) as { config: StackConfig }).config;
        base = {
            ...example,
            "release:host": { ...(example["release:host"] as object), routerPort, basePort, healthWaitSeconds: 10 },
            "release:backup": { ...(example["release:backup"] as object), dir: backupDir },
            // The private PostgreSQL's socket, no password (trust on a socket under this root): not a secret here.
            // The database is the app's own: scripts/dev-machine.sh creates the one this URL names.
            "release:databaseUrl": `postgresql://postgres@${encodeURIComponent(`${root}/postgres`)}/${APP}`,
        };
        assert.ok(!JSON.stringify(base).includes(EXAMPLE_ROOT), "the copy must not name the example's root");
        stack = await E2eStack.create("replace", base);
        atTestEnd(async () => fs.rmSync(stack.dir, { recursive: true, force: true }));
        await stack.setSecret("release:kmsMasterKey", KMS_MASTER_KEY);
        atTestEnd(async () =>
            run(path.join(PROJECT_DIR, "scripts", "dev-machine.sh"), ["stop", stack.configFile], { cwd: PROJECT_DIR }).then(
                () => undefined,
                (err: Error) => console.error(`stopping the progressdb machine failed: ${err.message}`),
            ),
        );
        await run(path.join(PROJECT_DIR, "scripts", "dev-machine.sh"), ["start", stack.configFile], { cwd: PROJECT_DIR });
    });

    let thread: string;
    let firstLog: Buffer;
    let kmsKeys: Buffer;

    it("first deploy: v0.5.0 migrates an empty database to format 1 and serves threads behind the router", async () => {
        assert.deepStrictEqual(await previewSteps(), [
            "create progressdb-backup-v0.5.0-directory",
            "create progressdb-backup-v0.5.0-pg-dump",
            "create progressdb-host-progressdb",
            "create progressdb-host-prune",
            "create progressdb-host-router",
            "create progressdb-host-router-config",
            "create progressdb-host-v0.5.0-progressdb-release",
            "create progressdb-migrate-v0.5.0-run",
            "create progressdb-preflight-v0.5.0-checks",
            "create progressdb-preflight-v0.5.0-store-check",
            "create progressdb-prune-v0.5.0",
            "create progressdb-smoke-v0.5.0-run",
        ]);
        await stack.up();
        thread = (await post("/v1/threads", { title: "release notes" })).id;
        await post(`/v1/threads/${thread}/messages`, { body: "v0.5.0 wrote this" });
        await post(`/v1/threads/${thread}/messages`, { body: "and this" });
        // The smoke test's thread (one message) and ours (two).
        assert.deepStrictEqual((await request("/")).body, { service: APP, version: "v0.5.0", format: "1", threads: 2, messages: 3 });
        assert.deepStrictEqual(journal(), ["migrate v0.5.0 format none -> 1", `open v0.5.0 addr 127.0.0.1:${basePort} format 1`]);
        firstLog = fs.readFileSync(`${db()}/log.jsonl`);
        kmsKeys = fs.readFileSync(`${root}/data/kms/keys.json`);
        assert.ok(!firstLog.includes("v0.5.0 wrote this"), "message bodies are stored sealed by the KMS");
        const envFile = `${root}/env/${PROGRAM}.env`;
        assert.strictEqual(fs.statSync(envFile).mode & 0o777, 0o600);
        assert.ok(!fs.readFileSync(`${root}/supervisor/conf.d/${PROGRAM}.conf`, "utf8").includes(KMS_MASTER_KEY));
    });

    it("a release of v0.6.0: v0.5.0 stops, the data is archived, migrated once, v0.6.0 starts on the same port, smoke passes", async () => {
        configure({ "release:version": "v0.6.0" });
        assert.deepStrictEqual(await previewSteps(), [
            "create progressdb-backup-v0.6.0-directory",
            "create progressdb-backup-v0.6.0-pg-dump",
            "create progressdb-drift-v0.6.0-run",
            "create progressdb-host-v0.6.0-progressdb-release",
            "create progressdb-migrate-v0.6.0-run",
            "create progressdb-preflight-v0.6.0-checks",
            "create progressdb-preflight-v0.6.0-store-check",
            "create progressdb-prune-v0.6.0",
            "create progressdb-quiesce-v0.6.0-stop",
            "create progressdb-rollback-check-v0.6.0-run",
            "create progressdb-smoke-v0.6.0-run",
            "delete progressdb-backup-v0.5.0-directory",
            "delete progressdb-backup-v0.5.0-pg-dump",
            "delete progressdb-host-v0.5.0-progressdb-release",
            "delete progressdb-migrate-v0.5.0-run",
            "delete progressdb-preflight-v0.5.0-checks",
            "delete progressdb-preflight-v0.5.0-store-check",
            "delete progressdb-prune-v0.5.0",
            "delete progressdb-smoke-v0.5.0-run",
            "update progressdb-host-progressdb",
            "update progressdb-host-prune",
            "update progressdb-host-router-config",
        ]);
        await stack.up();
        assert.deepStrictEqual(journal().slice(2), [
            "close v0.5.0",
            "migrate v0.6.0 format 1 -> 2 threads 2 messages 3",
            `open v0.6.0 addr 127.0.0.1:${basePort} format 2`,
        ]);
        const archive = backupRecords().find((r) => r.kind === "directory" && r.version === "v0.6.0")!;
        assert.strictEqual(archive.consistency, "quiesced");
        assert.ok(journalTime("close v0.5.0") < archive.time && archive.time < journalTime("migrate v0.6.0"), "stop → archive → migrate");
        const { stdout: listing } = await run("tar", ["-tf", archive.location]);
        assert.ok(!listing.split("\n").includes("./db/LOCK"), `no process held the database while it was archived:\n${listing}`);
        const { stdout: archivedJournal } = await run("tar", ["-xOf", archive.location, "./db/JOURNAL"]);
        assert.strictEqual(journal(archivedJournal).pop(), "close v0.5.0");
        assert.deepStrictEqual(await ledger(), ["v0.5.0 succeeded", "v0.6.0 succeeded"]);
        assert.deepStrictEqual((await request("/", {}, basePort)).body, {
            service: APP,
            version: "v0.6.0",
            format: "2",
            threads: 3,
            messages: 4,
        });
        assert.deepStrictEqual(await myMessages(thread), ["v0.5.0 wrote this", "and this"]);
        assert.strictEqual(await programStatus(), `${PROGRAM} RUNNING`);
        assert.strictEqual((await stack.outputs()).version, "v0.6.0");
    });

    let failed: CliResult;
    it("v0.6.1 never answers /healthz: the update fails naming it, and v0.6.0 answers again on the same port with its data", async () => {
        configure({ "release:version": "v0.6.1" });
        failed = await stack.up({ allowFailure: true });
        assert.notStrictEqual(failed.code, 0);
        const health = `http://127.0.0.1:${basePort}/healthz`;
        assert.match(
            outputOf(failed),
            new RegExp(
                escape(
                    `host-service: ${PROGRAM} v0.6.1 did not answer ${health} with 200 within 10s (last: HTTP 503); ` +
                        `${PROGRAM} v0.6.0 was put back and answers ${health} again`,
                ),
            ),
        );
        assert.deepStrictEqual(journal().slice(-3), [
            `open v0.6.1 addr 127.0.0.1:${basePort} format 2 (never finishes opening)`,
            "close v0.6.1",
            `open v0.6.0 addr 127.0.0.1:${basePort} format 2`,
        ]);
        assert.deepStrictEqual((await request("/")).body, { service: APP, version: "v0.6.0", format: "2", threads: 3, messages: 4 });
        assert.deepStrictEqual(await myMessages(thread), ["v0.5.0 wrote this", "and this"]);
        const outputs = await stack.outputs();
        assert.deepStrictEqual([outputs.version, outputs.schemaHead], ["v0.6.0", "v0.6.0"], "the record stays the last good one");

        // Back to v0.6.0 in the stack file. The migration ledger says v0.6.1 migrated (its update failed after
        // that), the outputs say v0.6.0: the update stops, naming both, until the operator decides.
        configure({ "release:version": "v0.6.0" });
        const disagreeing = await stack.preview({ allowFailure: true });
        assert.notStrictEqual(disagreeing.result.code, 0);
        assert.match(
            outputOf(disagreeing.result),
            new RegExp(
                "the migration ledger `safe_release_migrations` at [^ ]+ says the schema head of `progressdb` is v0\\.6\\.1; " +
                    "the stack output schemaHead says v0\\.6\\.0\\. v0\\.6\\.1's migration ran without an update recording it",
            ),
        );
        // v0.6.0 runs on what v0.6.1's migration left (it answered on it above): accepted. The program is recorded as
        // v0.6.0's, so nothing restarts; the finished data steps of v0.6.0 (the failed update did not get to delete
        // them) and of v0.6.1 leave the state, and the record takes the ledger's head.
        configure({ "release:version": "v0.6.0", "release:acceptSchemaHead": "v0.6.1" });
        assert.deepStrictEqual(await previewSteps(), [
            "delete progressdb-backup-v0.6.0-directory",
            "delete progressdb-backup-v0.6.0-pg-dump",
            "delete progressdb-backup-v0.6.1-directory",
            "delete progressdb-backup-v0.6.1-pg-dump",
            "delete progressdb-drift-v0.6.0-run",
            "delete progressdb-drift-v0.6.1-run",
            "delete progressdb-host-v0.6.1-progressdb-release",
            "delete progressdb-migrate-v0.6.0-run",
            "delete progressdb-migrate-v0.6.1-run",
            "delete progressdb-preflight-v0.6.0-checks",
            "delete progressdb-preflight-v0.6.0-store-check",
            "delete progressdb-preflight-v0.6.1-checks",
            "delete progressdb-preflight-v0.6.1-store-check",
            "delete progressdb-prune-v0.6.0",
            "delete progressdb-prune-v0.6.1",
            "delete progressdb-quiesce-v0.6.0-stop",
            "delete progressdb-quiesce-v0.6.1-stop",
            "delete progressdb-rollback-check-v0.6.0-run",
            "delete progressdb-rollback-check-v0.6.1-run",
        ]);
        await stack.up();
        assert.strictEqual((await stack.outputs()).schemaHead, "v0.6.1");
    });

    it("v0.5.0 alone cannot run on the migrated data: refused at preview, naming `release:restoreFrom`", async () => {
        configure({ "release:version": "v0.5.0" });
        const { result } = await stack.preview({ allowFailure: true });
        assert.notStrictEqual(result.code, 0);
        assert.match(
            outputOf(result),
            /`release:version` v0\.5\.0 is older than the database schema head v0\.6\.1, .*`release:restoreFrom`/,
        );
    });

    it("rollback after the incompatible migration: restoreFrom the pre-upgrade archive with v0.5.0 puts back the bytes and the binary", async () => {
        const archive = backupRecords().find((r) => r.kind === "directory" && r.version === "v0.6.0")!;
        configure({ "release:version": "v0.5.0", "release:restoreFrom": archive.id });
        const steps = await previewSteps();
        assert.deepStrictEqual(
            steps.filter((s) => !s.startsWith("delete")),
            [
                "create progressdb-host-v0.5.0-progressdb-release",
                "create progressdb-quiesce-" + archive.id + "-stop",
                "create progressdb-restore-" + archive.id + "-run",
                "create progressdb-smoke-v0.5.0-run",
                "update progressdb-host-progressdb",
                "update progressdb-host-prune",
                "update progressdb-host-router-config",
            ].sort(),
        );
        const restoring = await stack.up();
        assert.match(
            outputOf(restoring),
            new RegExp(
                escape("restore: ledger: v0.6.0 (sha256:") +
                    "[0-9a-f]{64}, succeeded, started [^)]+\\) " +
                    escape(`ran after the backup; marked restored by ${archive.id}, so its next release migrates again`),
            ),
        );
        assert.deepStrictEqual(journal().slice(0, 4), [
            "migrate v0.5.0 format none -> 1",
            `open v0.5.0 addr 127.0.0.1:${basePort} format 1`,
            "close v0.5.0",
            `open v0.5.0 addr 127.0.0.1:${basePort} format 1`,
        ]);
        const restoredLog = fs.readFileSync(`${db()}/log.jsonl`);
        assert.ok(restoredLog.subarray(0, firstLog.length).equals(firstLog), "the log as archived, then the smoke test's thread");
        assert.ok(fs.readFileSync(`${root}/data/kms/keys.json`).equals(kmsKeys), "the KMS key file as archived");
        assert.deepStrictEqual(await myMessages(thread), ["v0.5.0 wrote this", "and this"]);
        assert.deepStrictEqual((await request("/")).body, { service: APP, version: "v0.5.0", format: "1", threads: 3, messages: 4 });
        const kept = fs.readdirSync(root).filter((name) => name.startsWith("data.pre-restore-"));
        assert.strictEqual(kept.length, 1, "the migrated data is kept beside");
        assert.strictEqual(fs.readFileSync(`${root}/${kept[0]}/db/FORMAT`, "utf8"), "2\n");
        assert.strictEqual(await programStatus(), `${PROGRAM} RUNNING`);
        assert.match(
            fs.readFileSync(`${root}/supervisor/conf.d/${PROGRAM}.conf`, "utf8"),
            /^directory=.*\/releases\/v0\.5\.0\/progressdb$/m,
        );
        const outputs = await stack.outputs();
        assert.deepStrictEqual([outputs.version, outputs.schemaHead, outputs.restoredFrom], ["v0.5.0", "v0.5.0", archive.id]);
        // The data is from before v0.6.0's migration (and v0.6.1's), so the ledger no longer counts them as applied.
        assert.deepStrictEqual(await ledger(), [
            "v0.5.0 succeeded",
            `v0.6.0 succeeded restored by ${archive.id}`,
            `v0.6.1 succeeded restored by ${archive.id}`,
        ]);
        restored = archive.id;
    });

    let restored: string;
    it("v0.6.0 released again after the restore: its migration runs again on the restored data, which v0.6.0 then serves", async () => {
        configure({ "release:version": "v0.6.0" });
        const steps = await previewSteps();
        assert.ok(steps.includes("create progressdb-migrate-v0.6.0-run"), steps.join("\n"));
        const result = await stack.up();
        assert.match(
            outputOf(result),
            /migrate: v0\.6\.0 ran before \(started [^)]+\), but restore \S+ put the data back to before that run/,
        );
        assert.deepStrictEqual(journal().slice(-3), [
            "close v0.5.0",
            "migrate v0.6.0 format 1 -> 2 threads 3 messages 4",
            `open v0.6.0 addr 127.0.0.1:${basePort} format 2`,
        ]);
        assert.deepStrictEqual(await ledger(), [
            "v0.5.0 succeeded",
            `v0.6.0 succeeded restored by ${restored}`,
            `v0.6.1 succeeded restored by ${restored}`,
            "v0.6.0 succeeded",
        ]);
        assert.deepStrictEqual(await myMessages(thread), ["v0.5.0 wrote this", "and this"]);
        // The restored threads (ours, two smoke threads) and this release's smoke thread.
        assert.deepStrictEqual((await request("/")).body, { service: APP, version: "v0.6.0", format: "2", threads: 4, messages: 5 });
        const outputs = await stack.outputs();
        assert.deepStrictEqual([outputs.version, outputs.schemaHead], ["v0.6.0", "v0.6.0"]);
    });
});

function escape(text: string): string {
    return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
