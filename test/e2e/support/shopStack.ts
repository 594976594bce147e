import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { freePortRun } from "../../support/processes";
import { DockerEngine, startDockerEngine } from "./dockerEngine";
import { BuiltImages, buildImages } from "./images";
import { E2eStack, PROJECT_DIR, StackConfig, loggedBackups } from "./pulumiCli";
import { Registry, startRegistry } from "./registry";
import { ServiceDatabase, startServiceDatabase } from "./serviceDatabase";

/**
 * A web + worker service on PostgreSQL, released on `docker-host` by the real
 * engine: a private dockerd, a registry on loopback holding the locally built
 * images, the service's database on the host, and one stack of the project on
 * a file backend. The stack's config is the operator's: each step of a walk
 * writes the `release:` keys a pull request would change.
 */
export interface ShopWorld {
    readonly engine: DockerEngine;
    readonly registry: Registry;
    readonly images: BuiltImages;
    readonly db: ServiceDatabase;
    readonly stack: E2eStack;
    readonly routerPort: number;
    /** Relative to the project, as the stack's `release:backup.dir`. */
    readonly backupDir: string;
    /** An absolute temp dir on the host for bind-mounted data (see `WorldFixed.dataDir`). */
    readonly dataDir?: string;
    /** Writes the config of one release step: the versions and weights, the rest fixed. */
    configure(step: ReleaseStep): void;
    /** The config `configure` writes for a step (without the secrets). */
    config(step: ReleaseStep): StackConfig;
    /** GET through the router, as a user. */
    get(pathname: string): Promise<{ status: number; body: string }>;
}

export interface ReleaseStep {
    readonly version: string;
    readonly previous?: string;
    readonly canaryWeight?: number;
    readonly restoreFrom?: string;
    /**
     * Version → share of `GET /` that its web containers answer 500 (the test service's
     * FAIL_RATE): a canary that breaches its analysis while the previous version stays healthy.
     * Components are one spec for every live version, so the share is picked per container
     * from its RELEASE_VERSION; changing it replaces the web containers of every live version.
     */
    readonly failRates?: Readonly<Record<string, number>>;
    /** More stack config of this step, such as `release:analysis`; the fixed keys win. */
    readonly moreConfig?: StackConfig;
    /**
     * Versions whose web containers answer `/smoke` with 500 (the test service's SMOKE_FAIL=1),
     * picked per container from its RELEASE_VERSION like `failRates` (not together with it).
     */
    readonly smokeFails?: readonly string[];
    /** `release:migrate.command` instead of `service migrate`, e.g. one that waits first. */
    readonly migrateCommand?: readonly string[];
    /** Every image by its registry digest in the config, as `prod` requires: no lookups at preview. */
    readonly pinned?: boolean;
}

export interface ShopWorldOptions {
    /** Environment of every CLI call of the stack, and so of its plugins and the commands they run. */
    readonly env?: NodeJS.ProcessEnv;
}

export const APP = "shop";
export const NETWORK = "shop-e2e";
/** Where e2e stacks keep what the program writes relative to the project (git ignores it). */
const E2E_DIR = ".e2e-state";

/** `firstStep` is the config of the world's first deploy; the stack is created, not updated. */
export async function startShopWorld(
    name: string,
    firstStep: ReleaseStep = { version: "v1.0.0" },
    options: ShopWorldOptions = {},
): Promise<ShopWorld> {
    return startWorldOf(name, shopConfig, firstStep, options);
}

/** What a config builder gets: the world's substrate, fixed for its life. */
export interface WorldFixed {
    readonly images: BuiltImages;
    readonly routerPort: number;
    /** Relative to the project, as the stack's `release:backup.dir`. */
    readonly backupDir: string;
    /** An absolute, empty temp dir on the host for bind-mounted data, removed with the world. */
    readonly dataDir: string;
}

/** The stack config of one step of a world, from its fixed parts. */
export type ConfigBuilder = (fixed: WorldFixed, step: ReleaseStep) => StackConfig;

export interface WorldOptions extends ShopWorldOptions {
    /**
     * `release:<key>` → value, set as stack secrets. Default: the shop's two database URLs
     * (`databaseUrl` as the host reaches PostgreSQL, `serviceDatabaseUrl` as containers do).
     */
    readonly secrets?: (db: ServiceDatabase) => Record<string, string>;
    /** Hands `dataDir` to this user, so a container that runs as it can write its bind mount. */
    readonly dataDirOwner?: { readonly uid: number; readonly gid: number };
}

/** The shop world's substrate with any service's config: `build` writes every step's stack config. */
export async function startWorldOf(
    name: string,
    build: ConfigBuilder,
    firstStep: ReleaseStep,
    options: WorldOptions = {},
): Promise<ShopWorld> {
    const engine = await startDockerEngine();
    const registry = await startRegistry();
    const images = await buildImages(engine, registry);
    const db = await startServiceDatabase(engine);
    const routerPort = await freePortRun(1);
    // The program takes backup paths relative to the project (the same config, the same command, on every
    // machine): a directory of the checkout that git ignores and the test removes.
    fs.mkdirSync(path.join(PROJECT_DIR, E2E_DIR), { recursive: true });
    const backupDir = path.relative(PROJECT_DIR, fs.mkdtempSync(path.join(PROJECT_DIR, E2E_DIR, `${name}-`)));
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `${name}-data-`));
    if (options.dataDirOwner !== undefined) fs.chownSync(dataDir, options.dataDirOwner.uid, options.dataDirOwner.gid);
    const config = (step: ReleaseStep): StackConfig => build({ images, routerPort, backupDir, dataDir }, step);
    // DOCKER_HOST reaches the plugin and every `docker` a command runs: the test's engine, never the machine's.
    const stack = await E2eStack.create(name, config(firstStep), { ...options.env, DOCKER_HOST: engine.host });
    const secrets = options.secrets?.(db) ?? {
        "release:databaseUrl": db.hostUrl,
        "release:serviceDatabaseUrl": db.containerUrl,
    };
    for (const [key, value] of Object.entries(secrets)) await stack.setSecret(key, value);
    return {
        engine,
        registry,
        images,
        db,
        stack,
        routerPort,
        backupDir,
        dataDir,
        configure: (step) => stack.writeConfig(config(step)),
        config,
        get: async (pathname) => {
            const response = await fetch(`http://127.0.0.1:${routerPort}${pathname}`);
            return { status: response.status, body: (await response.text()).trim() };
        },
    };
}

export async function stopShopWorld(world: ShopWorld | undefined): Promise<void> {
    if (world === undefined) return;
    await world.engine.stop();
    await world.registry.stop();
    await world.db.stop();
    fs.rmSync(path.join(PROJECT_DIR, world.backupDir), { recursive: true, force: true });
    if (world.dataDir !== undefined) fs.rmSync(world.dataDir, { recursive: true, force: true });
}

function shopConfig(fixed: WorldFixed, step: ReleaseStep): StackConfig {
    const { images } = fixed;
    const secretEnv = { DATABASE_URL: "config:serviceDatabaseUrl" };
    return {
        ...step.moreConfig,
        "release:app": APP,
        "release:platform": "docker-host",
        "release:version": step.version,
        ...(step.previous !== undefined ? { "release:previous": step.previous } : {}),
        ...(step.canaryWeight !== undefined ? { "release:canaryWeight": step.canaryWeight } : {}),
        ...(step.restoreFrom !== undefined ? { "release:restoreFrom": step.restoreFrom } : {}),
        ...(step.pinned === true
            ? {
                  "release:digests": Object.fromEntries(
                      Object.entries(images.service.digests).map(([version, digest]) => [version, { web: digest, worker: digest }]),
                  ),
              }
            : {}),
        "release:components": {
            web: {
                image: images.service.repository,
                role: "web",
                port: 8080,
                healthPath: "/healthz",
                secretEnv,
                ...(step.failRates !== undefined ? { command: failRateCommand(step.failRates) } : {}),
                ...(step.smokeFails !== undefined ? { command: smokeFailCommand(step.smokeFails, step.failRates) } : {}),
            },
            worker: { image: images.service.repository, role: "worker", command: ["service", "worker"], secretEnv },
        },
        "release:dockerHost": {
            // A tag: the program looks its digest up in the registry at preview, as the dev stack does.
            routerImage:
                step.pinned === true
                    ? `${images.router.repository}@${images.router.digest}`
                    : `${images.router.repository}:${images.router.tag}`,
            network: NETWORK,
            routerPort: fixed.routerPort,
            routerAddress: "127.0.0.1",
            healthIntervalSeconds: 1,
            startPeriodSeconds: 5,
            healthyWaitSeconds: 60,
        },
        "release:database": { criticalTables: ["items"] },
        "release:backup": { dir: fixed.backupDir, keep: 5 },
        "release:migrate": { command: step.migrateCommand ?? ["service", "migrate"], component: "web", quiesce: ["worker"] },
        "release:smoke": [
            { name: "home", path: "/" },
            { name: "smoke", path: "/smoke" },
        ],
    };
}

/** The service's own command, behind a shell that sets FAIL_RATE from the container's RELEASE_VERSION. */
function failRateCommand(failRates: Readonly<Record<string, number>>): string[] {
    const arms = Object.entries(failRates).map(([version, rate]) => {
        if (!/^v\d+\.\d+\.\d+$/.test(version) || !(rate >= 0 && rate <= 1))
            throw new Error(`failRates: a version vX.Y.Z → a share from 0 to 1; got ${version} → ${rate}`);
        return `${version}) export FAIL_RATE=${rate} ;;`;
    });
    return ["sh", "-c", `case "$RELEASE_VERSION" in ${arms.join(" ")} esac; exec service`];
}

/** The service's own command, behind a shell that sets SMOKE_FAIL=1 in the given versions' containers. */
function smokeFailCommand(versions: readonly string[], failRates: ReleaseStep["failRates"]): string[] {
    if (failRates !== undefined) throw new Error("smokeFails and failRates each set the web command; give one of them");
    for (const version of versions) if (!/^v\d+\.\d+\.\d+$/.test(version)) throw new Error(`smokeFails: versions vX.Y.Z; got ${version}`);
    return ["sh", "-c", `case "$RELEASE_VERSION" in ${versions.join("|")}) export SMOKE_FAIL=1 ;; esac; exec service`];
}

/** The backup log the stack writes: one JSON record per backup. */
export function backupLog(world: ShopWorld): Array<Record<string, unknown>> {
    return loggedBackups(world.backupDir);
}

/** The migration ledger as `<version> <status>` rows, oldest first. */
export async function ledger(world: ShopWorld): Promise<string[]> {
    const rows = await world.db.query("SELECT version, status FROM safe_release_migrations ORDER BY started_at, version");
    return rows.map((r) => `${r.version} ${r.status}`);
}

/** Who answers `GET /` through the router, over `count` requests; every answer must be a 200. */
export async function split(world: ShopWorld, count: number): Promise<Record<string, number>> {
    const answers: Record<string, number> = {};
    for (let i = 0; i < count; i++) {
        const { status, body } = await world.get("/");
        if (status !== 200) throw new Error(`request ${i} through the router answered ${status}: ${body}`);
        answers[body] = (answers[body] ?? 0) + 1;
    }
    return answers;
}
