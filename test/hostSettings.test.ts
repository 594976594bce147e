import { strict as assert } from "assert";
import { checkHostMachine, MachineFacts } from "../components/host/machineChecks";
import { parseReleaseConfig } from "../settings/release";
import { assignSlots, parseHostSettings, servicePort } from "../settings/host";
import { checkHostKeySecret, hostSecretKeys } from "../settings/hostRemote";
import { SHA, hostConfig } from "./hostFixtures";

const ROOT = "/tmp/no-such-host-root";
function raw(overrides: Record<string, unknown> = {}): Record<string, unknown> {
    const stack = hostConfig(ROOT, { "release:version": "v1.5.0" });
    const values = Object.fromEntries(Object.entries(stack).map(([k, v]) => [k.slice("release:".length), v]));
    return Object.fromEntries(Object.entries({ ...values, ...overrides }).filter(([, v]) => v !== undefined));
}
const host = (patch: Record<string, unknown>) => ({ host: { root: `${ROOT}/srv`, ...patch } });
const SHA_RULE = "the artifact's SHA-256 as `sha256sum <file>` prints it (64 lower-case hex digits)";

const BAD: Array<[string, Record<string, unknown>, string]> = [
    ["host missing", { host: undefined }, '`release:host` must be set when `release:platform` is "host" (at least `root`); got nothing'],
    [
        "a relative root",
        host({ root: "srv/shop" }),
        '`release:host.root` must be an absolute directory path such as `/srv/shop` (letters, digits and `-._/`, no `..`); got "srv/shop"',
    ],
    ["an unknown manager", host({ manager: "runit" }), '`release:host.manager` must be one of "supervisord", "systemd"; got "runit"'],
    [
        "a missing sha256",
        { artifacts: { "v1.5.0": { api: { path: "api" }, worker: { path: "w", sha256: SHA("w") } } } },
        `\`release:artifacts.v1.5.0.api.sha256\` must be ${SHA_RULE}; got nothing`,
    ],
    [
        "a sha256 with a prefix",
        { artifacts: { "v1.5.0": { api: { path: "api", sha256: `sha256:${SHA("a")}` }, worker: { path: "w", sha256: SHA("w") } } } },
        `\`release:artifacts.v1.5.0.api.sha256\` must be ${SHA_RULE}; got "sha256:${SHA("a")}"`,
    ],
    [
        "no artifact for a live version",
        { artifacts: {} },
        "`release:artifacts.v1.5.0.api` is required on host because v1.5.0 is live: { path or url, sha256 } of api's artifact (a file or a .tar.gz)",
    ],
    [
        "both path and url",
        { artifacts: { "v1.5.0": { api: { path: "a", url: "https://x/a", sha256: SHA("a") } } } },
        "`release:artifacts.v1.5.0.api` must have exactly one of `path` and `url`; got both",
    ],
    [
        "a plain http url off loopback",
        { artifacts: { "v1.5.0": { api: { url: "http://example.com/a", sha256: SHA("a") } } } },
        '`release:artifacts.v1.5.0.api.url` must be an `https://` URL (plain `http://` only on a loopback address); got "http://example.com/a"',
    ],
    [
        "canary for a component with exclusive data",
        host({ mode: { api: "canary" }, exclusiveData: { api: "/srv/db" } }),
        '`release:host.mode.api` must be "replace" for `api`: `release:host.exclusiveData.api` declares a data directory only one process ' +
            'may open (/srv/db), so two versions cannot run side by side; got "canary"',
    ],
    [
        "a router port among the service ports",
        host({ routerPort: 9005, basePort: 9000 }),
        "`release:host.routerPort` 9005 (the router also takes 9006–9008) overlaps the service ports 9000–9009 from `release:host.basePort`; move one of them",
    ],
    [
        "image digests on host",
        { digests: {} },
        "`release:digests` does not apply on host: pin each artifact by `release:artifacts.<version>.<component>.sha256`",
    ],
    [
        "a component without a command",
        { components: { api: { role: "web", port: 8080 } } },
        '`release:components.api.command` must be set on host: the program to run and its arguments, relative to the release directory, such as ["./api", "--listen", "127.0.0.1"]; got nothing',
    ],
    [
        "a canary split while a component is replaced",
        { ...host({ exclusiveData: { api: "/srv/db" } }), previous: "v1.4.2", canaryWeight: 10 },
        "`release:canaryWeight` must be 100 while `release:previous` is set, because `api` runs in `replace` mode (one version at a time; " +
            "v1.4.2's release directory is kept for a rollback); got 10",
    ],
    [
        "an address that is not ssh://user@host[:port]",
        host({ address: "deploy@db1", privateKey: "config:sshKey" }),
        '`release:host.address` must be `ssh://user@host` or `ssh://user@host:port` (a user name, a host name or IPv4 address, a port 1–65535); got "deploy@db1"',
    ],
    [
        "an address with a port out of range",
        host({ address: "ssh://deploy@db1:70000", privateKey: "config:sshKey" }),
        '`release:host.address` must be `ssh://user@host` or `ssh://user@host:port` (a user name, a host name or IPv4 address, a port 1–65535); got "ssh://deploy@db1:70000"',
    ],
    [
        "an address without a key reference",
        host({ address: "ssh://deploy@db1" }),
        "`release:host.privateKey` is required with `release:host.address`: `config:<key>`, naming the stack secret that holds the SSH private key " +
            "(`pulumi config set --secret <key> < <key file>`)",
    ],
    [
        "a pasted key instead of a reference, without quoting it",
        host({ address: "ssh://deploy@db1", privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n" }),
        "`release:host.privateKey` must be `config:<key>`, naming the stack secret that holds the SSH private key " +
            "(`pulumi config set --secret <key> < <key file>`), never the key itself; got a value that is not such a reference (not shown)",
    ],
    [
        "a router on a remote host's loopback address, which the smoke tests cannot reach from here",
        host({ address: "ssh://deploy@db1", privateKey: "config:sshKey", routerAddress: "127.0.0.1" }),
        "`release:host.routerAddress` must be an address of db1 that the machine running Pulumi reaches, or `0.0.0.0` " +
            '(the smoke tests and the `url` output call the router from here); got "127.0.0.1"',
    ],
    [
        "a key reference without an address",
        host({ privateKey: "config:sshKey" }),
        "`release:host.privateKey` applies only with `release:host.address`; set the address or remove the key",
    ],
    [
        "a remote host's directory backup of its root",
        { ...host({ address: "ssh://deploy@db1", privateKey: "config:sshKey" }), backup: { directory: `${ROOT}/srv/` } },
        `\`release:backup.directory\` must be a data directory of db1 that is neither \`release:host.root\` (${ROOT}/srv) nor above it ` +
            "(its archive and restore would take the agent, the releases and the service manager's socket with them); " +
            `got "${ROOT}/srv/"`,
    ],
    [
        "a remote host's directory backup of a directory above its root",
        { ...host({ address: "ssh://deploy@db1", privateKey: "config:sshKey" }), backup: { directory: "/tmp" } },
        `\`release:backup.directory\` must be a data directory of db1 that is neither \`release:host.root\` (${ROOT}/srv) nor above it ` +
            "(its archive and restore would take the agent, the releases and the service manager's socket with them); " +
            'got "/tmp"',
    ],
];

describe("`release:host` settings (settings/host.ts)", () => {
    for (const [what, overrides, message] of BAD) {
        it(`refuses ${what}`, () => assert.throws(() => parseReleaseConfig(raw(overrides)), { name: "ConfigError", message }));
    }

    it("accepts a remote host's directory backup of a data directory inside its root, or beside it", () => {
        for (const directory of [`${ROOT}/srv/data`, "/var/lib/shop", `${ROOT}/srv-data`]) {
            const config = parseReleaseConfig(
                raw({ ...host({ address: "ssh://deploy@db1", privateKey: "config:sshKey" }), backup: { directory } }),
            );
            assert.equal(config.data.backup.directory, directory);
        }
    });

    it("parses the defaults, and a component with exclusive data defaults to replace", () => {
        const config = parseReleaseConfig(raw(host({ exclusiveData: { worker: "/srv/db" } })));
        assert.deepEqual(config.host, {
            root: `${ROOT}/srv`,
            manager: "supervisord",
            mode: { api: "canary", worker: "replace" },
            keep: 5,
            routerPort: 8080,
            routerAddress: "127.0.0.1",
            basePort: 9000,
            supervisorctl: "supervisorctl",
            supervisorConfig: "/etc/supervisor/supervisord.conf",
            programDir: "/etc/supervisor/conf.d",
            unitDir: "/etc/systemd/system",
            nginx: "nginx",
            healthWaitSeconds: 60,
            exclusiveData: { worker: "/srv/db" },
        });
        assert.equal(config.digests["v1.5.0"].api, `sha256:${SHA("api v1.5.0")}`);
        assert.equal(config.components[0].image, "shop-api");
    });

    it("reads `release:host.address` and the key's secret, and checks the secret is set and secret", () => {
        const settings = parseHostSettings(
            { root: "/srv/shop", address: "ssh://deploy@db-1.internal:2222", privateKey: "config:sshKey" },
            [],
        );
        assert.deepEqual(settings.remote, { user: "deploy", host: "db-1.internal", port: 2222, privateKeyConfig: "sshKey" });
        assert.deepEqual(parseHostSettings({ root: "/srv/shop", address: "ssh://root@10.0.0.5", privateKey: "config:k" }, []).remote, {
            user: "root",
            host: "10.0.0.5",
            port: 22,
            privateKeyConfig: "k",
        });
        assert.equal(parseHostSettings({ root: "/srv/shop" }, []).remote, undefined);
        assert.deepEqual(hostSecretKeys({ privateKey: "config:sshKey" }), ["sshKey"]);
        assert.deepEqual(hostSecretKeys({ privateKey: "-----BEGIN" }), []);
        const yes = () => true;
        const no = () => false;
        assert.doesNotThrow(() => checkHostKeySecret(settings, yes, yes));
        assert.throws(() => checkHostKeySecret(settings, no, no), {
            name: "ConfigError",
            message:
                "`release:sshKey` is missing: `release:host.privateKey` refers to it; set the SSH private key with `pulumi config set --secret sshKey < <key file>`",
        });
        assert.throws(() => checkHostKeySecret(settings, yes, no), {
            name: "ConfigError",
            message:
                "`release:sshKey` must be a secret: `release:host.privateKey` refers to it, and a private key is never stored in plain text; " +
                "set it again with `pulumi config set --secret sshKey < <key file>` (and rotate the key, since the stack file held it)",
        });
    });

    it("keeps each version's slot while it is live, whichever is `version` or `previous`", () => {
        assert.deepEqual(assignSlots(["v1.4.2"], {}), { "v1.4.2": 0 });
        assert.deepEqual(assignSlots(["v1.5.0", "v1.4.2"], { "v1.4.2": 0 }), { "v1.5.0": 1, "v1.4.2": 0 });
        assert.deepEqual(assignSlots(["v1.4.2", "v1.5.0"], { "v1.5.0": 1, "v1.4.2": 0 }), { "v1.4.2": 0, "v1.5.0": 1 });
        assert.deepEqual(assignSlots(["v1.5.0"], { "v1.5.0": 1, "v1.4.2": 0 }), { "v1.5.0": 1 });
        assert.deepEqual(assignSlots(["v1.6.0", "v1.5.0"], { "v1.5.0": 1 }), { "v1.6.0": 0, "v1.5.0": 1 });
        assert.equal(servicePort(9000, 1, 1), 9011);
    });
});

describe("`release:host` checks of the machine (components/host/machineChecks.ts)", () => {
    const facts = (patch: Partial<MachineFacts> = {}): MachineFacts => ({
        systemdRunning: false,
        listening: new Set(),
        which: (p) => `/usr/bin/${p}`,
        unwritable: () => undefined,
        exists: (file) => !file.endsWith(".safe-release.json"),
        sha256: (file) => SHA(file.endsWith("api-v1.5.0") ? "api v1.5.0" : "worker v1.5.0"),
        ...patch,
    });
    const config = (overrides: Record<string, unknown> = {}) => parseReleaseConfig(raw(overrides));
    const refuses = (overrides: Record<string, unknown>, patch: Partial<MachineFacts>, message: string) =>
        assert.throws(() => checkHostMachine(config(overrides), facts(patch)), { name: "ConfigError", message });

    it("accepts a machine with everything in place", () => assert.equal(checkHostMachine(config(), facts()), undefined));

    it("on a remote host, checks only the artifacts here and says the machine checks were not run", () => {
        const remote = host({ address: "ssh://deploy@db1", privateKey: "config:sshKey" });
        const nothingHere: Partial<MachineFacts> = { which: () => undefined, unwritable: () => "ENOENT", listening: new Set([8080, 9000]) };
        assert.equal(
            checkHostMachine(config(remote), facts(nothingHere)),
            "the machine checks of `release:host` (service manager, nginx, root writable, ports free) were not run: the host is db1 " +
                "(`release:host.address`), reached only by the update's steps, which fail there naming what is missing; " +
                "the artifacts' digests were checked here",
        );
        // A release directory of the same path here is not the remote's: the artifact is checked all the same.
        refuses(
            remote,
            { ...nothingHere, exists: () => true, sha256: () => SHA("other") },
            `\`release:artifacts.v1.5.0.api.sha256\` is ${SHA("api v1.5.0")}, but ${ROOT}/api-v1.5.0 has sha256 ${SHA("other")}; pin the artifact's digest (\`sha256sum ${ROOT}/api-v1.5.0\`)`,
        );
    });

    it("refuses systemd where systemd is not running", () =>
        refuses(
            host({ manager: "systemd" }),
            {},
            '`release:host.manager` is "systemd", but systemd is not running on this machine (/run/systemd/system is missing: PID 1 is not systemd); use "supervisord" (Debian package `supervisor`)',
        ));

    it("names the Debian package of a missing supervisorctl", () =>
        refuses(
            {},
            { which: (p) => (p === "supervisorctl" ? undefined : p) },
            "`release:host.supervisorctl` supervisorctl is not installed on this machine: install the Debian package `supervisor` (apt-get install supervisor) or give its path",
        ));

    it("refuses a root it cannot write", () =>
        refuses(
            {},
            { unwritable: () => "EACCES on /tmp" },
            `\`release:host.root\` ${ROOT}/srv is not writable by this user (EACCES on /tmp); give a directory it may write`,
        ));

    it("refuses a service port another process holds", () =>
        refuses(
            host({ basePort: 9000 }),
            { listening: new Set([9000]) },
            "`release:host.basePort`: port 9000 (api of v1.5.0) is taken by another process; stop it or choose another `basePort`",
        ));

    it("refuses a router port another process holds", () =>
        refuses(
            host({}),
            { listening: new Set([8081]) },
            "`release:host.routerPort`: port 8081 (the router takes 8080, 8081, 8082, 8083) is taken by another process; stop it or choose another `routerPort`",
        ));

    it("refuses an artifact path that does not exist", () =>
        refuses(
            {},
            { exists: (f) => !f.endsWith("api-v1.5.0") && !f.endsWith(".safe-release.json") },
            `\`release:artifacts.v1.5.0.api.path\` ${ROOT}/api-v1.5.0 does not exist (paths are relative to the project directory)`,
        ));

    it("refuses an artifact whose bytes do not match its sha256", () =>
        refuses(
            {},
            { sha256: () => SHA("other") },
            `\`release:artifacts.v1.5.0.api.sha256\` is ${SHA("api v1.5.0")}, but ${ROOT}/api-v1.5.0 has sha256 ${SHA("other")}; pin the artifact's digest (\`sha256sum ${ROOT}/api-v1.5.0\`)`,
        ));
});
