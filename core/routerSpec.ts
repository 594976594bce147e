import { isReleaseTag } from "./releaseTags";

/** The router's input, and its validation: what `renderNginxConfig` (nginxConfig.ts) turns into nginx's config. */

export interface RouterVersion {
    /** SemVer tag, e.g. `v1.5.0`. */
    readonly name: string;
    /** Percent of requests (0–100); the live versions' weights sum to 100. */
    readonly weight: number;
    /** Loopback port of this version's hop; also the way to reach this version alone. */
    readonly directPort: number;
}

export interface RouterComponent {
    /** Lowercase name such as `web` or `api`. */
    readonly name: string;
    /** Requests whose path starts with this prefix go to this component, e.g. `/` or `/api/`. */
    readonly pathPrefix: string;
    /** `host:port` of each container, keyed by live version name. */
    readonly backends: Readonly<Record<string, readonly string[]>>;
}

export interface RouterSpec {
    readonly listenPort: number;
    /** @default "0.0.0.0" */
    readonly listenAddress?: string;
    /** Loopback port answering `healthPath` with the loaded config's fingerprint. */
    readonly statusPort: number;
    /** @default "/healthz" */
    readonly healthPath?: string;
    /** The live set: `release:version` first, then `release:previous` when it is live. */
    readonly versions: readonly RouterVersion[];
    readonly components: readonly RouterComponent[];
    /** @default 2 */
    readonly connectTimeoutSeconds?: number;
    /** @default 60 */
    readonly readTimeoutSeconds?: number;
    /** How long a failed container or version gets no traffic. @default 10 */
    readonly failTimeoutSeconds?: number;
    /** Failures within `failTimeoutSeconds` that take a peer out. @default 1 */
    readonly maxFails?: number;
    /** @default "auto" */
    readonly workerProcesses?: number | "auto";
    /** @default "/dev/stdout" */
    readonly accessLogPath?: string;
    /** Directory for nginx's request-body and proxy buffers; nginx's built-in paths when absent. */
    readonly tempDirectory?: string;
}

/** Header a smoke test sends to reach one live version, e.g. `X-Release-Target: v1.5.0`. */
export const TARGET_HEADER = "X-Release-Target";
/** Response header naming the version that served. */
export const VERSION_HEADER = "X-Release-Version";

// Pre-release suffixes (`v1.5.0-rc.1`) are release tags too; `ident` folds their `.` and `-` like the others.
const COMPONENT_NAME = /^[a-z][a-z0-9-]*$/;
const URL_PATH = /^\/[A-Za-z0-9._~\/-]*$/;
const BACKEND = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?:(\d{1,5})$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const FILE_PATH = /^\/[A-Za-z0-9._\/-]*$/;

export function fail(message: string): never {
    throw new Error(message);
}

function checkInteger(field: string, value: unknown, min: number, max: number): void {
    if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
        fail(`\`${field}\` must be an integer from ${min} to ${max}; got ${JSON.stringify(value)}`);
    }
}

function checkPath(field: string, value: string, mustEndWithSlash: boolean): void {
    if (URL_PATH.test(value) && (!mustEndWithSlash || value.endsWith("/"))) return;
    const shape = mustEndWithSlash ? "start and end with `/`" : "start with `/`";
    fail(`\`${field}\` must ${shape} and use only letters, digits and \`-._~/\`; got ${JSON.stringify(value)}`);
}

/** Throws the first problem found, naming the spec field and what would be valid. */
export function validateRouterSpec(spec: RouterSpec): void {
    checkInteger("listenPort", spec.listenPort, 1, 65535);
    checkInteger("statusPort", spec.statusPort, 1, 65535);
    const listenAddress = spec.listenAddress ?? "0.0.0.0";
    if (!IPV4.test(listenAddress)) fail(`\`listenAddress\` must be an IPv4 address; got ${JSON.stringify(listenAddress)}`);
    checkPath("healthPath", spec.healthPath ?? "/healthz", false);
    for (const field of ["accessLogPath", "tempDirectory"] as const) {
        const value = spec[field];
        if (value !== undefined && !FILE_PATH.test(value)) {
            fail(`\`${field}\` must be an absolute path of letters, digits and \`-._/\`; got ${JSON.stringify(value)}`);
        }
    }
    checkInteger("connectTimeoutSeconds", spec.connectTimeoutSeconds ?? 2, 1, 3600);
    checkInteger("readTimeoutSeconds", spec.readTimeoutSeconds ?? 60, 1, 3600);
    checkInteger("failTimeoutSeconds", spec.failTimeoutSeconds ?? 10, 1, 3600);
    checkInteger("maxFails", spec.maxFails ?? 1, 1, 100);
    if (spec.workerProcesses !== "auto") checkInteger("workerProcesses", spec.workerProcesses ?? 1, 1, 256);
    const ports = new Map<number, string>([[spec.listenPort, "listenPort"]]);
    if (spec.statusPort === spec.listenPort)
        fail(`\`statusPort\` ${spec.statusPort} is already used by \`listenPort\`; every port must be distinct`);
    ports.set(spec.statusPort, "statusPort");

    const versions = spec.versions;
    if (versions.length < 1 || versions.length > 2) {
        fail(`\`versions\` must hold 1 or 2 live versions (\`release:version\`, then \`release:previous\`); got ${versions.length}`);
    }
    versions.forEach((version, i) => {
        if (!isReleaseTag(version.name)) fail(`\`versions[${i}].name\` must be a SemVer tag vX.Y.Z; got ${JSON.stringify(version.name)}`);
        const first = versions.findIndex((other) => other.name === version.name);
        if (first !== i) fail(`\`versions[${i}].name\` repeats \`${version.name}\`; each live version appears once`);
        checkInteger(`versions[${i}].weight`, version.weight, 0, 100);
        checkInteger(`versions[${i}].directPort`, version.directPort, 1, 65535);
        const owner = ports.get(version.directPort);
        if (owner) fail(`\`versions[${i}].directPort\` ${version.directPort} is already used by \`${owner}\`; every port must be distinct`);
        ports.set(version.directPort, `versions[${i}].directPort`);
    });
    const total = versions.reduce((sum, version) => sum + version.weight, 0);
    if (total !== 100) {
        const parts = versions.map((version) => `${version.name}: ${version.weight}`).join(", ");
        fail(
            `\`versions\` weights must sum to 100 (\`release:canaryWeight\` on the new version, the rest on the previous); got ${total} (${parts})`,
        );
    }

    if (spec.components.length === 0) fail("`components` must hold at least one web component; got none");
    const live = versions.map((version) => version.name);
    spec.components.forEach((component, c) => {
        const at = `components[${c}]`;
        const name = JSON.stringify(component.name);
        if (!COMPONENT_NAME.test(component.name))
            fail(`\`${at}.name\` must be lowercase letters, digits and dashes, starting with a letter; got ${name}`);
        checkPath(`${at}.pathPrefix`, component.pathPrefix, true);
        spec.components.slice(0, c).forEach((earlier, e) => {
            if (earlier.name === component.name)
                fail(`\`${at}.name\` repeats \`components[${e}].name\` (${component.name}); names must be unique`);
            const prefix = component.pathPrefix;
            if (earlier.pathPrefix === prefix)
                fail(`\`${at}.pathPrefix\` repeats \`components[${e}].pathPrefix\` (${prefix}); prefixes must be unique`);
        });
        for (const name of Object.keys(component.backends).sort()) {
            if (!live.includes(name)) fail(`\`${at}.backends\` names \`${name}\`, which is not a live version (live: ${live.join(", ")})`);
        }
        const seen = new Map<string, string>();
        versions.forEach((version) => {
            const addresses = component.backends[version.name] ?? [];
            if (addresses.length === 0 && version.weight > 0) {
                fail(
                    `\`${at}.backends["${version.name}"]\` must list at least one host:port, since \`${version.name}\` has weight ${version.weight}`,
                );
            }
            addresses.forEach((address, b) => {
                const field = `${at}.backends["${version.name}"][${b}]`;
                const match = BACKEND.exec(address);
                if (!match || Number(match[2]) < 1 || Number(match[2]) > 65535) {
                    fail(`\`${field}\` must be host:port with a port from 1 to 65535; got ${JSON.stringify(address)}`);
                }
                const other = seen.get(address);
                if (other) fail(`\`${field}\` ${address} is already listed under \`${other}\`; each container serves one version`);
                seen.set(address, version.name);
            });
        });
    });
}

/** Identifiers inside the config: nginx names allow no dots, variables no dashes. */
