import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { Client } from "pg";
import { refusalMessage } from "../../ops/migrate/plan";
import { ensureToolLedger, readToolLedger, ToolLedgerRow } from "../../ops/pg/ledgers";
import { testPostgres, TestPostgres } from "../support/postgres";
import { tempDir } from "../support/processes";
import { removeDir, runOps } from "./backupTestSupport";

const DIGEST = `sha256:${"c".repeat(64)}`;
const KEY = { app: "shop", version: "v1.6.0", digest: DIGEST };

describe("migrate refused over a 'running' row names the one-off container still running (real PostgreSQL)", function () {
    this.timeout(30000);
    let pg: TestPostgres;
    let db: string;
    let bin: string;
    let calls: string;
    let rows: ToolLedgerRow[];

    /** A `docker` that records its arguments, one call a line, and prints `psOutput` for `ps`. */
    function fakeDocker(psOutput: string): string {
        const docker = path.join(bin, "docker");
        fs.writeFileSync(docker, `#!/bin/sh\necho "$*" >> "${calls}"\n[ "$3" = ps ] && printf '${psOutput}'\nexit 0\n`, { mode: 0o755 });
        return docker;
    }

    beforeEach(async () => {
        pg = await testPostgres();
        db = await pg.createDatabase("migrate_oneoff");
        bin = await tempDir("safe-release-docker-");
        calls = path.join(bin, "calls");
        // What a migrate process killed mid-run leaves: its row says 'running'.
        const client = new Client({ connectionString: pg.url(db) });
        await client.connect();
        try {
            await ensureToolLedger(client);
            await client.query("INSERT INTO safe_release_migrations (app, version, image_digest, status) VALUES ($1, $2, $3, 'running')", [
                KEY.app,
                KEY.version,
                KEY.digest,
            ]);
            rows = await readToolLedger(client, "shop");
        } finally {
            await client.end();
        }
    });
    afterEach(() => removeDir(bin));

    const migrate = (docker: string) => [
        "migrate",
        "--app",
        "shop",
        "--version",
        "v1.6.0",
        "--digest",
        DIGEST,
        "--",
        docker,
        "-H",
        "unix:///run/app.sock",
        "run",
        "--rm",
        "shop:v1.6.0",
        "migrate",
    ];
    const env = () => ({ PATH: process.env.PATH, DATABASE_URL: pg.url(db) });

    it("lists the container by the one-off labels and gives the command that stops it", async () => {
        const docker = fakeDocker("3f2a9c1b7d4e\\tshop-migrate-v1.6.0\\t2 minutes ago\\n");
        const run = await runOps(migrate(docker), env());
        assert.equal(run.code, 1);
        assert.equal(JSON.parse(run.stdout).outcome, "refused");
        assert.equal(
            run.stderr,
            `${refusalMessage(KEY, rows)}\n` +
                "  still running: one-off container shop-migrate-v1.6.0 (3f2a9c1b7d4e, created 2 minutes ago) of `shop` v1.6.0: " +
                `stop it before anything else: \`${docker} -H unix:///run/app.sock rm -f 3f2a9c1b7d4e\`\n`,
        );
        assert.equal(
            fs.readFileSync(calls, "utf8"),
            "-H unix:///run/app.sock ps --filter label=safe-release.role=one-off --filter label=safe-release.app=shop " +
                "--filter label=safe-release.version=v1.6.0 --format {{.ID}}\t{{.Names}}\t{{.RunningFor}}\n",
        );
    });

    it("says how to look by hand when docker cannot list the containers", async () => {
        const docker = path.join(bin, "docker");
        fs.writeFileSync(docker, "#!/bin/sh\necho 'Cannot connect to the Docker daemon at unix:///run/app.sock' >&2\nexit 1\n", {
            mode: 0o755,
        });
        const run = await runOps(migrate(docker), env());
        assert.equal(run.code, 1);
        assert.equal(
            run.stderr,
            `${refusalMessage(KEY, rows)}\n` +
                "  could not list the one-off containers of `shop` v1.6.0 (Cannot connect to the Docker daemon at unix:///run/app.sock): " +
                `look for one with \`${docker} -H unix:///run/app.sock ps --filter label=safe-release.role=one-off ` +
                "--filter label=safe-release.version=v1.6.0` and stop it before anything else\n",
        );
    });

    it("says so when no one-off container of the version runs", async () => {
        const run = await runOps(migrate(fakeDocker("")), env());
        assert.equal(run.code, 1);
        assert.equal(
            run.stderr,
            `${refusalMessage(KEY, rows)}\n  no one-off container of \`shop\` v1.6.0 is running (\`docker ps\` lists none)\n`,
        );
    });
});
