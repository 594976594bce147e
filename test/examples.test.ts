import { strict as assert } from "assert";
import * as fs from "fs";
import { digestOf } from "./support/fixtures";
import { plainTextPaths, resource, resourcesOfType } from "./support/inspect";
import { ProgramRun, runProgram } from "./support/mockEngine";
import { StackConfig } from "./support/mockProviders";

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
            `${OPS} backup --kind directory --path /srv/progressdb --dir backups/progressdb --app progressdb --version v0.6.0 --log backups/progressdb/backups.log --quiesced`,
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
            `${OPS} backup --kind postgres --dir backups --app projects --version v2.4.0 --log backups/backups.log --critical-tables users,projects`,
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
            "docker --host ssh://deploy@projects.example.com start projects-frontend-v2-3-0",
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
            `${OPS} bucket-backup --source portal-media --target portal-backups/media/portal-v4.2.0 --app portal --version v4.2.0 --log backups/backups.log`,
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
            "docker start portal-app-v4-1-0 portal-celery-v4-1-0 portal-frontend-v4-1-0",
        );
        const celery = resource(run, "docker:index/container:Container", "portal-docker-v4.2.0-celery");
        assert.deepEqual(celery.inputs.command, ["celery", "-A", "portal", "worker", "--loglevel", "info"]);
        assert.equal(celery.inputs.healthcheck, undefined);
        const router: string = resource(run, "command:local:Command", "portal-docker-router-config").inputs.stdin;
        assert.ok(!router.includes("celery"), "workers take no traffic");
        assert.ok(router.includes("server portal-app-v4-2-0:8000 ") && router.includes("server portal-frontend-v4-2-0:3000 "));
    });
});
