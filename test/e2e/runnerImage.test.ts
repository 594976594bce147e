import { strict as assert } from "assert";
import { createHash, randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { Client } from "pg";
import { freePort } from "../support/processes";
import { DockerEngine, startDockerEngine, waitForHealthy } from "./support/dockerEngine";
import { SERVICE_VERSIONS, serviceTarballs } from "./support/images";
import { importPostgresImage } from "./support/postgresImage";
import { RunnerContainers, RunnerImage, buildRunnerImage, secretsIn } from "./support/runnerContainers";

/*
 * The release runner image (runner/Dockerfile), built here by scripts/runner-image.sh, runs the
 * data steps as one-off containers the way an ECS task runs them in a VPC: on one Docker network
 * with a PostgreSQL container and the test service, the database URL and the operator token
 * only as environment variables passed by name. The JSON each command prints is the result the
 * components read; no log or output of any container holds either secret.
 */

const NETWORK = "release-vpc";
const RUNNER = "safe-release-runner:e2e";
const POSTGRES = "local/postgres:e2e";
const SERVICE = "local/service:e2e";
/** A named volume, owned by the runner's user through the image's /var/lib/safe-release. */
const STORE_VOLUME = "release-store:/var/lib/safe-release";
const STORE = "/var/lib/safe-release/backups";
const ITEMS = 7;
const SQL_MIGRATION = "ALTER TABLE items ADD COLUMN priority integer NOT NULL DEFAULT 0";

describe("the release runner image runs backup, verify, restore --drill, migrate and smoke as containers", function () {
    let engine: DockerEngine;
    let image: RunnerImage;
    let runner: RunnerContainers;
    let admin: Client;
    let started: number;
    const password = randomBytes(18).toString("hex");
    const superPassword = randomBytes(18).toString("hex");
    const operatorToken = `op-${randomBytes(18).toString("hex")}`;
    const databaseUrl = `postgres://shop:${password}@db:5432/shop`;
    const secrets = { password, superPassword, operatorToken };
    const withDatabase = { DATABASE_URL: databaseUrl };
    let backup: Record<string, any>;

    before(async function () {
        // A cold build (debootstrap, npm ci, apt-get, on vfs) takes minutes; a warm one loads a saved image.
        this.timeout(1_800_000);
        started = Date.now();
        engine = await startDockerEngine();
        const serviceTar = (await serviceTarballs())[SERVICE_VERSIONS[0]];
        [image] = await Promise.all([
            buildRunnerImage(engine, RUNNER),
            importPostgresImage(engine, POSTGRES),
            engine.docker(["import", "--change", 'CMD ["service"]', "--change", "USER 65534:65534", serviceTar, SERVICE]),
        ]);
        process.stderr.write(
            `runner image: ${image.id}, ${(image.sizeBytes / 1e6).toFixed(0)} MB, ready in ${image.buildSeconds.toFixed(1)} s\n`,
        );
        await engine.docker(["network", "create", "--driver", "bridge", NETWORK]);
        await engine.docker(["volume", "create", "release-store"]);
        runner = new RunnerContainers(engine, RUNNER, NETWORK);

        const port = await freePort();
        const health = ["--health-cmd", "pg_isready -q -h 127.0.0.1 -U postgres", "--health-interval", "1s"];
        const db = await runner.detached("db", POSTGRES, { POSTGRES_PASSWORD: superPassword }, [...health, "-p", `127.0.0.1:${port}:5432`]);
        assert.equal(db.code, 0, db.stderr);
        await waitForHealthy(engine, "db");
        admin = new Client({ connectionString: `postgres://postgres:${superPassword}@127.0.0.1:${port}/postgres` });
        await admin.connect();
        // The role a service has: it owns its database and may create the scratch copy a restore builds.
        await admin.query(`CREATE ROLE shop LOGIN CREATEDB PASSWORD '${password}'`);
        await admin.query("CREATE DATABASE shop OWNER shop");
        const shop = new Client({ connectionString: `postgres://shop:${password}@127.0.0.1:${port}/shop` });
        await shop.connect();
        await shop.query(
            "CREATE TABLE items (id bigserial PRIMARY KEY, version text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())",
        );
        await shop.query(`INSERT INTO items (version) SELECT 'v1.0.0' FROM generate_series(1, ${ITEMS})`);
        await shop.end();
        await admin.end();
        admin = new Client({ connectionString: `postgres://shop:${password}@127.0.0.1:${port}/shop` });
        await admin.connect();

        const serviceHealth = ["--health-cmd", "wget -q -O /dev/null http://127.0.0.1:8080/healthz", "--health-interval", "1s"];
        const service = await runner.detached("service", SERVICE, withDatabase, [...serviceHealth, "-e", "RELEASE_VERSION=v1.0.0"]);
        assert.equal(service.code, 0, service.stderr);
        await waitForHealthy(engine, "service");
    });

    after(async function () {
        await admin?.end().catch(() => undefined);
        await runner?.removeAll();
        await engine?.stop();
        process.stderr.write(`runner image e2e: ${((Date.now() - started) / 1000).toFixed(1)} s in all\n`);
    });

    it("runs as a non-root user, from the project root, the compiled programs only, with PostgreSQL 15's client, GNU tar and zstd", async function () {
        const { stdout } = await engine.docker([
            "run",
            "--rm",
            RUNNER,
            "sh",
            "-c",
            "id -u; pwd; pg_dump --version; pg_restore --version; psql --version; tar --version | head -n 1; zstd -q --version; ls node_modules/@pulumi node_modules/typescript node_modules/ts-node ops/cli.ts 2>&1 | wc -l; ls bin",
        ]);
        const lines = stdout.trim().split("\n");
        assert.deepEqual(lines.slice(0, 2), ["10001", "/opt/safe-release"]);
        assert.match(lines[2], /^pg_dump \(PostgreSQL\) 15\.\d+/);
        assert.match(lines[3], /^pg_restore \(PostgreSQL\) 15\.\d+/);
        assert.match(lines[4], /^psql \(PostgreSQL\) 15\.\d+/);
        assert.match(lines[5], /^tar \(GNU tar\) /);
        assert.match(lines[6], /^1\.\d+\.\d+$/);
        // Only the compiled programs run: no sources, no TypeScript, no Pulumi SDK (4 lines of "No such file").
        assert.deepEqual(lines.slice(7), ["4", "core", "ops"]);
    });

    it("backup --kind postgres dumps the database into a directory store on a volume", async function () {
        const exit = await runner.run({
            name: "runner-backup",
            args: ["backup", "--kind", "postgres", "--app", "shop", "--version", "v1.0.0", "--store", STORE, "--critical-tables", "items"],
            secrets: withDatabase,
            volumes: [STORE_VOLUME],
        });
        assert.equal(exit.code, 0, exit.stderr);
        backup = JSON.parse(exit.stdout);
        assert.match(backup.id, /^shop-v1\.0\.0-\d{8}T\d{6}\.\d{3}Z$/);
        assert.match(backup.sha256, /^[0-9a-f]{64}$/);
        assert.equal(backup.location, `${STORE}/${backup.id}.dump.zst`);
        assert.deepEqual([backup.kind, backup.verified, backup.database], ["postgres", true, "shop"]);
        // The stored bytes hash to the record's SHA-256, read on the host from the volume's directory.
        const stored = path.join(engine.rootDir, "data", "volumes", "release-store", "_data", "backups", path.basename(backup.location));
        assert.equal(createHash("sha256").update(fs.readFileSync(stored)).digest("hex"), backup.sha256);
        // The facts the restore checks against, read in the dump's snapshot: the rows counted.
        assert.deepEqual(JSON.parse(fs.readFileSync(`${stored}.facts.json`, "utf8")).rowCounts, { items: ITEMS });
    });

    it("verify --id recomputes the checksum and reads the dump's table of contents", async function () {
        const exit = await runner.run({
            name: "runner-verify",
            args: ["verify", "--id", backup.id, "--store", STORE],
            volumes: [STORE_VOLUME],
        });
        assert.equal(exit.code, 0, exit.stderr);
        const verdict = JSON.parse(exit.stdout);
        assert.deepEqual(
            [verdict.ok, verdict.sha256, verdict.expectedSha256, verdict.contentVerified, verdict.problems],
            [true, backup.sha256, backup.sha256, true, []],
        );
    });

    it("restore --drill restores into a scratch database, counts the rows, and removes it", async function () {
        const exit = await runner.run({
            name: "runner-restore-drill",
            args: ["restore", "--id", backup.id, "--store", STORE, "--drill"],
            secrets: withDatabase,
            volumes: [STORE_VOLUME],
        });
        assert.equal(exit.code, 0, exit.stderr);
        const drill = JSON.parse(exit.stdout);
        assert.deepEqual(
            [drill.ok, drill.drill, drill.id, drill.liveDatabase, drill.scratchKept, drill.differences, drill.facts.rowCounts],
            [true, true, backup.id, "shop", false, [], { items: ITEMS }],
        );
        assert.match(drill.scratchDatabase, /^shop_restore_\d{14}$/);
        const databases = await admin.query("SELECT datname FROM pg_database WHERE datname LIKE 'shop%' ORDER BY 1");
        assert.deepEqual(databases.rows, [{ datname: "shop" }]);
    });

    it("migrate runs the migration once under the ledger, then finds it applied", async function () {
        const digest = `sha256:${"a".repeat(64)}`;
        const args = ["migrate", "--app", "shop", "--version", "v1.1.0", "--digest", digest, "--"];
        // psql reads DATABASE_URL inside the container; the docker command line holds only its name.
        const migration = ["sh", "-c", `exec psql -X -q -v ON_ERROR_STOP=1 -d "$DATABASE_URL" -c "${SQL_MIGRATION}"`];
        const first = await runner.run({ name: "runner-migrate", args: [...args, ...migration], secrets: withDatabase });
        assert.equal(first.code, 0, first.stderr);
        assert.deepEqual(JSON.parse(first.stdout), {
            ran: true,
            outcome: "succeeded",
            app: "shop",
            version: "v1.1.0",
            digest,
            exitCode: 0,
        });
        const again = await runner.run({ name: "runner-migrate-again", args: [...args, ...migration], secrets: withDatabase });
        assert.equal(again.code, 0, again.stderr);
        assert.deepEqual([JSON.parse(again.stdout).ran, JSON.parse(again.stdout).outcome], [false, "already-applied"]);
        const ledger = await admin.query(
            "SELECT app, version, image_digest, status, exit_code FROM safe_release_migrations ORDER BY started_at",
        );
        assert.deepEqual(ledger.rows, [{ app: "shop", version: "v1.1.0", image_digest: digest, status: "succeeded", exit_code: 0 }]);
        const column = await admin.query(
            "SELECT column_default FROM information_schema.columns WHERE table_name = 'items' AND column_name = 'priority'",
        );
        assert.deepEqual(column.rows, [{ column_default: "0" }]);
    });

    it("smoke runs its checks against the service, with the operator token from the environment", async function () {
        const checks = [
            { name: "health", path: "/healthz", expectStatus: 200 },
            { name: "items", path: "/items/count", expectStatus: 200, useOperatorToken: true },
        ];
        // Inline, as a runner task takes them: an ECS task has no stdin.
        const exit = await runner.run({
            name: "runner-smoke",
            args: [
                "smoke",
                "--base-url",
                "http://service:8080",
                "--checks-json",
                JSON.stringify(checks),
                "--header",
                "X-Release-Target:v1.0.0",
            ],
            secrets: { SMOKE_OPERATOR_TOKEN: operatorToken },
        });
        assert.equal(exit.code, 0, exit.stderr);
        const report = JSON.parse(exit.stdout);
        assert.deepEqual(
            [report.ok, report.passed, report.failed, report.results.map((r: Record<string, unknown>) => [r.name, r.status, r.ok])],
            [
                true,
                2,
                0,
                [
                    ["health", 200, true],
                    ["items", 200, true],
                ],
            ],
        );
    });

    it("leaves neither the database password nor the operator token in any log, output or docker command line", async function () {
        const logs = await runner.logs();
        assert.deepEqual(Object.keys(logs), [
            "db",
            "service",
            "runner-backup",
            "runner-verify",
            "runner-restore-drill",
            "runner-migrate",
            "runner-migrate-again",
            "runner-smoke",
        ]);
        for (const [name, text] of Object.entries(logs)) assert.deepEqual(secretsIn(text, secrets), [], `the log of ${name}`);
        runner.outputs.forEach((text, i) => assert.deepEqual(secretsIn(text, secrets), [], `output ${i}`));
        for (const argv of runner.argvs) assert.deepEqual(secretsIn(argv.join(" "), secrets), [], argv.join(" "));
        // The scan does find them where they are: in the environment of the containers they were given to.
        const env = (await engine.docker(["inspect", "--format", "{{json .Config.Env}}", "runner-smoke"])).stdout;
        assert.deepEqual(secretsIn(env, secrets), ["operatorToken"]);
    });
});
