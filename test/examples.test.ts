import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { parseReleaseConfig } from "../settings/release";
import { digestOf } from "./support/fixtures";
import { plainTextPaths, resource, resourcesOfType } from "./support/inspect";
import { ProgramRun, runProgram } from "./support/mockEngine";
import { StackConfig } from "./support/mockProviders";
import { run as runProcess, tempDir } from "./support/processes";

// js-yaml is the YAML parser the Pulumi SDK itself depends on.
const yaml: { load(text: string): unknown } = require("js-yaml");

const SECRETS: Record<string, string> = {
    "release:databaseUrl": "postgres://app:ex4mple-pw@db:5432/app",
    "release:djangoSecretKey": "ex4mple-django-key",
    "release:kmsMasterKey": "ex4mple-kms-key",
};

/** An example's config as the CLI would pass it, with the secrets it refers to set as stack secrets. */
function loadExample(file: string): { config: StackConfig; secretKeys: string[] } {
    const config = { ...(yaml.load(fs.readFileSync(`examples/${file}`, "utf8")) as { config: StackConfig }).config };
    const text = JSON.stringify(config);
    const secretKeys = Object.keys(SECRETS).filter((key) =>
        key === "release:databaseUrl"
            ? "release:migrate" in config || text.includes("config:databaseUrl")
            : text.includes(`config:${key.slice(8)}`),
    );
    for (const key of secretKeys) config[key] = SECRETS[key];
    return { config, secretKeys };
}

/** The example deployed as written, then a release of `next` with the example's version kept warm. */
async function releaseOf(file: string, next: string): Promise<ProgramRun> {
    const { config, secretKeys } = loadExample(file);
    const current = config["release:version"] as string;
    const digests = config["release:digests"] as Record<string, Record<string, string>>;
    const nextDigests = Object.fromEntries(Object.keys(digests[current]).map((c) => [c, digestOf(`${c}${next}`)]));
    const deployed = await runProgram({ config, secretKeys });
    return runProgram({
        config: {
            ...config,
            "release:version": next,
            "release:previous": current,
            "release:canaryWeight": 0,
            "release:digests": { ...digests, [next]: nextDigests },
        },
        secretKeys,
        lastOutputs: deployed.outputs,
    });
}

const names = (run: ProgramRun, type: string) => resourcesOfType(run, type).map((r) => r.name);
const create = (run: ProgramRun, name: string): string => resource(run, "command:local:Command", name).inputs.create;
const OPS = "node ops/bin/safe-release-ops.js";

describe("examples/ (the seeds' services on docker-host)", () => {
    for (const file of fs.readdirSync("examples").filter((f) => f.endsWith(".yaml"))) {
        it(`${file} passes validation and deploys as written`, async () => {
            const { config, secretKeys } = loadExample(file);
            const run = await runProgram({ config, secretKeys });
            assert.equal(run.outputs.transition, "first-deploy");
            for (const r of run.resources.values()) {
                for (const secret of Object.values(SECRETS))
                    assert.deepEqual(plainTextPaths(r.inputs, secret), [], `${r.type} ${r.name} leaks a secret`);
            }
        });
    }

    it("Pulumi.dev.yaml needs no secret: the demo on the host platform, pinned by sha256, smoke-tested through the router on loopback", async () => {
        const config = (yaml.load(fs.readFileSync("Pulumi.dev.yaml", "utf8")) as { config: StackConfig }).config;
        const run = await runProgram({ config, stack: "dev" });
        assert.deepEqual(run.outputs.unpinnedDigests, {}, "nothing is looked up: each artifact's sha256 is its pin");
        assert.equal(run.outputs.url, "http://127.0.0.1:8080");
        assert.match(
            create(run, "demo-smoke-v1.0.0-run"),
            /^node ops\/bin\/safe-release-ops\.js smoke --base-url http:\/\/127\.0\.0\.1:8080 /,
        );
        assert.deepEqual(run.outputs.weights, { "v1.0.0": 100 });
    });

    it("progressdb: one container per version with /healthz, the data directory archived with writers stopped, no migration", async () => {
        const run = await releaseOf("progressdb.yaml", "v0.6.0");
        assert.deepEqual(names(run, "docker:index/container:Container"), [
            "progressdb-docker-router",
            "progressdb-docker-v0.5.0-progressdb",
            "progressdb-docker-v0.6.0-progressdb",
        ]);
        const container = resource(run, "docker:index/container:Container", "progressdb-docker-v0.6.0-progressdb");
        assert.match(container.inputs.healthcheck.tests[1], /http:\/\/127\.0\.0\.1:8080\/healthz/);
        assert.deepEqual(container.inputs.volumes, [
            { hostPath: "/srv/progressdb", containerPath: "/var/lib/progressdb", readOnly: false },
        ]);
        assert.deepEqual(container.inputs.command, ["progressdb", "--db", "/var/lib/progressdb/db", "--addr", ":8080"]);
        assert.equal(
            create(run, "progressdb-backup-v0.6.0-directory"),
            `${OPS} backup --kind directory --path /srv/progressdb --store backups/progressdb --app progressdb --version v0.6.0 --quiesced`,
        );
        assert.deepEqual(names(run, "safe-release:data:Migration"), []);
        assert.equal(create(run, "progressdb-quiesce-v0.6.0-stop"), "docker stop --time 30 progressdb-progressdb-v0-5-0");
        assert.ok(
            resource(run, "command:local:Command", "progressdb-quiesce-v0.6.0-resume").dependencies.includes(
                resource(run, "command:local:Command", "progressdb-backup-v0.6.0-directory").urn,
            ),
            "the old version starts again once the archive is taken",
        );
        assert.deepEqual(run.outputs.weights, { "v0.6.0": 0, "v0.5.0": 100 });
        assert.equal(run.outputs.url, "http://localhost:8080");
    });

    it("prisma app: backend on /api and frontend on /, pg_dump, `prisma migrate deploy` once, frontend quiesced", async () => {
        const run = await releaseOf("prisma-app.yaml", "v2.4.0");
        assert.deepEqual(names(run, "docker:index/container:Container"), [
            "projects-docker-router",
            "projects-docker-v2.3.0-backend",
            "projects-docker-v2.3.0-frontend",
            "projects-docker-v2.4.0-backend",
            "projects-docker-v2.4.0-frontend",
        ]);
        assert.equal(
            create(run, "projects-backup-v2.4.0-pg-dump"),
            `${OPS} backup --kind postgres --store backups --app projects --version v2.4.0 --critical-tables users,projects`,
        );
        assert.ok(
            create(run, "projects-migrate-v2.4.0-run").endsWith(
                ` -- docker --host ssh://deploy@projects.example.com run --rm --network projects --label safe-release.app=projects --label safe-release.version=v2.4.0 ` +
                    `--label safe-release.role=one-off -e RELEASE_VERSION=v2.4.0 -e NODE_ENV=production -e DATABASE_URL ghcr.io/acme/projects-backend@${digestOf("backendv2.4.0")} npx prisma migrate deploy`,
            ),
        );
        assert.equal(
            create(run, "projects-quiesce-v2.4.0-stop"),
            "docker --host ssh://deploy@projects.example.com stop --time 30 projects-frontend-v2-3-0",
        );
        assert.equal(
            create(run, "projects-quiesce-v2.4.0-resume"),
            // The frontend is a web component: the router re-resolves its address once it runs again.
            "sh -c 'docker --host ssh://deploy@projects.example.com start projects-frontend-v2-3-0 && " +
                "docker --host ssh://deploy@projects.example.com exec projects-router nginx -s reload'",
        );
        const router: string = resource(run, "command:local:Command", "projects-docker-router-config").inputs.stdin;
        assert.ok(router.includes("location /api/ {") && router.includes("location / {"));
        assert.ok(router.includes("server projects-backend-v2-4-0:4000 ") && router.includes("server projects-frontend-v2-3-0:3000 "));
        assert.equal(run.outputs.url, "http://projects.example.com:80");
    });

    it("django app: frontend, app and celery quiesced, pg_dump and bucket copy, `manage.py migrate --noinput` with the env file", async () => {
        const run = await releaseOf("django-app.yaml", "v4.2.0");
        assert.deepEqual(names(run, "docker:index/container:Container"), [
            "portal-docker-router",
            "portal-docker-v4.1.0-app",
            "portal-docker-v4.1.0-celery",
            "portal-docker-v4.1.0-frontend",
            "portal-docker-v4.2.0-app",
            "portal-docker-v4.2.0-celery",
            "portal-docker-v4.2.0-frontend",
        ]);
        assert.deepEqual(
            names(run, "command:local:Command").filter((n) => n.startsWith("portal-backup-v4.2.0")),
            ["portal-backup-v4.2.0-bucket", "portal-backup-v4.2.0-pg-dump"],
        );
        assert.equal(
            create(run, "portal-backup-v4.2.0-bucket"),
            `${OPS} bucket-backup --source portal-media --target portal-backups/media/portal-v4.2.0 --store backups --app portal --version v4.2.0`,
        );
        assert.ok(
            create(run, "portal-migrate-v4.2.0-run").endsWith(
                " -e DATABASE_URL -e DJANGO_SECRET_KEY --env-file examples/env/portal.env -v portal-static:/app/static " +
                    `ghcr.io/acme/portal-app@${digestOf("appv4.2.0")} python manage.py migrate --noinput`,
            ),
        );
        assert.equal(
            create(run, "portal-quiesce-v4.2.0-stop"),
            "docker stop --time 30 portal-app-v4-1-0 portal-celery-v4-1-0 portal-frontend-v4-1-0",
        );
        assert.equal(
            create(run, "portal-quiesce-v4.2.0-resume"),
            "sh -c 'docker start portal-app-v4-1-0 portal-celery-v4-1-0 portal-frontend-v4-1-0 && docker exec portal-router nginx -s reload'",
        );
        const celery = resource(run, "docker:index/container:Container", "portal-docker-v4.2.0-celery");
        assert.deepEqual(celery.inputs.command, ["celery", "-A", "portal", "worker", "--loglevel", "info"]);
        assert.equal(celery.inputs.healthcheck, undefined);
        const router: string = resource(run, "command:local:Command", "portal-docker-router-config").inputs.stdin;
        assert.ok(!router.includes("celery"), "workers take no traffic");
        assert.ok(router.includes("server portal-app-v4-2-0:8000 ") && router.includes("server portal-frontend-v4-2-0:3000 "));
    });

    describe("progressdb-host.yaml (the binary on host, `replace`)", () => {
        const ROOT = "/var/tmp/safe-release-progressdb";
        const SUPERVISORCTL = `supervisorctl -c ${ROOT}/supervisor/supervisord.conf`;
        const deps = (run: ProgramRun, name: string) =>
            resource(run, "command:local:Command", name).dependencies.map((urn: string) => urn.split("::").pop());
        const commands = (run: ProgramRun) => names(run, "command:local:Command").sort();

        async function deployed(): Promise<{ config: StackConfig; secretKeys: string[]; first: ProgramRun }> {
            const { config, secretKeys } = loadExample("progressdb-host.yaml");
            return { config, secretKeys, first: await runProgram({ config, secretKeys }) };
        }

        it("a release of v0.6.0: stop v0.5.0 → archive db + kms → migrate once → v0.6.0 on the same port → router → smoke; no resume", async () => {
            const { config, secretKeys, first } = await deployed();
            const run = await runProgram({ config: { ...config, "release:version": "v0.6.0" }, secretKeys, lastOutputs: first.outputs });
            assert.deepEqual(commands(run), [
                "progressdb-backup-v0.6.0-directory",
                "progressdb-backup-v0.6.0-pg-dump",
                "progressdb-drift-v0.6.0-run",
                "progressdb-host-progressdb",
                "progressdb-host-prune",
                "progressdb-host-router",
                "progressdb-host-router-config",
                "progressdb-host-v0.6.0-progressdb-release",
                "progressdb-migrate-v0.6.0-run",
                "progressdb-preflight-v0.6.0-checks",
                "progressdb-preflight-v0.6.0-store-check",
                "progressdb-prune-v0.6.0",
                "progressdb-quiesce-v0.6.0-stop",
                "progressdb-rollback-check-v0.6.0-run",
                "progressdb-smoke-v0.6.0-run",
            ]);
            // Before anything stops: v0.5.0's release directory is intact (the way back), and the live schema is the head's.
            assert.match(
                create(run, "progressdb-rollback-check-v0.6.0-run"),
                new RegExp(`^${OPS} host-check --root ${ROOT} --version v0\\.5\\.0 --components progressdb=[0-9a-f]{64}$`),
            );
            assert.deepEqual(deps(run, "progressdb-preflight-v0.6.0-checks"), ["progressdb-rollback-check-v0.6.0-run"]);
            assert.deepEqual(deps(run, "progressdb-drift-v0.6.0-run"), [
                "progressdb-preflight-v0.6.0-checks",
                "progressdb-preflight-v0.6.0-store-check",
            ]);
            assert.ok(deps(run, "progressdb-quiesce-v0.6.0-stop").includes("progressdb-drift-v0.6.0-run"));
            assert.equal(create(run, "progressdb-quiesce-v0.6.0-stop"), `${SUPERVISORCTL} stop progressdb-progressdb`);
            assert.deepEqual(deps(run, "progressdb-backup-v0.6.0-directory"), ["progressdb-quiesce-v0.6.0-stop"]);
            assert.equal(
                create(run, "progressdb-backup-v0.6.0-directory"),
                `${OPS} backup --kind directory --path ${ROOT}/data --store backups/progressdb-host --app progressdb --version v0.6.0 --quiesced`,
            );
            assert.ok(deps(run, "progressdb-migrate-v0.6.0-run").includes("progressdb-backup-v0.6.0-directory"));
            assert.ok(
                create(run, "progressdb-migrate-v0.6.0-run").endsWith(
                    ` -- env -C ${ROOT}/releases/v0.6.0/progressdb PROGRESSDB_KMS_DIR=${ROOT}/data/kms PROGRESSDB_KMS_MODE=embedded ` +
                        `RELEASE_VERSION=v0.6.0 node migrate.js --db ${ROOT}/data/db`,
                ),
            );
            assert.deepEqual(deps(run, "progressdb-host-progressdb"), [
                "progressdb-migrate-v0.6.0-run",
                "progressdb-rollback-check-v0.6.0-run",
                "progressdb-host-v0.6.0-progressdb-release",
            ]);
            for (const [r, version] of [
                [first, "v0.5.0"],
                [run, "v0.6.0"],
            ] as const) {
                const up = create(r, "progressdb-host-progressdb");
                assert.ok(up.includes(`"RELEASE_VERSION":"${version}","PORT":"9100"`), up);
                assert.ok(up.endsWith(" --health-url http://127.0.0.1:9100/healthz --wait 30 --restore-on-failure"), up);
            }
            assert.deepEqual(deps(run, "progressdb-host-router-config").sort(), ["progressdb-host-progressdb", "progressdb-host-router"]);
            assert.ok(deps(run, "progressdb-smoke-v0.6.0-run").includes("progressdb-host-router-config"));
            assert.deepEqual(run.outputs.weights, { "v0.6.0": 100 });
            assert.equal(run.outputs.url, "http://127.0.0.1:8090");
        });

        it("a restore with the same version starts the program again; one that changes the version leaves that to its `host-service up`", async () => {
            const { config, secretKeys, first } = await deployed();
            const backups = first.outputs.backups as Array<{ id: string; kind: string }>;
            const archive = backups.find((b) => b.kind === "directory")!.id;
            const same = await runProgram({
                config: { ...config, "release:restoreFrom": archive },
                secretKeys,
                lastOutputs: first.outputs,
            });
            assert.equal(create(same, `progressdb-quiesce-${archive}-resume`), `${SUPERVISORCTL} start progressdb-progressdb`);
            assert.deepEqual(deps(same, `progressdb-quiesce-${archive}-resume`), [`progressdb-restore-${archive}-run`]);

            const released = await runProgram({
                config: { ...config, "release:version": "v0.6.0" },
                secretKeys,
                lastOutputs: first.outputs,
            });
            const preUpgrade = (released.outputs.backups as Array<{ id: string; kind: string; version: string }>).find(
                (b) => b.kind === "directory" && b.version === "v0.6.0",
            )!.id;
            const back = await runProgram({
                config: { ...config, "release:restoreFrom": preUpgrade },
                secretKeys,
                lastOutputs: released.outputs,
            });
            assert.deepEqual(
                commands(back).filter((n) => n.includes(preUpgrade)),
                [`progressdb-quiesce-${preUpgrade}-stop`, `progressdb-restore-${preUpgrade}-run`],
            );
            assert.deepEqual(deps(back, "progressdb-host-progressdb"), [
                `progressdb-restore-${preUpgrade}-run`,
                "progressdb-host-v0.5.0-progressdb-release",
            ]);
            assert.ok(create(back, "progressdb-host-progressdb").includes('"RELEASE_VERSION":"v0.5.0","PORT":"9100"'));
        });

        it("refuses `canary` for progressdb, naming the key and the data directory", () => {
            const { config } = loadExample("progressdb-host.yaml");
            const raw = Object.fromEntries(Object.entries(config).map(([k, v]) => [k.slice("release:".length), v]));
            assert.throws(() => parseReleaseConfig({ ...raw, host: { ...(raw.host as object), mode: "canary" } }), {
                name: "ConfigError",
                message:
                    '`release:host.mode` must be "replace" for `progressdb`: `release:host.exclusiveData.progressdb` declares a data ' +
                    `directory only one process may open (${ROOT}/data/db), so two versions cannot run side by side; got "canary"`,
            });
        });

        it("its artifacts rebuild byte for byte to the sha256 pinned in the example", async function () {
            this.timeout(60_000);
            const out = await tempDir("safe-release-progressdb-artifacts-");
            try {
                const { stdout } = await runProcess(path.join("scripts", "progressdb-artifacts.sh"), [out]);
                const built = Object.fromEntries(
                    stdout
                        .trim()
                        .split("\n")
                        .map((line) => line.split(/\s+/))
                        .map(([sha256, file]) => [path.basename(file).replace(/^progressdb-(.*)\.tar\.gz$/, "$1"), sha256]),
                );
                const artifacts = loadExample("progressdb-host.yaml").config["release:artifacts"] as Record<
                    string,
                    { progressdb: { path: string; sha256: string } }
                >;
                assert.deepEqual(built, Object.fromEntries(Object.entries(artifacts).map(([v, a]) => [v, a.progressdb.sha256])));
                for (const [version, a] of Object.entries(artifacts))
                    assert.equal(a.progressdb.path, `examples/progressdb-demo/dist/progressdb-${version}.tar.gz`);
            } finally {
                fs.rmSync(out, { recursive: true, force: true });
            }
        });
    });
});
