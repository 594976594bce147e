import { strict as assert } from "assert";
import { execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { DocBlock, DocPage, blockLines, firstMissingLine, hasTag, readDocs } from "./fixtures/docs/markdown";
import { PlacedBlock, StackChange, exampleStack, placeBlocks } from "./fixtures/docs/scenarios";
import { TestPostgres, testPostgres } from "./support/postgres";
import { atTestEnd, tempDir } from "./support/processes";

/*
 * Runs every ```sh offline block of the docs, as written, in a copy of the
 * project (its tracked files, node_modules linked), one copy per page so a
 * page's commands share what they write (backups/). Environment: PATH starts
 * with node_modules/.bin; DATABASE_URL names a PostgreSQL database of
 * `testPostgres()` holding the example's critical tables (the docs never put it
 * on a command line); SAFE_RELEASE_PG_BIN is that server's bin directory.
 *
 * Placeholders: a command may contain `<backup id>`, replaced by the `id` of the
 * record printed on stdout by the latest earlier block of the same page (the
 * backup command prints its record; so does `tail` of the backup log). Any other
 * `<…>` in an offline block is an error, so a doc cannot ask for a value the test
 * does not know.
 *
 * A plan command (`npm run plan …`) runs with the section's stack file before
 * the change committed and the stack file after it as the working copy: what the
 * operator has when following the page. Its stdout must hold the `text plan`
 * lines below it; any other command's must hold the `text output` lines below it.
 */
const ROOT = path.join(__dirname, "..");
const PLACEHOLDER = /<[a-z][a-z ]*>/g;
const PLACEHOLDERS: Record<string, (page: PageRun) => string | undefined> = {
    "<backup id>": (page) => page.lastRecordId,
};
const BLOCK_TIMEOUT_MS = 60000;
/** Top-level entries the copy leaves out: dependencies (linked instead), history, state, build output, backups. */
const NOT_COPIED = ["node_modules", ".git", ".pulumi-state", "bin", "backups"];

interface Outcome {
    readonly command: string;
    readonly code: number | null;
    readonly stdout: string;
    readonly stderr: string;
}

interface PageRun {
    lastRecordId?: string;
    readonly outcomes: Map<DocBlock, Outcome>;
}

/** Replaces the known placeholders; throws on an unknown one or one without a value yet. */
export function substitute(command: string, page: PageRun): string {
    return command.replace(PLACEHOLDER, (name) => {
        const value = PLACEHOLDERS[name]?.(page);
        if (PLACEHOLDERS[name] === undefined)
            throw new Error(`unknown placeholder ${name} in an offline command; known: ${Object.keys(PLACEHOLDERS).join(", ")}`);
        if (value === undefined)
            throw new Error(`placeholder ${name} has no value yet: no earlier block of the page printed a record with an \`id\``);
        return value;
    });
}

/** The `id` of a JSON record on stdout (the whole of it, or its last line). */
export function recordId(stdout: string): string | undefined {
    for (const candidate of [stdout.trim(), stdout.trim().split("\n").pop() ?? ""]) {
        try {
            const parsed = JSON.parse(candidate);
            if (typeof parsed === "object" && parsed !== null && typeof parsed.id === "string") return parsed.id;
        } catch {
            // not JSON: try the next candidate
        }
    }
    return undefined;
}

function shell(command: string, cwd: string, env: NodeJS.ProcessEnv): Promise<Outcome> {
    return new Promise((resolve, reject) => {
        const child = spawn("bash", ["-euo", "pipefail", "-c", command], {
            cwd,
            env,
            stdio: ["ignore", "pipe", "pipe"],
            timeout: BLOCK_TIMEOUT_MS,
        });
        let [stdout, stderr] = ["", ""];
        child.stdout.on("data", (c) => (stdout += c));
        child.stderr.on("data", (c) => (stderr += c));
        child.on("error", reject);
        child.on("close", (code) => resolve({ command, code, stdout, stderr }));
    });
}

async function projectCopy(): Promise<string> {
    const dir = await tempDir("safe-release-docs-");
    atTestEnd(async () => fs.rmSync(dir, { recursive: true, force: true }));
    // The working tree, as every other test sees it (ops/bin/ is not tracked: `bin/` is ignored as build output).
    fs.cpSync(ROOT, dir, { recursive: true, filter: (source) => !NOT_COPIED.includes(path.relative(ROOT, source)) });
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
    git(dir, "init", "-q", "-b", "main");
    git(dir, "add", "-A");
    git(dir, "commit", "-q", "-m", "project");
    return dir;
}

function git(dir: string, ...args: string[]): void {
    execFileSync("git", ["-c", "user.name=Docs Test", "-c", "user.email=docs@example.invalid", ...args], { cwd: dir, stdio: "ignore" });
}

/** The operator's checkout at a doc's change: the stack file before it committed, after it in the working copy. */
function checkoutAt(dir: string, change: StackChange): void {
    fs.writeFileSync(path.join(dir, "Pulumi.staging.yaml"), change.before);
    git(dir, "commit", "-q", "--allow-empty", "-m", "before the change", "--", "Pulumi.staging.yaml");
    fs.writeFileSync(path.join(dir, "Pulumi.staging.yaml"), change.after);
}

async function runPage(placed: PlacedBlock[], env: NodeJS.ProcessEnv): Promise<PageRun> {
    const run: PageRun = { outcomes: new Map() };
    const dir = await projectCopy();
    for (const { block, change } of placed.filter((p) => hasTag(p.block, "sh", "offline"))) {
        if (/\bnpm run plan\b/.test(block.text)) {
            if (change === undefined || change.refused)
                throw new Error(`${block.file}:${block.line}: a plan command must follow an accepted change`);
            checkoutAt(dir, change);
        }
        let command: string;
        try {
            command = substitute(block.text, run);
        } catch (err) {
            run.outcomes.set(block, { command: block.text, code: null, stdout: "", stderr: (err as Error).message });
            continue;
        }
        const outcome = await shell(command, dir, { ...env, PATH: `${path.join(dir, "node_modules", ".bin")}:${env.PATH}` });
        run.outcomes.set(block, outcome);
        run.lastRecordId = recordId(outcome.stdout) ?? run.lastRecordId;
    }
    return run;
}

/** The `text plan` / `text output` blocks after an offline block, up to the next command or change. */
function expectedAfter(placed: PlacedBlock[], index: number): DocBlock[] {
    const following: DocBlock[] = [];
    for (const { block } of placed.slice(index + 1)) {
        if (block.lang === "sh" || block.lang === "yaml" || block.section !== placed[index].block.section) break;
        if (hasTag(block, "text", "plan") || hasTag(block, "text", "output")) following.push(block);
    }
    return following;
}

async function drillDatabase(pg: TestPostgres): Promise<string> {
    const db = await pg.createDatabase("docs_drill");
    await pg.psql(
        db,
        `
        CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL);
        CREATE TABLE orders (id serial PRIMARY KEY, user_id int REFERENCES users (id), total numeric NOT NULL);
        CREATE TABLE _prisma_migrations (id text PRIMARY KEY, checksum text NOT NULL, finished_at timestamptz, migration_name text NOT NULL,
            logs text, rolled_back_at timestamptz, started_at timestamptz NOT NULL DEFAULT now(), applied_steps_count int NOT NULL DEFAULT 0);
        INSERT INTO users (email) SELECT 'user' || i || '@example.invalid' FROM generate_series(1, 40) i;
        INSERT INTO orders (user_id, total) SELECT 1 + i % 40, i FROM generate_series(1, 120) i;
        INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, applied_steps_count)
            VALUES ('1', 'c0ffee', '2026-11-01T00:00:00Z', '20261101000000_init', 1);`,
    );
    return db;
}

describe("docs: every offline command runs as written", function () {
    this.timeout(120000);
    const pages = readDocs();
    const example = exampleStack(pages);
    const placedByPage = new Map<DocPage, PlacedBlock[]>(pages.map((p) => [p, placeBlocks(p, example)]));
    const runs = new Map<DocPage, PageRun>();
    let pg: TestPostgres;
    let db: string;

    before(async () => {
        pg = await testPostgres();
        db = await drillDatabase(pg);
        const env = { ...process.env, DATABASE_URL: pg.url(db), SAFE_RELEASE_PG_BIN: pg.binDir };
        const withCommands = pages.filter((p) => p.blocks.some((b) => hasTag(b, "sh", "offline")));
        const done = await Promise.all(withCommands.map((p) => runPage(placedByPage.get(p)!, env)));
        withCommands.forEach((p, i) => runs.set(p, done[i]));
    });

    for (const page of pages) {
        const placed = placeBlocks(page, exampleStack(pages));
        placed.forEach(({ block }, index) => {
            if (!hasTag(block, "sh", "offline")) return;
            it(`${block.file}:${block.line}: ${block.text.split("\n")[0]}`, () => {
                const outcome = runs.get(page)!.outcomes.get(block)!;
                assert.equal(outcome.code, 0, `${outcome.command}\nstdout:\n${outcome.stdout}\nstderr:\n${outcome.stderr}`);
                for (const expected of expectedAfter(placed, index)) {
                    assert.equal(
                        firstMissingLine(blockLines(expected), outcome.stdout),
                        undefined,
                        `${expected.file}:${expected.line}\n${outcome.stdout}`,
                    );
                }
            });
        });
    }

    it("the drill restored beside the live database and left it as it was", async () => {
        assert.ok(runs.get(pages.find((p) => p.file === "restore-drill.md")!)!.lastRecordId?.startsWith("shop-v1.5.0-"));
        assert.equal(await pg.psql(db, "SELECT count(*) FROM users; SELECT count(*) FROM orders;"), "40\n120");
        assert.equal(await pg.psql("postgres", `SELECT count(*) FROM pg_database WHERE datname LIKE '${db}_%restore%'`), "0");
    });

    it("covers the plan, the backup, verify, restore --drill and prune commands", () => {
        const commands = pages.flatMap((p) => p.blocks.filter((b) => hasTag(b, "sh", "offline")).map((b) => b.text)).join("\n");
        for (const expected of [
            "npm run plan -- --stack staging",
            "safe-release-ops.js backup",
            "safe-release-ops.js verify",
            "--drill",
            "safe-release-ops.js prune",
        ]) {
            assert.ok(commands.includes(expected), expected);
        }
    });
});

describe("docs: the offline commands' placeholders", () => {
    it("replaces <backup id> with the id of the last record printed", () => {
        const page: PageRun = {
            outcomes: new Map(),
            lastRecordId: recordId('{\n  "id": "shop-v1.5.0-20261122T101500.000Z",\n  "kind": "postgres"\n}\n'),
        };
        assert.equal(substitute("restore --id <backup id> --drill", page), "restore --id shop-v1.5.0-20261122T101500.000Z --drill");
        assert.equal(recordId('progress\n{"id":"a-1"}'), "a-1");
        assert.equal(recordId("no record here"), undefined);
    });

    it("refuses an unknown placeholder, or one that has no value yet", () => {
        assert.throws(() => substitute("restore --id <backup id>", { outcomes: new Map() }), {
            message: "placeholder <backup id> has no value yet: no earlier block of the page printed a record with an `id`",
        });
        assert.throws(() => substitute("smoke --base-url <base url>", { outcomes: new Map() }), {
            message: "unknown placeholder <base url> in an offline command; known: <backup id>",
        });
    });
});
