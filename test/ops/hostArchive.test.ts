import { strict as assert } from "assert";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { UsageError } from "../../core/args";
import { SSH_KEY_ENV } from "../../core/sshExec";
import { command as hostArchive } from "../../ops/commands/host-archive";
import { command as hostRestore } from "../../ops/commands/host-restore";
import { command as localRestore } from "../../ops/commands/restore";
import { Sshd, startSshd } from "../e2e/support/sshd";
import { runCommand } from "../support/opsRun";
import { run, tempDir } from "../support/processes";

const PROJECT = path.resolve(__dirname, "..", "..");

/** Path (relative) → content, of every file under `dir`. */
function tree(dir: string): Record<string, string> {
    const files: Record<string, string> = {};
    const walk = (sub: string) => {
        for (const entry of fs.readdirSync(path.join(dir, sub), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
            const relative = path.join(sub, entry.name);
            if (entry.isDirectory()) walk(relative);
            else files[relative] = fs.readFileSync(path.join(dir, relative), "utf8");
        }
    };
    walk("");
    return files;
}

const sha256 = (file: string) => createHash("sha256").update(fs.readFileSync(file)).digest("hex");
const keyDirs = () => fs.readdirSync(os.tmpdir()).filter((name) => name.startsWith("safe-release-ssh-"));

/**
 * `host-archive` and `host-restore` against a real sshd on loopback (the "remote" is
 * this machine as root): the archive is made there and lands in the local backup
 * directory with a directory backup's record plus its `host`; the restore streams it
 * back to the host agent's `host-unpack` (here the agent from the sources), which
 * checks the checksum before it swaps anything.
 */
describe("safe-release-ops host-archive / host-restore over a real sshd (ops/commands/host-*.ts)", function () {
    this.timeout(120000);
    let sshd: Sshd;
    let dir: string;
    let data: string;
    let backups: string;
    let agent: string;
    let target: string[];
    let env: NodeJS.ProcessEnv;
    const printed: string[] = [];

    const archive = async (extra: string[] = []) => {
        const result = await runCommand(
            hostArchive,
            [...target, "--path", data, "--app", "demo", "--version", "v1.1.0", "--dir", backups, "--quiesced", ...extra],
            env,
        );
        printed.push(result.stdout, result.stderr);
        return result;
    };
    const restore = async (id: string, extra: string[] = []) => {
        const result = await runCommand(
            hostRestore,
            [...target, "--agent", agent, "--id", id, "--log", `${backups}/backups.log`, ...extra],
            env,
        );
        printed.push(result.stdout, result.stderr);
        return result;
    };

    before(async () => {
        if (!fs.existsSync("/usr/bin/ssh"))
            throw new Error("/usr/bin/ssh is missing: apt-get install -y --no-install-recommends openssh-client");
        sshd = await startSshd();
        dir = await tempDir("safe-release-host-archive-");
        data = path.join(dir, "remote", "data");
        backups = path.join(dir, "backups");
        fs.mkdirSync(path.join(data, "db"), { recursive: true });
        fs.writeFileSync(path.join(data, "FORMAT"), "2\n");
        fs.writeFileSync(path.join(data, "db", "000001.sst"), "table one\n".repeat(1000));
        // The agent as the host runs it, from the sources: `node <agent>/ops/hostAgent.js host-unpack …`.
        agent = path.join(dir, "agent");
        fs.mkdirSync(path.join(agent, "ops"), { recursive: true });
        fs.writeFileSync(
            path.join(agent, "ops", "hostAgent.js"),
            [
                `require(${JSON.stringify(require.resolve("ts-node"))}).register({ transpileOnly: true, project: ${JSON.stringify(path.join(PROJECT, "tsconfig.json"))} });`,
                `require(${JSON.stringify(path.join(PROJECT, "ops", "hostAgent.ts"))}).main(process.argv.slice(2)).then((code) => (process.exitCode = code));`,
                "",
            ].join("\n"),
        );
        target = ["--host", sshd.host, "--port", String(sshd.port), "--user", sshd.user];
        env = { PATH: process.env.PATH, [SSH_KEY_ENV]: sshd.privateKey };
    });
    after(async () => {
        await sshd?.stop();
        if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
    });

    let record: Record<string, unknown>;
    let atBackup: Record<string, string>;
    it("archives the host's directory into the local backup directory: a directory record with its host, checksum as written", async () => {
        atBackup = tree(data);
        const keysBefore = keyDirs();
        const result = await archive();
        assert.equal(result.code, 0, result.stderr);
        record = JSON.parse(result.stdout);
        const location = String(record.location);
        assert.deepEqual(
            { ...record, id: "<id>", time: "<time>", location: path.relative(backups, location) },
            {
                id: "<id>",
                kind: "directory",
                app: "demo",
                version: "v1.1.0",
                time: "<time>",
                size: fs.statSync(location).size,
                sha256: sha256(location),
                location: `${record.id}.tar`,
                verified: true,
                source: data,
                files: 2,
                contentBytes: 2 + 10000,
                consistency: "quiesced",
                host: `root@127.0.0.1:${sshd.port}`,
            },
        );
        assert.match(String(record.id), /^demo-v1\.1\.0-\d{8}T\d{6}\.\d{3}Z$/);
        assert.deepEqual(
            fs
                .readFileSync(`${backups}/backups.log`, "utf8")
                .trim()
                .split("\n")
                .map((line) => JSON.parse(line)),
            [record],
            "the log holds the printed record",
        );
        const extracted = path.join(dir, "extracted");
        fs.mkdirSync(extracted);
        await run("tar", ["-C", extracted, "-xf", location]);
        assert.deepEqual(tree(extracted), atBackup, "the archive holds the host's directory");
        assert.deepEqual(fs.readdirSync(backups).sort(), [path.basename(location), "backups.log"].sort(), "no partial file left");
        assert.deepEqual(keyDirs(), keysBefore, "the key's temp directory is removed");
    });

    it("`restore` refuses the remote archive: it would unpack onto this machine's copy of the path", async () => {
        // A UsageError: the CLI prints it after `restore: ` and exits 2.
        const expected =
            `\`${String(record.id)}\` is an archive of ${data} on root@127.0.0.1:${sshd.port}: ` +
            "restore it there with `safe-release-ops host-restore`, which unpacks it on that host; " +
            "`restore` would unpack it onto this machine's copy of that path";
        await assert.rejects(
            runCommand(localRestore, ["--id", String(record.id), "--log", `${backups}/backups.log`], env),
            (err: Error) => err instanceof UsageError && err.message === expected,
        );
    });

    it("a log that cannot take the record (a full disk): the archive is removed, the message says why", async () => {
        const before = fs.readdirSync(backups).sort();
        const result = await archive(["--log", "/dev/full"]);
        assert.equal(result.code, 1);
        assert.equal(result.stdout, "");
        assert.match(
            result.stderr,
            /^host-archive: could not append the record of `demo-v1\.1\.0-[0-9TZ.]+` to the backup log `\/dev\/full`: ENOSPC: no space left on device, write; removed `[^`]+\.tar`, which no record names \(a backup the log does not record cannot be restored, verified or pruned\)\. Nothing was backed up: make the log writable and run the backup again$/m,
        );
        assert.deepEqual(fs.readdirSync(backups).sort(), before, "no archive or partial file is left");
    });

    it("refuses a directory the host does not have, naming it; no file is left", async () => {
        const result = await runCommand(
            hostArchive,
            [...target, "--path", "/nonexistent/data", "--app", "demo", "--version", "v1.1.0", "--dir", backups],
            env,
        );
        printed.push(result.stdout, result.stderr);
        assert.equal(result.code, 1);
        assert.match(
            result.stderr,
            /backup: tar of \/nonexistent\/data on root@127\.0\.0\.1:\d+ exited 3: host-archive: \/nonexistent\/data is not a directory on 127\.0\.0\.1; `release:backup\.directory` must name the data directory there\n$/,
        );
        assert.equal(fs.readdirSync(backups).length, 2, "only the first backup and the log");
    });

    it("restores on the host after checking the checksum there: the directory's bytes as at the backup, the old one kept", async () => {
        fs.writeFileSync(path.join(data, "FORMAT"), "3\n");
        fs.writeFileSync(path.join(data, "db", "000002.sst"), "written after the backup\n");
        const result = await restore(String(record.id));
        assert.equal(result.code, 0, result.stderr);
        const printedResult = JSON.parse(result.stdout);
        assert.deepEqual(
            {
                ok: printedResult.ok,
                host: printedResult.host,
                verified: printedResult.verified,
                target: printedResult.target,
                ledger: printedResult.ledger.note,
            },
            {
                ok: true,
                host: `root@127.0.0.1:${sshd.port}`,
                verified: { sha256: record.sha256, files: 2, contentBytes: 10002 },
                target: data,
                ledger: "no SAFE_RELEASE_LEDGER_URL or DATABASE_URL: no migration ledger to bring in line with the restored data",
            },
        );
        assert.match(result.stderr, new RegExp(`verified on the host: SHA-256 ${record.sha256}, 2 files, 10002 bytes`));
        assert.deepEqual(tree(data), atBackup);
        assert.deepEqual(tree(printedResult.preRestore)["FORMAT"], "3\n", "the replaced directory is kept beside it");
    });

    it("--drill verifies on the host and removes the extracted copy; the directory and the ledger stay as they are", async () => {
        fs.writeFileSync(path.join(data, "FORMAT"), "drill\n");
        const before = tree(data);
        const siblings = fs.readdirSync(path.dirname(data)).sort();
        const result = await restore(String(record.id), ["--drill"]);
        assert.equal(result.code, 0, result.stderr);
        const printedResult = JSON.parse(result.stdout);
        assert.deepEqual(
            [printedResult.ok, printedResult.drill, printedResult.scratchKept, printedResult.verified.sha256, printedResult.ledger.note],
            [true, true, false, record.sha256, "a drill leaves the migration ledger as it is"],
        );
        assert.deepEqual(tree(data), before);
        assert.deepEqual(fs.readdirSync(path.dirname(data)).sort(), siblings, "no extracted copy left beside it");
    });

    it("refuses an archive whose bytes are not the recorded ones: the host's directory untouched", async () => {
        const location = String(record.location);
        const bytes = fs.readFileSync(location);
        // One byte of file content changed: tar still reads it, only the checksum tells.
        const at = bytes.indexOf("table one");
        bytes[at] = "T".charCodeAt(0);
        fs.writeFileSync(location, bytes);
        fs.writeFileSync(path.join(data, "FORMAT"), "4\n");
        const before = tree(data);
        const result = await restore(String(record.id));
        assert.equal(result.code, 1);
        // Checked here before anything is sent: the host is not reached at all.
        const actual = createHash("sha256").update(bytes).digest("hex");
        assert.ok(
            result.stderr.startsWith(
                `host-restore: checksum mismatch for \`${location}\`: expected sha256 ${record.sha256}, got ${actual}\n`,
            ),
            result.stderr,
        );
        assert.match(
            result.stderr,
            new RegExp(`host-restore: failed; ${data.replace(/\//g, "\\/")} on root@127\\.0\\.0\\.1:\\d+ was not touched\\n$`),
        );
        assert.deepEqual(tree(data), before);
    });

    it("refuses a record of another host, and runs without the key nowhere", async () => {
        const other = ["--host", "127.0.0.1", "--port", "1", "--user", "root"];
        await assert.rejects(
            runCommand(hostRestore, [...other, "--agent", agent, "--id", String(record.id), "--log", `${backups}/backups.log`], env),
            {
                message: `\`--id\` must name a backup of root@127.0.0.1:1; \`${record.id}\` is of root@127.0.0.1:${sshd.port}'s ${data}`,
            },
        );
        const args = [...target, "--path", data, "--app", "demo", "--version", "v1.1.0", "--dir", backups];
        await assert.rejects(runCommand(hostArchive, args, { PATH: process.env.PATH }), {
            message: `host-archive reads the SSH private key from ${SSH_KEY_ENV}, which is not set (the stack secret \`release:host.privateKey\` names)`,
        });
    });

    it("removes the partial file a killed archive left, on the next run, and says so", async () => {
        // A pid above the kernel's pid_max: no process of it runs.
        const left = path.join(backups, "demo-v1.1.0-20261201T000000.000Z.tar.2147483646.partial");
        fs.writeFileSync(left, "half an archive");
        const result = await archive();
        assert.equal(result.code, 0, result.stderr);
        assert.ok(!fs.existsSync(left), "the partial file is gone");
        assert.ok(
            result.stderr.includes(
                `backup: removed \`${left}\`: the partial file of a backup that did not finish (process 2147483646 is gone)\n`,
            ),
            result.stderr,
        );
    });

    it("printed no line of the private key", () => {
        const text = printed.join("\n");
        for (const line of sshd.privateKey.split("\n").filter((l) => l.length > 20 && !l.startsWith("-----")))
            assert.ok(!text.includes(line));
        assert.ok(!sshd.log().includes(sshd.privateKey.split("\n")[1]));
    });
});
