import * as fs from "fs";
import * as path from "path";
import { freePort } from "../../support/processes";
import { DockerEngine, startDockerEngine } from "./dockerEngine";
import { BuiltImages, buildImages } from "./images";
import { E2eStack, PROJECT_DIR, StackConfig } from "./pulumiCli";
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
    /** Writes the config of one release step: the versions and weights, the rest fixed. */
    configure(step: ReleaseStep): void;
    /** GET through the router, as a user. */
    get(pathname: string): Promise<{ status: number; body: string }>;
}

export interface ReleaseStep {
    readonly version: string;
    readonly previous?: string;
    readonly canaryWeight?: number;
    readonly restoreFrom?: string;
}

export const APP = "shop";
export const NETWORK = "shop-e2e";
/** Where e2e stacks keep what the program writes relative to the project (git ignores it). */
const E2E_DIR = ".e2e-state";

export async function startShopWorld(name: string): Promise<ShopWorld> {
    const engine = await startDockerEngine();
    const registry = await startRegistry();
    const images = await buildImages(engine, registry);
    const db = await startServiceDatabase(engine);
    const routerPort = await freePort();
    // The program takes backup paths relative to the project (the same config, the same command, on every
    // machine): a directory of the checkout that git ignores and the test removes.
    fs.mkdirSync(path.join(PROJECT_DIR, E2E_DIR), { recursive: true });
    const backupDir = path.relative(PROJECT_DIR, fs.mkdtempSync(path.join(PROJECT_DIR, E2E_DIR, `${name}-`)));
    const config = (step: ReleaseStep): StackConfig => shopConfig({ images, routerPort, backupDir }, step);
    // DOCKER_HOST reaches the plugin and every `docker` a command runs: the test's engine, never the machine's.
    const stack = await E2eStack.create(name, config({ version: "v1.0.0" }), { DOCKER_HOST: engine.host });
    await stack.setSecret("release:databaseUrl", db.hostUrl);
    await stack.setSecret("release:serviceDatabaseUrl", db.containerUrl);
    return {
        engine,
        registry,
        images,
        db,
        stack,
        routerPort,
        backupDir,
        configure: (step) => stack.writeConfig(config(step)),
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
}

interface Fixed {
    readonly images: BuiltImages;
    readonly routerPort: number;
    readonly backupDir: string;
}

function shopConfig(fixed: Fixed, step: ReleaseStep): StackConfig {
    const { images } = fixed;
    const secretEnv = { DATABASE_URL: "config:serviceDatabaseUrl" };
    return {
        "release:app": APP,
        "release:platform": "docker-host",
        "release:version": step.version,
        ...(step.previous !== undefined ? { "release:previous": step.previous } : {}),
        ...(step.canaryWeight !== undefined ? { "release:canaryWeight": step.canaryWeight } : {}),
        ...(step.restoreFrom !== undefined ? { "release:restoreFrom": step.restoreFrom } : {}),
        "release:components": {
            web: { image: images.service.repository, role: "web", port: 8080, healthPath: "/healthz", secretEnv },
            worker: { image: images.service.repository, role: "worker", command: ["service", "worker"], secretEnv },
        },
        "release:dockerHost": {
            // A tag: the program looks its digest up in the registry at preview, as the dev stack does.
            routerImage: `${images.router.repository}:${images.router.tag}`,
            network: NETWORK,
            routerPort: fixed.routerPort,
            routerAddress: "127.0.0.1",
            healthIntervalSeconds: 1,
            startPeriodSeconds: 5,
            healthyWaitSeconds: 60,
        },
        "release:database": { criticalTables: ["items"] },
        "release:backup": { dir: fixed.backupDir, keep: 5 },
        "release:migrate": { command: ["service", "migrate"], component: "web", quiesce: ["worker"] },
        "release:smoke": [
            { name: "home", path: "/" },
            { name: "smoke", path: "/smoke" },
        ],
    };
}

/** The backup log the stack writes: one JSON record per backup. */
export function backupLog(world: ShopWorld): Array<Record<string, unknown>> {
    const file = path.join(PROJECT_DIR, world.backupDir, "backups.log");
    if (!fs.existsSync(file)) return [];
    return fs
        .readFileSync(file, "utf8")
        .split("\n")
        .filter((line) => line.trim() !== "")
        .map((line) => JSON.parse(line));
}
