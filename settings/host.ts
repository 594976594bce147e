import { ConfigError, fail, isObject, optionalInteger, optionalString, rejectUnknownKeys, requireObject, requireString } from "./checks";
import { ComponentSpec } from "./components";
import { isReleaseTag } from "../core/releaseTags";
import { RemoteHost, checkRouterReach, parseRemote } from "./hostRemote";

export type HostManager = "supervisord" | "systemd";
/** `canary`: the new version starts on its own port beside the old; `replace`: the old stops first (exclusive data). */
export type HostMode = "canary" | "replace";

/** Where one version's build of one component comes from, and the digest that pins it. */
export interface ArtifactSource {
    /** A file or `.tar.gz` on the machine running Pulumi (relative to the project, or absolute). */
    readonly path?: string;
    /** `https://…` (or `http://` on a loopback address). */
    readonly url?: string;
    /** SHA-256 of the artifact, 64 lower-case hex digits, as `sha256sum` prints it. */
    readonly sha256: string;
}

/** Version → component → artifact. */
export type ArtifactTable = Record<string, Record<string, ArtifactSource>>;

/**
 * The `host` platform: each version's artifact unpacked into its own release
 * directory under `root`, run by a service manager, behind an nginx on the host.
 */
export interface HostSettings {
    /** Absolute directory holding `releases/`, `router/`, `env/`; its path must suit nginx (letters, digits, `-._/`). */
    readonly root: string;
    /** @default "supervisord" */
    readonly manager: HostManager;
    /** Component → mode; `canary` unless the component declares `exclusiveData`. */
    readonly mode: Record<string, HostMode>;
    /** Old release directories kept besides the live set and the schema head's. @default 5 */
    readonly keep: number;
    /** @default 8080 */
    readonly routerPort: number;
    /** @default "127.0.0.1", or "0.0.0.0" with `address` (a remote host) */
    readonly routerAddress: string;
    /** First port of the services; see `servicePort`. @default 9000 */
    readonly basePort: number;
    /** @default "supervisorctl" */
    readonly supervisorctl: string;
    /** The supervisord config `supervisorctl -c` reads. @default "/etc/supervisor/supervisord.conf" */
    readonly supervisorConfig: string;
    /** Where program sections go (a directory the supervisord config includes). @default "/etc/supervisor/conf.d" */
    readonly programDir: string;
    /** Where systemd units go. @default "/etc/systemd/system" */
    readonly unitDir: string;
    /** @default "nginx" */
    readonly nginx: string;
    /** Seconds a started program has to answer its health path (web) or to stay running (worker). @default 60 */
    readonly healthWaitSeconds: number;
    /** Component → the data directory it locks (one process at a time): such a component runs in `replace` mode. */
    readonly exclusiveData: Record<string, string>;
    /** `release:host.address` + `privateKey`: the steps run over SSH there; absent, on the machine running Pulumi. */
    readonly remote?: RemoteHost;
}

export const HOST_KEYS = [
    "root",
    "manager",
    "mode",
    "keep",
    "routerPort",
    "routerAddress",
    "basePort",
    "supervisorctl",
    "supervisorConfig",
    "programDir",
    "unitDir",
    "nginx",
    "healthWaitSeconds",
    "exclusiveData",
    "address",
    "privateKey",
] as const;

/** Ports each web component takes from `basePort`: one per slot, with room to spare. */
export const PORTS_PER_COMPONENT = 10;
const SLOTS = 2;
const MANAGERS: readonly HostManager[] = ["supervisord", "systemd"];
const MODES: readonly HostMode[] = ["canary", "replace"];
const NGINX_SAFE_PATH = /^\/[A-Za-z0-9._\/-]*$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const SHA256 = /^[0-9a-f]{64}$/;
const SHA256_RULE = "the artifact's SHA-256 as `sha256sum <file>` prints it (64 lower-case hex digits)";

/**
 * The port of one component of one version: `basePort + 10 × (its index among
 * the web components) + slot`. The slot is the version's, held for as long as it
 * is live (see `assignSlots`), so neither a shift nor a warm rollback moves a port.
 */
export function servicePort(basePort: number, webIndex: number, slot: number): number {
    return basePort + PORTS_PER_COMPONENT * webIndex + slot;
}

/**
 * Slots of the live set: a version the host already runs keeps its slot; a
 * newcomer takes the lowest slot no staying version holds. `held` is the record
 * of what runs (written by the router once it routes to it), so the answer never
 * depends on whether a version is `version` or `previous`.
 */
export function assignSlots(live: readonly string[], held: Readonly<Record<string, number>>): Record<string, number> {
    const slots: Record<string, number> = {};
    for (const version of live) {
        const slot = held[version];
        if (Number.isInteger(slot) && slot >= 0 && slot < SLOTS && !Object.values(slots).includes(slot)) slots[version] = slot;
    }
    for (const version of live) {
        if (slots[version] !== undefined) continue;
        const free = Array.from({ length: SLOTS }, (_, i) => i).find((slot) => !Object.values(slots).includes(slot));
        slots[version] = free!;
    }
    return slots;
}

export function parseHostSettings(value: unknown, components: ComponentSpec[]): HostSettings {
    const key = "release:host";
    if (value === undefined) fail(key, 'set when `release:platform` is "host" (at least `root`)', value);
    const raw = requireObject(key, value);
    rejectUnknownKeys(key, raw, HOST_KEYS);
    const root = requireString(`${key}.root`, raw.root);
    if (!NGINX_SAFE_PATH.test(root) || root.includes("..") || root === "/") {
        fail(`${key}.root`, "an absolute directory path such as `/srv/shop` (letters, digits and `-._/`, no `..`)", root);
    }
    const manager = raw.manager ?? "supervisord";
    if (!MANAGERS.includes(manager as HostManager)) fail(`${key}.manager`, `one of ${MANAGERS.map((m) => `"${m}"`).join(", ")}`, manager);
    // On this machine the router answers on loopback; on a remote host, where the smoke tests must reach it, on all addresses.
    const routerAddress =
        optionalString(`${key}.routerAddress`, raw.routerAddress) ?? (raw.address !== undefined ? "0.0.0.0" : "127.0.0.1");
    if (!IPV4.test(routerAddress)) fail(`${key}.routerAddress`, "an IPv4 address such as `127.0.0.1` or `0.0.0.0`", routerAddress);
    const exclusiveData = parseExclusiveData(`${key}.exclusiveData`, raw.exclusiveData, components);
    const settings: HostSettings = {
        root: root.replace(/\/+$/, ""),
        manager: manager as HostManager,
        mode: parseModes(`${key}.mode`, raw.mode, components, exclusiveData),
        keep: optionalInteger(`${key}.keep`, raw.keep, 0, 100) ?? 5,
        routerPort: optionalInteger(`${key}.routerPort`, raw.routerPort, 1, 65533) ?? 8080,
        routerAddress,
        basePort: optionalInteger(`${key}.basePort`, raw.basePort, 1024, 65000) ?? 9000,
        supervisorctl: optionalString(`${key}.supervisorctl`, raw.supervisorctl) ?? "supervisorctl",
        supervisorConfig: absolutePath(`${key}.supervisorConfig`, raw.supervisorConfig) ?? "/etc/supervisor/supervisord.conf",
        programDir: absolutePath(`${key}.programDir`, raw.programDir) ?? "/etc/supervisor/conf.d",
        unitDir: absolutePath(`${key}.unitDir`, raw.unitDir) ?? "/etc/systemd/system",
        nginx: optionalString(`${key}.nginx`, raw.nginx) ?? "nginx",
        healthWaitSeconds: optionalInteger(`${key}.healthWaitSeconds`, raw.healthWaitSeconds, 1, 3600) ?? 60,
        exclusiveData,
        ...parseRemote(raw.address, raw.privateKey),
    };
    checkPortRanges(settings, components);
    checkRouterReach(settings);
    return settings;
}

function absolutePath(key: string, value: unknown): string | undefined {
    const path = optionalString(key, value);
    if (path !== undefined && !/^\/[^\s]*$/.test(path)) fail(key, "an absolute path without whitespace", path);
    return path;
}

function parseExclusiveData(key: string, value: unknown, components: ComponentSpec[]): Record<string, string> {
    if (value === undefined) return {};
    const table = requireObject(key, value);
    for (const [component, dir] of Object.entries(table)) {
        declared(`${key}.${component}`, component, components);
        if (typeof dir !== "string" || !/^\/[^\s]*$/.test(dir)) fail(`${key}.${component}`, "the absolute path of the data directory", dir);
    }
    return table as Record<string, string>;
}

/** A string for every component, or a component → mode object; a component with exclusive data can only be replaced. */
function parseModes(
    key: string,
    value: unknown,
    components: ComponentSpec[],
    exclusiveData: Record<string, string>,
): Record<string, HostMode> {
    const given: Record<string, unknown> = {};
    if (typeof value === "string") components.forEach((c) => (given[c.name] = value));
    else if (value !== undefined) {
        if (!isObject(value)) fail(key, '"canary", "replace", or an object of component → mode', value);
        for (const component of Object.keys(value)) declared(`${key}.${component}`, component, components);
        Object.assign(given, value);
    }
    const field = (name: string) => (typeof value === "string" ? key : `${key}.${name}`);
    return Object.fromEntries(
        components.map((c) => {
            const mode = given[c.name] ?? (exclusiveData[c.name] !== undefined ? "replace" : "canary");
            if (!MODES.includes(mode as HostMode)) fail(field(c.name), `one of ${MODES.map((m) => `"${m}"`).join(", ")}`, mode);
            if (mode === "canary" && exclusiveData[c.name] !== undefined) {
                throw new ConfigError(
                    `\`${field(c.name)}\` must be "replace" for \`${c.name}\`: \`release:host.exclusiveData.${c.name}\` declares a data directory ` +
                        `only one process may open (${exclusiveData[c.name]}), so two versions cannot run side by side; got "canary"`,
                );
            }
            return [c.name, mode as HostMode];
        }),
    );
}

function declared(key: string, component: string, components: ComponentSpec[]): void {
    const names = components.map((c) => c.name);
    if (!names.includes(component)) {
        fail(key, `a component declared in \`release:components\` (${names.map((n) => `\`${n}\``).join(", ")})`, component);
    }
}

/** The router's three ports (front, status, one hop per slot) must not fall among the services'. */
function checkPortRanges(settings: HostSettings, components: ComponentSpec[]): void {
    const web = components.filter((c) => c.role === "web").length;
    const first = settings.basePort;
    const last = settings.basePort + PORTS_PER_COMPONENT * Math.max(web, 1) - 1;
    const routerFirst = settings.routerPort;
    const routerLast = settings.routerPort + 1 + SLOTS;
    if (routerFirst <= last && routerLast >= first) {
        throw new ConfigError(
            `\`release:host.routerPort\` ${routerFirst} (the router also takes ${routerFirst + 1}–${routerLast}) overlaps the service ports ` +
                `${first}–${last} from \`release:host.basePort\`; move one of them`,
        );
    }
    if (last > 65535) fail("release:host.basePort", `at most ${65535 - (last - first)} so every service port fits`, first);
}

/** `release:artifacts`: every component of every live version, each pinned by its sha256. */
export function parseArtifacts(value: unknown, components: ComponentSpec[], live: string[]): ArtifactTable {
    const key = "release:artifacts";
    const table = value === undefined ? {} : requireObject(key, value);
    const artifacts: ArtifactTable = {};
    for (const [version, perComponent] of Object.entries(table)) {
        if (!isReleaseTag(version)) fail(`${key}.${version}`, "keyed by a release tag such as `v1.5.0`", version);
        const entries = requireObject(`${key}.${version}`, perComponent);
        artifacts[version] = Object.fromEntries(
            Object.entries(entries).map(([component, source]) => {
                declared(`${key}.${version}.${component}`, component, components);
                return [component, parseArtifact(`${key}.${version}.${component}`, source)];
            }),
        );
    }
    for (const version of live) {
        for (const component of components) {
            if (artifacts[version]?.[component.name] === undefined) {
                throw new ConfigError(
                    `\`${key}.${version}.${component.name}\` is required on host because ${version} is live: ` +
                        `{ path or url, sha256 } of ${component.name}'s artifact (a file or a .tar.gz)`,
                );
            }
        }
    }
    return artifacts;
}

function parseArtifact(key: string, value: unknown): ArtifactSource {
    const raw = requireObject(key, value);
    rejectUnknownKeys(key, raw, ["path", "url", "sha256"]);
    const path = optionalString(`${key}.path`, raw.path);
    const url = optionalString(`${key}.url`, raw.url);
    if ((path === undefined) === (url === undefined)) {
        throw new ConfigError(`\`${key}\` must have exactly one of \`path\` and \`url\`; got ${path === undefined ? "neither" : "both"}`);
    }
    if (url !== undefined && !/^https:\/\/[^\s]+$/.test(url) && !/^http:\/\/(127\.\d+\.\d+\.\d+|localhost)(:\d+)?\/[^\s]*$/.test(url)) {
        fail(`${key}.url`, "an `https://` URL (plain `http://` only on a loopback address)", url);
    }
    if (path !== undefined && /\s/.test(path)) fail(`${key}.path`, "a path without whitespace", path);
    if (raw.sha256 === undefined) fail(`${key}.sha256`, SHA256_RULE, undefined);
    if (typeof raw.sha256 !== "string" || !SHA256.test(raw.sha256)) fail(`${key}.sha256`, SHA256_RULE, raw.sha256);
    return { ...(path !== undefined ? { path } : {}), ...(url !== undefined ? { url } : {}), sha256: raw.sha256 };
}

/** The run command of a host component is a program of its release directory. */
export function checkHostComponents(components: ComponentSpec[]): void {
    for (const c of components) {
        if (c.command === undefined || c.command.length === 0) {
            fail(
                `release:components.${c.name}.command`,
                'set on host: the program to run and its arguments, relative to the release directory, such as ["./api", "--listen", "127.0.0.1"]',
                undefined,
            );
        }
        for (const [name, ref] of Object.entries(c.secretEnv)) {
            if (!ref.startsWith("config:")) {
                fail(`release:components.${c.name}.secretEnv.${name}`, "`config:<key>` on host (a stack secret)", ref);
            }
        }
    }
}

/** `replace` runs one version at a time: a split of traffic has nothing to go to. */
export function checkReplaceWeights(settings: HostSettings, previous: string | undefined, canaryWeight: number): void {
    const replaced = Object.entries(settings.mode).filter(([, mode]) => mode === "replace");
    if (previous === undefined || replaced.length === 0 || canaryWeight === 100) return;
    throw new ConfigError(
        `\`release:canaryWeight\` must be 100 while \`release:previous\` is set, because ${replaced.map(([c]) => `\`${c}\``).join(", ")} ` +
            `run${replaced.length === 1 ? "s" : ""} in \`replace\` mode (one version at a time; ${previous}'s release directory is kept for a rollback); got ${canaryWeight}`,
    );
}
