import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { LogSeverity } from "@pulumi/pulumi/proto/engine_pb";
import { PluginInfo } from "@pulumi/pulumi/proto/plugin_pb";
import * as providerRpc from "@pulumi/pulumi/proto/provider_grpc_pb";
import * as providerProto from "@pulumi/pulumi/proto/provider_pb";
import { diffInputs } from "./command/diff";
import { commandArgv, commandEnvironment, loggedStreams, NO_PREVIOUS_OUTPUT } from "./command/local/environment";
import { checkLocalCommandInputs, LOCAL_COMMAND_INPUTS, LOCAL_COMMAND_REPLACE_ON_CHANGES } from "./command/local/inputs";
import { failureMessage, goQuote, maskSecrets, trimOutput } from "./command/output";
import { commandProvider } from "./command/provider";
import { installCommandPlugin } from "./command/install";
import { commandUrn, fakeEngine, grpc, recordingLog, startPlugin, stopPlugin } from "./command/testing";
import { reveal, secret, secretStrings, UNKNOWN, WireMap } from "./command/wire";
import { atTestEnd, tempDir } from "../support/processes";

const diff = (olds: WireMap, news: WireMap) => diffInputs(LOCAL_COMMAND_INPUTS, LOCAL_COMMAND_REPLACE_ON_CHANGES, olds, news);

describe("stand-in command provider: pure parts", () => {
    it("trims one trailing newline from output, as upstream does, and nothing else", () => {
        assert.deepStrictEqual(["a\n", "a\n\n", "a\r\n", "", " a \n"].map(trimOutput), ["a", "a\n", "a\r", "", " a "]);
    });

    it("quotes the command in a failure as Go's %q does", () => {
        assert.strictEqual(goQuote('echo "hi"\n\tdone \x1b é\\'), '"echo \\"hi\\"\\n\\tdone \\x1b é\\\\"');
        assert.strictEqual(failureMessage("exit status 2", "false", "out\n"), 'exit status 2: running "false":\nout\n');
    });

    it("masks secrets and their JSON-escaped forms, but not values the engine's filter also leaves alone", () => {
        const secrets = ['pa"ss', "ab", "true", "token-123"];
        assert.strictEqual(maskSecrets('token-123 ab true pa"ss pa\\"ss', secrets), "[secret] ab true [secret] [secret]");
    });

    it("builds the environment: the plugin's, then `environment`, then the previous output", () => {
        const base = { PATH: "/bin", SHARED: "from-engine", PULUMI_COMMAND_STDOUT: "stale" };
        const inputs = { environment: { SHARED: "from-input", OWN: "x" } };
        assert.deepStrictEqual(commandEnvironment(base, inputs, { stdout: "last out", stderr: "" }), {
            PATH: "/bin",
            SHARED: "from-input",
            OWN: "x",
            PULUMI_COMMAND_STDOUT: "last out",
        });
        const withoutPrevious = commandEnvironment({}, { addPreviousOutputInEnv: false }, { stdout: "o", stderr: "e" });
        assert.deepStrictEqual(withoutPrevious, {});
        assert.deepStrictEqual(commandEnvironment({}, {}, NO_PREVIOUS_OUTPUT), {});
        assert.deepStrictEqual(commandEnvironment({}, {}, { stdout: "o", stderr: "e" }), {
            PULUMI_COMMAND_STDOUT: "o",
            PULUMI_COMMAND_STDERR: "e",
        });
    });

    it("runs through /bin/sh -c unless `interpreter` names a program", () => {
        assert.deepStrictEqual(commandArgv("ls", undefined), ["/bin/sh", "-c", "ls"]);
        assert.deepStrictEqual(commandArgv("ls", []), ["/bin/sh", "-c", "ls"]);
        assert.deepStrictEqual(commandArgv("print(1)", ["python3", "-c"]), ["python3", "-c", "print(1)"]);
    });

    it("logs the streams `logging` names, both when unset", () => {
        const table = [undefined, "stdout", "stderr", "stdoutAndStderr", "none"] as const;
        assert.deepStrictEqual(
            table.map((logging) => loggedStreams(logging)),
            [
                { stdout: true, stderr: true },
                { stdout: true, stderr: false },
                { stdout: false, stderr: true },
                { stdout: true, stderr: true },
                { stdout: false, stderr: false },
            ],
        );
    });

    it("diffs as upstream: a changed input updates, a changed `triggers` replaces", () => {
        const olds = { create: "a", update: "true", triggers: ["v1"], stdout: "out", stderr: "" };
        assert.deepStrictEqual(diff(olds, { create: "a", update: "true", triggers: ["v1"] }), { changed: [], replaces: [] });
        assert.deepStrictEqual(diff(olds, { create: "b", update: "true", triggers: ["v1"] }), { changed: ["create"], replaces: [] });
        assert.deepStrictEqual(diff(olds, { create: "a", triggers: ["v2"] }), { changed: ["triggers", "update"], replaces: ["triggers"] });
        assert.deepStrictEqual(diff(olds, { create: "a", update: "true", triggers: [UNKNOWN] }), {
            changed: ["triggers"],
            replaces: ["triggers"],
        });
    });

    it("diffs null as unset and ignores secretness that `additionalSecretOutputs` put on the stored state", () => {
        const olds = { create: "a", environment: secret({ TOKEN: "t" }), dir: null };
        assert.deepStrictEqual(diff(olds, { create: "a", environment: { TOKEN: secret("t") } }), { changed: [], replaces: [] });
        assert.deepStrictEqual(diff(olds, { create: "a", environment: { TOKEN: secret("u") } }), {
            changed: ["environment"],
            replaces: [],
        });
    });

    it("reveals secrets for the command and collects them for masking", () => {
        const wire = { environment: { A: secret("alpha"), B: "plain" }, stdin: secret({ nested: ["beta", 7] }) };
        assert.deepStrictEqual(reveal(wire), { environment: { A: "alpha", B: "plain" }, stdin: { nested: ["beta", 7] } });
        assert.deepStrictEqual(secretStrings(wire).sort(), ["7", "alpha", "beta"]);
    });

    it("checks inputs with messages that say what is valid, without printing a secret value", () => {
        const failures = checkLocalCommandInputs({
            create: "true",
            logging: "all",
            environment: { GOOD: "x", BAD: secret(12345) },
            assetPaths: ["*.txt"],
            interpreter: "sh",
            comand: "typo",
            dir: UNKNOWN,
        });
        assert.deepStrictEqual(failures, [
            { property: "logging", reason: '`logging` must be one of "stdout", "stderr", "stdoutAndStderr", "none", not "all"' },
            { property: "environment.BAD", reason: "`environment.BAD` must be a string, not a number" },
            {
                property: "assetPaths",
                reason:
                    "`assetPaths` is not served by the stand-in command provider (the program collects no files from its commands); " +
                    "remove it, or install the real pulumi-resource-command",
            },
            { property: "interpreter", reason: "`interpreter` must be a list of strings (program, then arguments), not a string" },
            {
                property: "comand",
                reason:
                    "`comand` is not an input of command:local:Command; valid inputs: addPreviousOutputInEnv, archivePaths, assetPaths, " +
                    "create, delete, dir, environment, interpreter, logging, stdin, triggers, update",
            },
        ]);
        assert.deepStrictEqual(checkLocalCommandInputs({ create: "true", update: null, triggers: [UNKNOWN], environment: UNKNOWN }), []);
    });
});

describe("stand-in command provider: running commands", () => {
    let dir: string;
    const log = recordingLog();
    const provider = commandProvider(log);
    const urn = commandUrn("app-migrate-v1.5.0");

    before(async () => {
        dir = await tempDir("safe-release-command-plugin-");
        atTestEnd(async () => fs.rmSync(dir, { recursive: true, force: true }));
    });
    beforeEach(() => log.lines.splice(0));

    it("creates: runs `create` with stdin, dir and environment; outputs the inputs plus trimmed stdout and stderr", async () => {
        const news = {
            create: 'cat; echo " in $(pwd) with $GREETING"; echo warn >&2',
            stdin: "hello",
            dir,
            environment: { GREETING: "hi" },
        };
        const result = await provider.create!(urn, news);
        assert.match(result.id, /^app-migrate-v1\.5\.0[0-9a-f]{8}$/);
        assert.deepStrictEqual(result.outs, { ...news, stdout: `hello in ${fs.realpathSync(dir)} with hi`, stderr: "warn" });
    });

    it("runs in the plugin's working directory without `dir`, through `interpreter` when given", async () => {
        const { outs } = await provider.create!(urn, { create: "console.log(process.cwd())", interpreter: ["node", "-e"] });
        assert.strictEqual(outs.stdout, process.cwd());
    });

    it("runs nothing and outputs empty stdout/stderr without `create`", async () => {
        assert.deepStrictEqual((await provider.create!(urn, { delete: "echo bye" })).outs, { delete: "echo bye", stdout: "", stderr: "" });
    });

    it("runs nothing while any input is unknown (a preview)", async () => {
        const marker = path.join(dir, "preview-ran");
        const news = { create: `touch ${marker}`, environment: { URL: UNKNOWN } };
        assert.deepStrictEqual((await provider.create!(urn, news)).outs, { ...news, stdout: UNKNOWN, stderr: UNKNOWN });
        assert.strictEqual(fs.existsSync(marker), false);
    });

    it("fails a non-zero exit with upstream's message: cause, quoted command, stdout and stderr as they came", async () => {
        const command = "echo out; sleep 0.2; echo err >&2; exit 3";
        await assert.rejects(provider.create!(urn, { create: command }), { message: `exit status 3: running "${command}":\nout\nerr\n` });
        await assert.rejects(provider.create!(urn, { create: "kill -TERM $$" }), {
            message: 'signal: terminated: running "kill -TERM $$":\n',
        });
    });

    it("fails with Go's text when the interpreter or the directory is missing", async () => {
        await assert.rejects(provider.create!(urn, { create: "true", interpreter: ["no-such-shell", "-c"] }), {
            message: 'exec: "no-such-shell": executable file not found in $PATH: running "true":\n',
        });
        const missing = path.join(dir, "missing");
        await assert.rejects(provider.create!(urn, { create: "true", dir: missing }), {
            message: `chdir ${missing}: no such file or directory: running "true":\n`,
        });
    });

    it("keeps secrets wrapped in the outputs and out of the failure message and the log", async () => {
        const news = { create: 'echo "token is $TOKEN"', environment: { TOKEN: secret("s3cr3t-value"), MODE: "plain" } };
        const { outs } = await provider.create!(urn, news);
        // Upstream marks only the outputs that mirror a secret input; stdout is secret only through `additionalSecretOutputs`.
        assert.deepStrictEqual(outs, { ...news, stdout: "token is s3cr3t-value", stderr: "" });
        assert.deepStrictEqual(log.lines, [{ urn, message: "token is [secret]" }]);
        await assert.rejects(provider.create!(urn, { ...news, create: `${news.create}; exit 1` }), {
            message: `exit status 1: running "echo \\"token is $TOKEN\\"; exit 1":\ntoken is [secret]\n`,
        });
    });

    it("logs line by line what `logging` names, attached to the resource", async () => {
        await provider.create!(urn, { create: "echo o1; echo o2; echo e1 >&2", logging: "stdout" });
        await provider.create!(urn, { create: "echo quiet; echo quiet >&2", logging: "none" });
        await provider.create!(urn, { create: "printf 'e2\\r\\npartial' >&2", logging: "stderr" });
        assert.deepStrictEqual(
            log.lines.map((line) => [line.urn, line.message]),
            [
                [urn, "o1"],
                [urn, "o2"],
                [urn, "e2"],
                [urn, "partial"],
            ],
        );
    });

    it("updates: runs `update` with the previous output in the environment and replaces stdout", async () => {
        const olds = { create: "echo first", update: "old", stdout: "first", stderr: "was warned" };
        const news = { create: "echo first", update: 'echo "again after $PULUMI_COMMAND_STDOUT/$PULUMI_COMMAND_STDERR"' };
        assert.deepStrictEqual((await provider.update!("id", urn, olds, news)).outs, {
            ...news,
            stdout: "again after first/was warned",
            stderr: "",
        });
        const hidden = { ...news, addPreviousOutputInEnv: false };
        assert.strictEqual((await provider.update!("id", urn, olds, hidden)).outs.stdout, "again after /");
    });

    it("updates: runs `create` when `update` is unset; `update: true` (the program's NO_RERUN) empties stdout", async () => {
        const olds = { create: "echo first", stdout: "first", stderr: "" };
        const rerun = await provider.update!("id", urn, olds, { create: "echo second" });
        assert.deepStrictEqual(rerun.outs, { create: "echo second", stdout: "second", stderr: "" });
        const noRerun = await provider.update!("id", urn, { ...olds, update: "true" }, { create: "echo changed", update: "true" });
        assert.deepStrictEqual(noRerun.outs, { create: "echo changed", update: "true", stdout: "", stderr: "" });
        const nothing = await provider.update!("id", urn, { delete: "x", stdout: "kept", stderr: "also" }, { delete: "y" });
        assert.deepStrictEqual(nothing.outs, { delete: "y", stdout: "kept", stderr: "also" });
    });

    it("fails an update without output when its command fails", async () => {
        await assert.rejects(provider.update!("id", urn, { create: "true", stdout: "", stderr: "" }, { create: "echo no >&2; exit 4" }), {
            message: 'exit status 4: running "echo no >&2; exit 4":\nno\n',
        });
    });

    it("deletes: runs `delete` with the stored environment, dir and previous output", async () => {
        const record = path.join(dir, "deleted.txt");
        const state = {
            create: "echo created",
            delete: `echo "$NAME removed $PULUMI_COMMAND_STDOUT in $(pwd)" > ${record}`,
            environment: secret({ NAME: "backup" }),
            dir,
            stdout: "created",
            stderr: "",
        };
        await provider.delete!("id", urn, state);
        assert.strictEqual(fs.readFileSync(record, "utf8"), `backup removed created in ${fs.realpathSync(dir)}\n`);
        await provider.delete!("id", urn, { create: "echo created", stdout: "created", stderr: "" });
        await assert.rejects(provider.delete!("id", urn, { ...state, delete: "exit 9" }), {
            message: 'exit status 9: running "exit 9":\n',
        });
    });

    it("answers check and diff for the local command and refuses types it does not serve", async () => {
        assert.deepStrictEqual(await provider.check!(urn, {}, { create: "true" }), { inputs: { create: "true" }, failures: [] });
        const olds = { create: "true", triggers: ["a"], stdout: "", stderr: "" };
        assert.deepStrictEqual(await provider.diff!("id", urn, olds, { create: "true", triggers: ["a"] }), {
            changes: false,
            replaces: [],
            deleteBeforeReplace: false,
        });
        assert.deepStrictEqual(await provider.diff!("id", urn, olds, { create: "true", triggers: ["b"] }), {
            changes: true,
            replaces: ["triggers"],
            deleteBeforeReplace: false,
        });
        await assert.rejects(provider.create!(commandUrn("copy", "command:remote:CopyFile"), {}), {
            message:
                "the stand-in command provider does not serve command:remote:CopyFile; " +
                "it serves command:local:Command, command:remote:Command, command:remote:CopyToRemote",
        });
    });
});

describe("stand-in command provider: as the engine starts it", function () {
    this.timeout(60000);
    let dir: string;
    let engine: Awaited<ReturnType<typeof fakeEngine>>;
    let plugin: Awaited<ReturnType<typeof startPlugin>>;
    let client: providerRpc.ResourceProviderClient;
    const urn = commandUrn("app-smoke-v1.5.0");

    before(async () => {
        dir = await tempDir("safe-release-command-launcher-");
        atTestEnd(async () => fs.rmSync(dir, { recursive: true, force: true }));
        engine = await fakeEngine();
        atTestEnd(() => engine.stop());
        const executable = installCommandPlugin(path.join(dir, "pulumi-home"));
        assert.strictEqual(executable, path.join(dir, "pulumi-home", "plugins", "resource-command-v1.2.1", "pulumi-resource-command"));
        // The engine starts a plugin in the program's directory with its own address as the argument.
        plugin = await startPlugin(executable, [engine.address], dir);
        atTestEnd(() => stopPlugin(plugin.child));
        client = new providerRpc.ResourceProviderClient(`127.0.0.1:${plugin.port}`, grpc.credentials.createInsecure());
    });
    after(async () => {
        client?.close();
        if (plugin) await stopPlugin(plugin.child);
    });

    const ask = <T>(send: (callback: (err: Error | null, response: T) => void) => unknown): Promise<T> =>
        new Promise((resolve, reject) => send((err, response) => (err ? reject(err) : resolve(response))));

    it("reports version 1.2.1 and accepts secrets", async () => {
        const info = await ask<PluginInfo>((cb) => client.getPluginInfo(new Empty(), cb));
        assert.strictEqual(info.getVersion(), "1.2.1");
        const configured = await ask<providerProto.ConfigureResponse>((cb) => client.configure(new providerProto.ConfigureRequest(), cb));
        assert.strictEqual(configured.getAcceptsecrets(), true);
    });

    it("runs a create in the program's directory, keeps the secret wrapped and sends masked lines to the engine's log", async () => {
        const request = new providerProto.CreateRequest();
        request.setUrn(urn);
        const news = { create: 'pwd; echo "$TOKEN"', environment: { TOKEN: secret("launcher-secret") } };
        request.setProperties(Struct.fromJavaScript(news as any));
        const response = await ask<providerProto.CreateResponse>((cb) => client.create(request, cb));
        const cwd = fs.realpathSync(dir);
        assert.deepStrictEqual(response.getProperties()!.toJavaScript(), { ...news, stdout: `${cwd}\nlauncher-secret`, stderr: "" });
        const info = LogSeverity.INFO;
        assert.deepStrictEqual(engine.logs, [
            { severity: info, message: cwd, urn, ephemeral: true },
            { severity: info, message: "[secret]", urn, ephemeral: true },
        ]);
    });

    it("fails a create with upstream's message", async () => {
        const request = new providerProto.CreateRequest();
        request.setUrn(urn);
        request.setProperties(Struct.fromJavaScript({ create: "exit 5", logging: "none" }));
        await assert.rejects(
            ask((cb) => client.create(request, cb)),
            { details: 'exit status 5: running "exit 5":\n' },
        );
    });
});
