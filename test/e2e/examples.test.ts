import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { run } from "../support/processes";
import { changedSteps, PROJECT_DIR, StackConfig } from "./support/pulumiCli";
import { ServiceDatabase } from "./support/serviceDatabase";
import { backupLog, ledger, ReleaseStep, ShopWorld, split, startWorldOf, stopShopWorld, WorldFixed } from "./support/shopStack";

/**
 * The three `examples/` services, each in its own shape (components, roles, path
 * prefixes, quiesce list, backup kind), released on `docker-host` by the real
 * engine with the local test images: first deploy of v1.0.0, a release of v1.1.0
 * at weight 0, one shift to 50, a warm rollback to v1.0.0.
 *
 * What the examples name that cannot run here is left out, each where it would be:
 * image digests (the registry's are looked up from the tags), `release:dockerHost.host`
 * (`ssh://`: one local engine), the framework ledgers (the test service keeps its own),
 * and anything of AWS (the Django media bucket copy).
 */

/** The platform block every example shares, pointed at the world's router image and port. */
function dockerHost(fixed: WorldFixed, network: string, extra: StackConfig = {}): StackConfig {
    return {
        routerImage: `${fixed.images.router.repository}:${fixed.images.router.tag}`,
        network,
        routerPort: fixed.routerPort,
        routerAddress: "127.0.0.1",
        healthIntervalSeconds: 1,
        startPeriodSeconds: 5,
        healthyWaitSeconds: 60,
        ...extra,
    };
}

function versions(step: ReleaseStep): StackConfig {
    return {
        "release:version": step.version,
        ...(step.previous !== undefined ? { "release:previous": step.previous } : {}),
        ...(step.canaryWeight !== undefined ? { "release:canaryWeight": step.canaryWeight } : {}),
    };
}

/**
 * A web component mounted under a path prefix: the router passes `/api/…` on unchanged,
 * as the example's backend expects, but the test service only answers at `/`. So the
 * container serves its prefix with busybox httpd: `<prefix>/` answers `<name> <version>`,
 * `health` is its health path. The test service's `migrate` still runs from this image.
 */
function prefixedWebCommand(name: string, prefix: string, port: number, healthPath: string): string[] {
    const www = "/tmp/www";
    const healthFile = healthPath.endsWith("/") ? `${www}${healthPath}index.html` : `${www}${healthPath}`;
    return [
        "sh",
        "-c",
        [
            `mkdir -p ${www}${prefix} $(dirname ${healthFile})`,
            `echo "${name} $RELEASE_VERSION" > ${www}${prefix}/index.html`,
            `echo ok > ${healthFile}`,
            `exec /bin/busybox httpd -f -p ${port} -h ${www}`,
        ].join(" && "),
    ];
}

/** Container name → `<started-at> <finished-at> <status>` of one container. */
async function times(world: ShopWorld, container: string): Promise<{ startedAt: string; finishedAt: string; status: string }> {
    const { stdout } = await world.engine.docker([
        "inspect",
        "--format",
        "{{.State.StartedAt}} {{.State.FinishedAt}} {{.State.Status}}",
        container,
    ]);
    const [startedAt, finishedAt, status] = stdout.trim().split(" ");
    return { startedAt, finishedAt, status };
}

/** `container` stopped before the backup `record` was taken and started again after it (it was running before). */
async function stoppedAround(world: ShopWorld, container: string, startedBefore: string, record: Record<string, unknown>): Promise<void> {
    const now = await times(world, container);
    const taken = Date.parse(String(record.time));
    assert.strictEqual(now.status, "running", `${container} runs again`);
    assert.ok(now.startedAt > startedBefore, `${container} was restarted (started ${startedBefore}, now ${now.startedAt})`);
    assert.ok(Date.parse(now.finishedAt) <= taken, `${container} stopped (${now.finishedAt}) before the backup (${record.time})`);
    assert.ok(Date.parse(now.startedAt) >= taken, `${container} started again (${now.startedAt}) after the backup (${record.time})`);
}

/** The walk of one example in its own world, one `it` per step, in order; `checks` asserts what its shape promises. */
function walk(
    name: string,
    app: string,
    build: (fixed: WorldFixed, step: ReleaseStep) => StackConfig,
    checks: {
        secrets?: (db: ServiceDatabase) => Record<string, string>;
        dataDirOwner?: { uid: number; gid: number };
        deployed?: (world: ShopWorld) => Promise<void>;
        beforeRelease?: (world: ShopWorld) => Promise<void>;
        released: (world: ShopWorld, steps: string[]) => Promise<void>;
        shifted: (world: ShopWorld) => Promise<void>;
        rolledBack: (world: ShopWorld) => Promise<void>;
    },
): void {
    describe(`e2e: examples/${name}.yaml on docker-host under the real engine`, function () {
        let world: ShopWorld;
        before(async () => {
            world = await startWorldOf(name, build, { version: "v1.0.0" }, { secrets: checks.secrets, dataDirOwner: checks.dataDirOwner });
        });
        after(async () => stopShopWorld(world));

        it("first deploy of v1.0.0 serves at 100%", async () => {
            await world.stack.up();
            const outputs = await world.stack.outputs();
            assert.strictEqual(outputs.version, "v1.0.0");
            assert.deepStrictEqual(outputs.weights, { "v1.0.0": 100 });
            await checks.deployed?.(world);
        });

        it("a release of v1.1.0 at weight 0: the example's data steps, no user traffic", async () => {
            await checks.beforeRelease?.(world);
            world.configure({ version: "v1.1.0", previous: "v1.0.0", canaryWeight: 0 });
            const { json } = await world.stack.preview();
            const steps = changedSteps(json);
            await world.stack.up();
            const outputs = await world.stack.outputs();
            assert.deepStrictEqual([outputs.version, outputs.previous], ["v1.1.0", "v1.0.0"]);
            assert.deepStrictEqual(outputs.weights, { "v1.1.0": 0, "v1.0.0": 100 });
            assert.ok(steps.includes(`create safe-release:data:PreUpgradeBackup::${app}-backup-v1.1.0`), steps.join("\n"));
            await checks.released(world, steps);
        });

        it("one shift to 50: half of the users on v1.1.0", async () => {
            world.configure({ version: "v1.1.0", previous: "v1.0.0", canaryWeight: 50 });
            await world.stack.up();
            assert.deepStrictEqual((await world.stack.outputs()).weights, { "v1.1.0": 50, "v1.0.0": 50 });
            await checks.shifted(world);
        });

        it("a warm rollback: v1.0.0 takes all traffic again", async () => {
            world.configure({ version: "v1.0.0", previous: "v1.1.0", canaryWeight: 100 });
            await world.stack.up();
            assert.deepStrictEqual((await world.stack.outputs()).weights, { "v1.0.0": 100, "v1.1.0": 0 });
            await checks.rolledBack(world);
        });
    });
}

// progressdb: one container, its data directory bind-mounted from the host and archived with the
// writer stopped; no SQL database, so no `release:database`, `databaseUrl` or migration.
// The test service takes no lock on the directory, so v1.1.0 runs warm beside v1.0.0 on the same
// mount here; a real Pebble `--db` would refuse that (examples/README.md).
const PROGRESSDB_DATA = "/var/lib/progressdb";
walk(
    "progressdb",
    "progressdb",
    (fixed, step) => ({
        "release:app": "progressdb",
        "release:platform": "docker-host",
        ...versions(step),
        "release:components": {
            progressdb: {
                image: fixed.images.service.repository,
                role: "web",
                port: 8080,
                healthPath: "/healthz",
                // Each start leaves a line in the data directory, so the archive shows which starts preceded it.
                command: [
                    "sh",
                    "-c",
                    `mkdir -p ${PROGRESSDB_DATA}/db && echo "started $RELEASE_VERSION" >> ${PROGRESSDB_DATA}/db/starts.log && exec service`,
                ],
                env: { PROGRESSDB_KMS_MODE: "embedded", PROGRESSDB_KMS_DIR: `${PROGRESSDB_DATA}/kms` },
                secretEnv: { PROGRESSDB_KMS_MASTER_KEY: "config:kmsMasterKey" },
            },
        },
        "release:migrate": { quiesce: ["progressdb"] },
        "release:backup": { dir: fixed.backupDir, directory: fixed.dataDir },
        "release:dockerHost": dockerHost(fixed, "progressdb-e2e", { volumes: { progressdb: [`${fixed.dataDir}:${PROGRESSDB_DATA}`] } }),
    }),
    {
        secrets: () => ({ "release:kmsMasterKey": "e2e-kms-master-key" }),
        // The test images run as nobody (65534), as a packaged progressdb runs as its own user.
        dataDirOwner: { uid: 65534, gid: 65534 },
        deployed: async (world) => {
            // The Pebble files and KMS metadata a running progressdb keeps there.
            fs.mkdirSync(path.join(world.dataDir!, "kms"), { recursive: true });
            fs.writeFileSync(path.join(world.dataDir!, "db", "000001.log"), "pebble-wal");
            fs.writeFileSync(path.join(world.dataDir!, "kms", "meta.json"), '{"keys":1}');
            assert.deepStrictEqual(await world.get("/"), { status: 200, body: "v1.0.0" });
        },
        released: async (world, steps) => {
            assert.ok(steps.includes("create command:local:Command::progressdb-backup-v1.1.0-directory"), steps.join("\n"));
            assert.ok(steps.includes("create command:local:Command::progressdb-quiesce-v1.1.0-stop"), steps.join("\n"));
            assert.deepStrictEqual(
                steps.filter((s) => /-migrate-|-pg-dump|-bucket|-kms/.test(s)),
                [],
                "no migration, database dump, bucket copy or KMS record",
            );
            const records = backupLog(world).filter((r) => r.version === "v1.1.0");
            assert.strictEqual(records.length, 1, JSON.stringify(backupLog(world)));
            const record = records[0];
            assert.deepStrictEqual(
                [record.kind, record.source, record.files, record.consistency, record.verified],
                ["directory", world.dataDir, 3, "quiesced", true],
            );
            const archive = path.resolve(PROJECT_DIR, String(record.location));
            assert.ok(fs.existsSync(archive), `the archive ${archive} is on disk`);
            const { stdout: listing } = await run("tar", ["-tf", archive]);
            for (const file of ["db/000001.log", "db/starts.log", "kms/meta.json"])
                assert.ok(
                    listing.split("\n").some((line) => line.replace(/^\.\//, "") === file),
                    `${file} in:\n${listing}`,
                );
            const { stdout: starts } = await run("tar", ["-xOf", archive, "--wildcards", "*db/starts.log"]);
            assert.strictEqual(starts.trim(), "started v1.0.0", "the archive was taken before any restart");
            // Taken while v1.0.0 was stopped: it stopped before the record's time and started again after.
            const v1 = await times(world, "progressdb-progressdb-v1-0-0");
            assert.strictEqual(v1.status, "running");
            const taken = Date.parse(String(record.time));
            assert.ok(Date.parse(v1.finishedAt) <= taken, `stopped (${v1.finishedAt}) before the archive (${record.time})`);
            assert.ok(Date.parse(v1.startedAt) >= taken, `started again (${v1.startedAt}) after the archive (${record.time})`);
            assert.deepStrictEqual(await split(world, 10), { "v1.0.0": 10 });
        },
        shifted: async (world) => assert.deepStrictEqual(await split(world, 20), { "v1.0.0": 10, "v1.1.0": 10 }),
        rolledBack: async (world) => assert.deepStrictEqual(await split(world, 10), { "v1.0.0": 10 }),
    },
);

/** `GET <pathname>` through the router, `count` times: body → answers; every answer must be a 200. */
async function answers(world: ShopWorld, pathname: string, count: number): Promise<Record<string, number>> {
    const seen: Record<string, number> = {};
    for (let i = 0; i < count; i++) {
        const { status, body } = await world.get(pathname);
        assert.strictEqual(status, 200, `GET ${pathname}: ${body}`);
        seen[body] = (seen[body] ?? 0) + 1;
    }
    return seen;
}

let frontendStartedBefore: string | undefined;

// Prisma: backend under `/api` (the migration's component) + frontend at `/`, on PostgreSQL; the
// frontend stopped for the dump and the migration. Containers reach PostgreSQL at another address
// than the host's pg_dump, so their DATABASE_URL is `serviceDatabaseUrl`.
walk(
    "prisma-app",
    "projects",
    (fixed, step) => ({
        "release:app": "projects",
        "release:platform": "docker-host",
        ...versions(step),
        "release:components": {
            backend: {
                image: fixed.images.service.repository,
                role: "web",
                port: 4000,
                healthPath: "/health",
                pathPrefix: "/api",
                command: prefixedWebCommand("backend", "/api", 4000, "/health"),
                env: { NODE_ENV: "production" },
                secretEnv: { DATABASE_URL: "config:serviceDatabaseUrl" },
            },
            frontend: { image: fixed.images.service.repository, role: "web", port: 3000, healthPath: "/", env: { LISTEN_ADDR: ":3000" } },
        },
        // The test service's migrations create `items`; its own ledger stands in for `_prisma_migrations`.
        "release:database": { criticalTables: ["items"] },
        "release:migrate": { command: ["service", "migrate"], component: "backend", quiesce: ["frontend"] },
        "release:backup": { dir: fixed.backupDir },
        "release:dockerHost": dockerHost(fixed, "projects-e2e"),
    }),
    {
        beforeRelease: async (world) => {
            frontendStartedBefore = (await times(world, "projects-frontend-v1-0-0")).startedAt;
        },
        deployed: async (world) => {
            assert.deepStrictEqual(await answers(world, "/api/", 3), { "backend v1.0.0": 3 });
            assert.deepStrictEqual(await answers(world, "/", 3), { "v1.0.0": 3 });
        },
        released: async (world, steps) => {
            assert.ok(steps.includes("create command:local:Command::projects-backup-v1.1.0-pg-dump"), steps.join("\n"));
            assert.ok(steps.includes("create command:local:Command::projects-migrate-v1.1.0-run"), steps.join("\n"));
            assert.deepStrictEqual(await ledger(world), ["v1.0.0 succeeded", "v1.1.0 succeeded"]);
            const record = backupLog(world).find((r) => r.version === "v1.1.0");
            assert.strictEqual(record?.kind, "postgres");
            await stoppedAround(world, "projects-frontend-v1-0-0", frontendStartedBefore!, record);
            const backend = await times(world, "projects-backend-v1-0-0");
            assert.strictEqual(backend.finishedAt, "0001-01-01T00:00:00Z", "the backend, not in the quiesce list, never stopped");
            assert.deepStrictEqual(await answers(world, "/api/", 5), { "backend v1.0.0": 5 });
            assert.deepStrictEqual(await answers(world, "/", 5), { "v1.0.0": 5 });
        },
        shifted: async (world) => {
            assert.deepStrictEqual(await answers(world, "/api/", 20), { "backend v1.0.0": 10, "backend v1.1.0": 10 });
            assert.deepStrictEqual(await answers(world, "/", 20), { "v1.0.0": 10, "v1.1.0": 10 });
        },
        rolledBack: async (world) => {
            assert.deepStrictEqual(await answers(world, "/api/", 5), { "backend v1.0.0": 5 });
            assert.deepStrictEqual(await answers(world, "/", 5), { "v1.0.0": 5 });
            assert.deepStrictEqual(await ledger(world), ["v1.0.0 succeeded", "v1.1.0 succeeded"], "a rollback reverts no migration");
        },
    },
);

// Django: `frontend` at `/`, `app` under `/api` (the migration's component) and the `celery` worker,
// all three stopped for the dump and the migration. Left out: the media bucket copy
// (`release:backup.bucket`/`bucketTarget` need S3), the env file and the static volume.
const portalBefore: Record<string, string> = {};
walk(
    "django-app",
    "portal",
    (fixed, step) => {
        const secretEnv = { DATABASE_URL: "config:serviceDatabaseUrl", DJANGO_SECRET_KEY: "config:djangoSecretKey" };
        return {
            "release:app": "portal",
            "release:platform": "docker-host",
            ...versions(step),
            "release:components": {
                frontend: {
                    image: fixed.images.service.repository,
                    role: "web",
                    port: 3000,
                    healthPath: "/",
                    env: { LISTEN_ADDR: ":3000" },
                },
                app: {
                    image: fixed.images.service.repository,
                    role: "web",
                    port: 8000,
                    healthPath: "/health/",
                    pathPrefix: "/api",
                    command: prefixedWebCommand("app", "/api", 8000, "/health/"),
                    secretEnv,
                },
                celery: { image: fixed.images.service.repository, role: "worker", command: ["service", "worker"], secretEnv },
            },
            "release:database": { criticalTables: ["items"] },
            "release:migrate": { command: ["service", "migrate"], component: "app", quiesce: ["frontend", "app", "celery"] },
            "release:backup": { dir: fixed.backupDir },
            "release:dockerHost": dockerHost(fixed, "portal-e2e"),
        };
    },
    {
        secrets: (db) => ({
            "release:databaseUrl": db.hostUrl,
            "release:serviceDatabaseUrl": db.containerUrl,
            "release:djangoSecretKey": "e2e-django-secret-key",
        }),
        beforeRelease: async (world) => {
            for (const component of ["frontend", "app", "celery"]) {
                const container = `portal-${component}-v1-0-0`;
                portalBefore[container] = (await times(world, container)).startedAt;
            }
        },
        released: async (world, steps) => {
            assert.ok(steps.includes("create command:local:Command::portal-quiesce-v1.1.0-stop"), steps.join("\n"));
            assert.deepStrictEqual(await ledger(world), ["v1.0.0 succeeded", "v1.1.0 succeeded"]);
            const record = backupLog(world).find((r) => r.version === "v1.1.0");
            assert.strictEqual(record?.kind, "postgres");
            // Every writer, the worker too, stopped before the dump and started again after it.
            for (const [container, startedAt] of Object.entries(portalBefore)) await stoppedAround(world, container, startedAt, record!);
            assert.deepStrictEqual(await answers(world, "/api/", 5), { "app v1.0.0": 5 });
        },
        shifted: async (world) => {
            assert.deepStrictEqual(await answers(world, "/api/", 20), { "app v1.0.0": 10, "app v1.1.0": 10 });
            assert.deepStrictEqual(await answers(world, "/", 20), { "v1.0.0": 10, "v1.1.0": 10 });
        },
        rolledBack: async (world) => {
            assert.deepStrictEqual(await answers(world, "/api/", 5), { "app v1.0.0": 5 });
            assert.deepStrictEqual(await answers(world, "/", 5), { "v1.0.0": 5 });
        },
    },
);
