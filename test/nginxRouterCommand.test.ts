import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { Writable } from "stream";
import { readConfigFingerprint, renderNginxConfig, RouterSpec } from "../core/nginxConfig";
import { main } from "../ops/cli";
import { atTestEnd, run, tempDir } from "./support/processes";
import { NGINX_BINARY } from "./support/nginx";

const SPEC: RouterSpec = {
    listenPort: 8080,
    statusPort: 8081,
    versions: [
        { name: "v1.5.0", weight: 25, directPort: 18001 },
        { name: "v1.4.2", weight: 75, directPort: 18002 },
    ],
    components: [{ name: "web", pathPrefix: "/", backends: { "v1.5.0": ["127.0.0.1:3001"], "v1.4.2": ["127.0.0.1:3002"] } }],
};

async function routerCommand(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    let stdout = "";
    let stderr = "";
    const sink = (append: (text: string) => void) => new Writable({ write: (chunk, _e, done) => (append(String(chunk)), done()) });
    const code = await main(["router", ...args], {
        env: {},
        stdout: sink((text) => (stdout += text)),
        stderr: sink((text) => (stderr += text)),
    });
    return { code, stdout, stderr };
}

describe("safe-release-ops router", () => {
    let dir: string;
    let specFile: string;

    before(async () => {
        dir = await tempDir("safe-release-router-");
        atTestEnd(async () => fs.rmSync(dir, { recursive: true, force: true }));
        specFile = path.join(dir, "spec.json");
        fs.writeFileSync(specFile, JSON.stringify(SPEC));
    });

    it("prints the rendered config, which nginx accepts", async () => {
        // nginx cannot open /dev/stdout when its stdout is a socket, as under the test runner.
        const spec = { ...SPEC, accessLogPath: path.join(dir, "access.log"), tempDirectory: dir };
        const file = path.join(dir, "with-paths.json");
        fs.writeFileSync(file, JSON.stringify(spec));
        const result = await routerCommand(["render", "--spec", file]);
        assert.deepStrictEqual(result, { code: 0, stdout: renderNginxConfig(spec), stderr: "" });
        const confFile = path.join(dir, "printed.conf");
        fs.writeFileSync(confFile, result.stdout);
        await run(NGINX_BINARY, ["-t", "-q", "-p", dir, "-c", confFile, "-g", `pid ${path.join(dir, "t.pid")}; error_log stderr;`]);
    });

    it("writes `--out` whole and reports its path and fingerprint as JSON", async () => {
        const out = path.join(dir, "nginx.conf");
        fs.writeFileSync(out, "old config\n");
        const result = await routerCommand(["render", "--spec", specFile, "--out", out]);
        const config = renderNginxConfig(SPEC);
        assert.deepStrictEqual(result, {
            code: 0,
            stdout: `{"path":"${out}","fingerprint":"${readConfigFingerprint(config)}"}\n`,
            stderr: "",
        });
        assert.strictEqual(fs.readFileSync(out, "utf8"), config);
        assert.deepStrictEqual(
            fs.readdirSync(dir).filter((name) => name.endsWith(".tmp")),
            [],
        );
    });

    it("refuses a spec that fails validation with the validator's message (exit 2)", async () => {
        const bad = path.join(dir, "bad-weights.json");
        fs.writeFileSync(bad, JSON.stringify({ ...SPEC, versions: [{ ...SPEC.versions[0], weight: 30 }, SPEC.versions[1]] }));
        assert.deepStrictEqual(await routerCommand(["render", "--spec", bad]), {
            code: 2,
            stdout: "",
            stderr: "router: `versions` weights must sum to 100 (`release:canaryWeight` on the new version, the rest on the previous); got 105 (v1.5.0: 30, v1.4.2: 75)\n",
        });
    });

    it("refuses a file that is not JSON, or not shaped like a spec (exit 2)", async () => {
        const notJson = path.join(dir, "not.json");
        fs.writeFileSync(notJson, "versions: []\n");
        const result = await routerCommand(["render", "--spec", notJson]);
        assert.strictEqual(result.code, 2);
        assert.match(result.stderr, new RegExp(`^router: \`--spec\` ${notJson} is not JSON: `));
        const shapeless = path.join(dir, "shapeless.json");
        fs.writeFileSync(
            shapeless,
            JSON.stringify({ ...SPEC, components: [{ name: "web", pathPrefix: "/", backends: { "v1.5.0": "a:1" } }] }),
        );
        assert.deepStrictEqual(await routerCommand(["render", "--spec", shapeless]), {
            code: 2,
            stdout: "",
            stderr: `router: \`--spec\` ${shapeless} must be an object with \`versions\` [{name, weight, directPort}] and \`components\` [{name, pathPrefix, backends}]\n`,
        });
    });

    it("reports a missing spec file on stderr (exit 1)", async () => {
        const missing = path.join(dir, "missing.json");
        assert.deepStrictEqual(await routerCommand(["render", "--spec", missing]), {
            code: 1,
            stdout: "",
            stderr: `router: ENOENT: no such file or directory, open '${missing}'\n`,
        });
    });

    it("refuses a missing `--spec`, an unknown option and an unknown subcommand (exit 2)", async () => {
        assert.deepStrictEqual(await routerCommand(["render"]), {
            code: 2,
            stdout: "",
            stderr: "router: `--spec` must name a router spec JSON file; got nothing\n",
        });
        assert.deepStrictEqual(await routerCommand(["render", "--spec", specFile, "--weight", "5"]), {
            code: 2,
            stdout: "",
            stderr: "router: Unknown option '--weight'\n",
        });
        assert.deepStrictEqual(await routerCommand(["apply", "--spec", specFile]), {
            code: 2,
            stdout: "",
            stderr: 'router: the subcommand must be `render`; got "apply"\n',
        });
    });
});
