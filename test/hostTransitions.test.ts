import { strict as assert } from "assert";
import * as fs from "fs";
import { hostConfig, hostRoot, SHA } from "./hostFixtures";
import { resource, rollbackCheckOf } from "./support/inspect";
import { ProgramRun, runProgram } from "./support/mockEngine";
import { StackConfig } from "./support/mockProviders";
import { diffRuns, planDiff } from "./support/planDiff";

const ROUTER_CONFIG = "command:local:Command::shop-host-router-config";

function versionResources(version: string): string[] {
    return [
        `command:local:Command::shop-host-${version}-api`,
        `command:local:Command::shop-host-${version}-api-release`,
        `command:local:Command::shop-host-${version}-worker`,
        `command:local:Command::shop-host-${version}-worker-release`,
        `safe-release:host:HostVersion::shop-host-${version}`,
        `safe-release:image:PinnedImage::shop-${version}-api`,
        `safe-release:image:PinnedImage::shop-${version}-worker`,
    ].sort();
}

/** What the router command would record once the config serves: version → slot. */
function recordRouted(root: string, run: ProgramRun): void {
    const create: string = resource(run, "command:local:Command", "shop-host-router-config").inputs.create;
    const slots = JSON.parse(JSON.parse(`"${/--slots-json '([^']*)'/.exec(create)![1].replace(/"/g, '\\"')}"`)) as Record<string, string>;
    fs.mkdirSync(`${root}/srv/router`, { recursive: true });
    fs.writeFileSync(
        `${root}/srv/router/live.json`,
        JSON.stringify(Object.fromEntries(Object.entries(slots).map(([v, s]) => [v, Number(s)]))),
    );
}

/** Version → port its api program listens on, from the program commands' `PORT`. */
function apiPorts(run: ProgramRun): Record<string, number> {
    const ports: Record<string, number> = {};
    for (const r of run.resources.values()) {
        const match = /^shop-host-(v[\d.]+)-api$/.exec(r.name);
        if (match) ports[match[1]] = Number(/"PORT":"(\d+)"/.exec(r.inputs.create)![1]);
    }
    return ports;
}

function routerWeights(run: ProgramRun): Record<string, number> {
    const config: string = resource(run, "command:local:Command", "shop-host-router-config").inputs.stdin;
    const ports = Object.fromEntries(
        [...config.matchAll(/listen 127\.0\.0\.1:(\d+);\s+add_header X-Release-Version (\S+) always;/g)].map((m) => [m[1], m[2]]),
    );
    const front = /upstream api__weighted \{\n([\s\S]*?)\n\s*\}/.exec(config)![1];
    return Object.fromEntries(
        [...front.matchAll(/server 127\.0\.0\.1:(\d+) (?:weight=(\d+)|backup)/g)].map((m) => [ports[m[1]], Number(m[2] ?? 0)]),
    );
}

describe("release transitions on host (DESIGN.md transition table)", () => {
    const root = hostRoot();
    const release = (version: string, previous?: string, canaryWeight?: number): StackConfig =>
        hostConfig(root, {
            "release:version": version,
            ...(previous !== undefined ? { "release:previous": previous } : {}),
            ...(canaryWeight !== undefined ? { "release:canaryWeight": canaryWeight } : {}),
        });
    afterEach(() => fs.rmSync(`${root}/srv/router/live.json`, { force: true }));
    after(() => fs.rmSync(root, { recursive: true, force: true }));

    it("first deploy: installs and starts v1.4.2 on slot 0, the router and its config", async () => {
        const empty: ProgramRun = { resources: new Map(), outputs: {} };
        const after = await runProgram({ config: release("v1.4.2") });
        const diff = diffRuns(empty, after);
        for (const name of [...versionResources("v1.4.2"), "command:local:Command::shop-host-router", ROUTER_CONFIG]) {
            assert.ok(diff.names("created").includes(name), name);
        }
        assert.deepEqual(apiPorts(after), { "v1.4.2": 19000 });
        assert.deepEqual(routerWeights(after), { "v1.4.2": 100 });
        assert.equal(after.outputs.url, "http://127.0.0.1:18080");
    });

    it("start a release: v1.5.0 gets its own port beside v1.4.2's, at weight 0", async () => {
        recordRouted(root, await runProgram({ config: release("v1.4.2") }));
        const diff = await planDiff(release("v1.4.2"), release("v1.5.0", "v1.4.2", 0));
        assert.deepEqual(diff.names("created"), [...versionResources("v1.5.0"), ...rollbackCheckOf("v1.5.0")].sort());
        // v1.4.2's release directories must still hold what was installed, by the digests its config pins.
        assert.equal(
            resource(diff.after, "command:local:Command", "shop-rollback-check-v1.5.0-run").inputs.create,
            `node ops/bin/safe-release-ops.js host-check --root ${root}/srv --version v1.4.2 ` +
                `--components api=${SHA("api v1.4.2")},worker=${SHA("worker v1.4.2")}`,
        );
        assert.deepEqual(diff.names("updated"), ["command:local:Command::shop-host-prune", ROUTER_CONFIG]);
        assert.deepEqual(diff.names("deleted"), []);
        assert.deepEqual(apiPorts(diff.after), { "v1.5.0": 19001, "v1.4.2": 19000 });
    });

    it("shift traffic 10 → 50: changes the router command only", async () => {
        recordRouted(root, await runProgram({ config: release("v1.5.0", "v1.4.2", 10) }));
        const diff = await planDiff(release("v1.5.0", "v1.4.2", 10), release("v1.5.0", "v1.4.2", 50));
        assert.deepEqual(diff.names("updated"), [ROUTER_CONFIG]);
        assert.deepEqual([...diff.names("created"), ...diff.names("deleted")], []);
        assert.deepEqual(routerWeights(diff.after), { "v1.5.0": 50, "v1.4.2": 50 });
    });

    it("warm rollback (swap version and previous): changes the router command only, no port moves", async () => {
        recordRouted(root, await runProgram({ config: release("v1.4.2") }));
        const started = await runProgram({ config: release("v1.5.0", "v1.4.2", 100) });
        recordRouted(root, started);
        const diff = await planDiff(release("v1.5.0", "v1.4.2", 100), release("v1.4.2", "v1.5.0", 100));
        assert.deepEqual(diff.names("updated"), [ROUTER_CONFIG]);
        assert.deepEqual([...diff.names("created"), ...diff.names("deleted")], []);
        assert.deepEqual(apiPorts(diff.after), apiPorts(started));
        assert.deepEqual(routerWeights(diff.after), { "v1.4.2": 100, "v1.5.0": 0 });
    });

    it("retire the previous: removes v1.4.2's programs, keeps v1.5.0 on its port", async () => {
        recordRouted(root, await runProgram({ config: release("v1.4.2") }));
        recordRouted(root, await runProgram({ config: release("v1.5.0", "v1.4.2", 100) }));
        const diff = await planDiff(release("v1.5.0", "v1.4.2", 100), release("v1.5.0"));
        assert.deepEqual(diff.names("deleted"), versionResources("v1.4.2"));
        assert.deepEqual(diff.names("updated"), ["command:local:Command::shop-host-prune", ROUTER_CONFIG]);
        assert.deepEqual(apiPorts(diff.after), { "v1.5.0": 19001 });
    });
});
