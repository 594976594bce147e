import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { run } from "../../support/processes";
import { Rootfs, sharedLibraries } from "../images/rootfs";
import { DockerEngine, commandOnPath } from "./dockerEngine";
import { Registry } from "./registry";

/**
 * The two images the end-to-end tests release, built from the host's own
 * binaries and pushed to the test registry; nothing is pulled from outside.
 *
 * - router: Debian's nginx (nginx-light) with its shared libraries and busybox,
 *   with the paths and users the rendered config and the reload command need.
 * - service: the Go test service (test/e2e/images/service), static, plus busybox
 *   for the health check's `wget`; one image per version, each with its version
 *   baked into /etc/service-release, so every tag has its own digest.
 *
 * Root filesystems are cached as tarballs under
 * `${XDG_CACHE_HOME:-$HOME/.cache}/safe-release/e2e-images/<key>`, the key
 * hashing every input (sources, host binaries, Go version), so a second run only
 * imports and pushes.
 */
export interface BuiltImage {
    /** `127.0.0.1:PORT/router` */
    readonly repository: string;
    readonly tag: string;
    /** Manifest digest in the registry, `sha256:…` */
    readonly digest: string;
}

export interface BuiltImages {
    /** Tag: nginx's major.minor, e.g. `1.22`. */
    readonly router: BuiltImage;
    /** Tag (`v1.0.0`, `v1.1.0`, `v1.2.0`) → digest. */
    readonly service: { readonly repository: string; readonly digests: Record<string, string> };
}

export const SERVICE_VERSIONS = ["v1.0.0", "v1.1.0", "v1.2.0"] as const;

const NGINX = "/usr/sbin/nginx";
const BUSYBOX = "/bin/busybox";
/** The recipe itself is part of every cache key, so a change to how images are made rebuilds them. */
const RECIPES_DIR = path.resolve(__dirname, "..", "images");
const RECIPE_CODE = [__filename, path.join(RECIPES_DIR, "rootfs.ts")];
const PATH_ENV = "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export function imageCacheRoot(): string {
    const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache");
    return path.join(base, "safe-release", "e2e-images");
}

function progress(message: string): void {
    process.stderr.write(`e2e images: ${message}\n`);
}

async function timed<T>(message: string, step: () => Promise<T>): Promise<T> {
    const started = Date.now();
    const result = await step();
    progress(`${message} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    return result;
}

export async function buildImages(engine: DockerEngine, registry: Registry): Promise<BuiltImages> {
    checkTools();
    const router = await routerTarball();
    const service = await serviceTarballs();
    const nginxTag = await nginxMajorMinor();

    const routerRepository = `${registry.address}/router`;
    await importAndPush(engine, router, `${routerRepository}:${nginxTag}`, ['CMD ["nginx", "-g", "daemon off;"]', "EXPOSE 8080"]);
    const serviceRepository = `${registry.address}/service`;
    for (const version of SERVICE_VERSIONS) {
        await importAndPush(engine, service[version], `${serviceRepository}:${version}`, [
            'CMD ["service"]',
            "EXPOSE 8080",
            "USER 65534:65534",
            `LABEL org.opencontainers.image.version=${version}`,
        ]);
    }
    const digests: Record<string, string> = {};
    for (const version of SERVICE_VERSIONS) digests[version] = await registry.digest("service", version);
    return {
        router: { repository: routerRepository, tag: nginxTag, digest: await registry.digest("router", nginxTag) },
        service: { repository: serviceRepository, digests },
    };
}

function checkTools(): void {
    const needs: Array<[string, string]> = [
        [NGINX, "nginx-light"],
        [BUSYBOX, "busybox-static"],
    ];
    for (const [file, pkg] of needs) {
        if (!fs.existsSync(file)) throw new Error(`${file} is missing: install the Debian package \`${pkg}\``);
    }
    if (!commandOnPath("go"))
        throw new Error(
            "`go` is not on PATH: the service image needs Go 1.25 or newer (test/e2e/images/service/go.mod); put its bin directory on PATH",
        );
}

async function importAndPush(engine: DockerEngine, tarball: string, reference: string, changes: string[]): Promise<void> {
    await timed(`imported and pushed ${reference}`, async () => {
        const changeArgs = [PATH_ENV, ...changes].flatMap((change) => ["--change", change]);
        await engine.docker(["import", ...changeArgs, tarball, reference]);
        await engine.docker(["push", "--quiet", reference]);
    });
}

async function nginxMajorMinor(): Promise<string> {
    const { stderr } = await run(NGINX, ["-v"]);
    const match = /nginx\/(\d+)\.(\d+)/.exec(stderr);
    if (!match) throw new Error(`cannot read nginx's version from \`nginx -v\`: ${stderr.trim()}`);
    return `${match[1]}.${match[2]}`;
}

/** sha256 over the recipe, the files and the extra facts given, in a stable order. */
export function cacheKey(kind: string, files: string[], facts: string[]): string {
    const hash = createHash("sha256").update(`${kind}\n`);
    for (const fact of facts) hash.update(`${fact}\n`);
    for (const file of [...RECIPE_CODE, ...files].sort()) hash.update(`${file}\n`).update(fs.readFileSync(file));
    return `${kind}-${hash.digest("hex").slice(0, 16)}`;
}

/** Runs `build` into a fresh staging dir and renames it into the cache, so a crash never leaves half an entry. */
export async function cached(key: string, what: string, build: (dir: string) => Promise<void>): Promise<string> {
    const dir = path.join(imageCacheRoot(), key);
    if (fs.existsSync(path.join(dir, "complete"))) return dir;
    fs.mkdirSync(imageCacheRoot(), { recursive: true });
    const staging = fs.mkdtempSync(path.join(imageCacheRoot(), `.${key}-`));
    try {
        await timed(`built ${what} into ${dir}`, () => build(staging));
        fs.writeFileSync(path.join(staging, "complete"), new Date().toISOString());
        fs.rmSync(dir, { recursive: true, force: true });
        fs.renameSync(staging, dir);
    } catch (err) {
        fs.rmSync(staging, { recursive: true, force: true });
        throw err;
    }
    return dir;
}

export function baseFiles(rootfs: Rootfs): Rootfs {
    return rootfs
        .copy(path.join(RECIPES_DIR, "base", "passwd"), "/etc/passwd")
        .copy(path.join(RECIPES_DIR, "base", "group"), "/etc/group")
        .copy(path.join(RECIPES_DIR, "base", "nsswitch.conf"), "/etc/nsswitch.conf")
        .mkdir("/tmp", 0o1777)
        .mkdir("/root", 0o700);
}

async function routerTarball(): Promise<string> {
    const libraries = await sharedLibraries(NGINX);
    const recipeFiles = ["base/passwd", "base/group", "base/nsswitch.conf", "router/nginx.conf"].map((f) => path.join(RECIPES_DIR, f));
    const key = cacheKey("router", [...recipeFiles, NGINX, BUSYBOX, ...libraries], libraries);
    const dir = await cached(key, "the router rootfs (nginx + busybox)", async (staging) => {
        const rootfs = baseFiles(new Rootfs(path.join(staging, "rootfs")));
        await rootfs.busybox(BUSYBOX);
        await rootfs.binaryWithLibraries(NGINX);
        rootfs
            .copy(path.join(RECIPES_DIR, "router", "nginx.conf"), "/etc/nginx/nginx.conf")
            // nginx's compiled-in paths (`nginx -V`): temp dirs under /var/lib/nginx, pid in /run, prefix /usr/share/nginx.
            .mkdir("/var/lib/nginx")
            .mkdir("/var/log/nginx")
            .mkdir("/usr/share/nginx")
            .mkdir("/run")
            .mkdir("/var/lock");
        await rootfs.pack(path.join(staging, "router.tar"));
        fs.rmSync(rootfs.dir, { recursive: true, force: true });
    });
    return path.join(dir, "router.tar");
}

function serviceSourceFiles(): string[] {
    const root = path.join(RECIPES_DIR, "service");
    const files: string[] = [];
    const walk = (dir: string) => {
        for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
            const full = path.join(dir, entry.name);
            if (entry.isDirectory()) walk(full);
            else if (/\.(go|sql|mod|sum)$/.test(entry.name)) files.push(full);
        }
    };
    walk(root);
    return files;
}

export async function serviceTarballs(): Promise<Record<string, string>> {
    const goVersion = (await run("go", ["env", "GOVERSION"])).stdout.trim();
    const recipeFiles = ["base/passwd", "base/group", "base/nsswitch.conf"].map((f) => path.join(RECIPES_DIR, f));
    const key = cacheKey("service", [...recipeFiles, ...serviceSourceFiles(), BUSYBOX], [goVersion, ...SERVICE_VERSIONS]);
    const dir = await cached(key, `the service images ${SERVICE_VERSIONS.join(", ")} (Go ${goVersion})`, async (staging) => {
        const binary = path.join(staging, "service");
        await timed("compiled the test service (CGO_ENABLED=0)", () =>
            run("go", ["build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", binary, "."], {
                cwd: path.join(RECIPES_DIR, "service"),
                env: { ...process.env, CGO_ENABLED: "0", GOFLAGS: "-mod=readonly" },
            }),
        );
        const rootfs = baseFiles(new Rootfs(path.join(staging, "rootfs")));
        await rootfs.busybox(BUSYBOX);
        rootfs.copy(binary, "/usr/local/bin/service");
        for (const version of SERVICE_VERSIONS) {
            rootfs.write("/etc/service-release", `${version}\n`);
            await rootfs.pack(path.join(staging, `${version}.tar`));
        }
        fs.rmSync(rootfs.dir, { recursive: true, force: true });
    });
    return Object.fromEntries(SERVICE_VERSIONS.map((version) => [version, path.join(dir, `${version}.tar`)]));
}
