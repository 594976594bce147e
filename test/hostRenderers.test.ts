import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { renderEnvFile, renderProgramSection } from "../core/supervisord";
import { renderUnitTemplate } from "../components/host/systemd";
import { run, tempDir } from "./support/processes";

describe("host renderers (core/supervisord.ts, components/host/systemd.ts)", () => {
    it("renders a supervisord program that sources its env file and execs the program", () => {
        const section = renderProgramSection({
            name: "shop-api-v1-5-0",
            root: "/srv/shop",
            directory: "/srv/shop/releases/v1.5.0/api",
            command: ["./api", "--greeting", "it's 100%"],
            description: "shop api v1.5.0",
        });
        assert.equal(
            section,
            [
                "; shop api v1.5.0 (written by safe-release; changes are overwritten)",
                "[program:shop-api-v1-5-0]",
                `command=/bin/sh -c 'set -a && . /srv/shop/env/shop-api-v1-5-0.env && set +a && exec /srv/shop/releases/v1.5.0/api/api --greeting '\\''it'\\''\\'\\'''\\''s 100%%'\\'''`,
                "directory=/srv/shop/releases/v1.5.0/api",
                "autostart=true",
                "autorestart=true",
                "startsecs=2",
                "startretries=3",
                "stopsignal=TERM",
                "stopwaitsecs=30",
                "stopasgroup=true",
                "killasgroup=true",
                "redirect_stderr=true",
                "stdout_logfile=/srv/shop/logs/shop-api-v1-5-0.log",
                "stdout_logfile_maxbytes=10MB",
                "stdout_logfile_backups=3",
                "",
            ].join("\n"),
        );
    });

    it("refuses a program name supervisord cannot take", () => {
        assert.throws(() => renderProgramSection({ name: "shop api", root: "/r", directory: "/r", command: ["x"], description: "" }), {
            message: 'program name "shop api" must be letters, digits, `-` and `_`, starting with a letter or digit',
        });
    });

    it("renders an env file both sh and systemd read, refusing a value with a line break by name", async () => {
        const text = renderEnvFile({ TOKEN: 'a"b$c`d\\e', PORT: "9000" });
        assert.equal(text, 'PORT="9000"\nTOKEN="a\\"b\\$c\\`d\\\\e"\n');
        const dir = await tempDir("safe-release-env-");
        fs.writeFileSync(path.join(dir, "env"), text);
        const { stdout } = await run("/bin/sh", ["-c", `set -a && . ${dir}/env && printf '%s' "$TOKEN"`]);
        assert.equal(stdout, 'a"b$c`d\\e');
        fs.rmSync(dir, { recursive: true, force: true });
        assert.throws(() => renderEnvFile({ KEY: "line\nbreak" }), {
            message: "the value of KEY holds a line break or NUL, which an env file cannot carry",
        });
    });

    it("renders a systemd template unit that `systemd-analyze verify` accepts", async function () {
        if (!fs.existsSync("/usr/bin/systemd-analyze")) throw new Error("systemd-analyze is missing: install the Debian package `systemd`");
        const root = await tempDir("safe-release-unit-");
        const unit = renderUnitTemplate({
            app: "shop",
            component: "api",
            root,
            command: ["./api", "--port", "9000"],
            dataDirectory: `${root}/data`,
        });
        assert.match(unit, new RegExp(`^ExecStart=${root}/releases/%i/api/api --port 9000$`, "m"));
        assert.match(unit, new RegExp(`^EnvironmentFile=${root}/env/shop-api@%i.env$`, "m"));
        assert.match(unit, /^Restart=on-failure$/m);
        fs.mkdirSync(`${root}/releases/v1.5.0/api`, { recursive: true });
        fs.mkdirSync(`${root}/env`);
        fs.writeFileSync(`${root}/releases/v1.5.0/api/api`, "#!/bin/sh\n", { mode: 0o755 });
        fs.writeFileSync(`${root}/env/shop-api@v1.5.0.env`, 'PORT="9000"\n', { mode: 0o600 });
        const unitDir = `${root}/units`;
        fs.mkdirSync(unitDir);
        fs.writeFileSync(`${unitDir}/shop-api@.service`, unit);
        fs.symlinkSync(`${unitDir}/shop-api@.service`, `${unitDir}/shop-api@v1.5.0.service`);
        const result = await run("systemd-analyze", ["verify", "--man=no", `${unitDir}/shop-api@v1.5.0.service`]).then(
            (r) => ({ ok: true, output: r.stderr }),
            (err: Error) => ({ ok: false, output: err.message }),
        );
        fs.rmSync(root, { recursive: true, force: true });
        assert.ok(result.ok, result.output);
        assert.doesNotMatch(result.output, /shop-api/);
    });
});
