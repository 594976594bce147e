import * as fs from "fs";
import { tagSlug } from "./releaseTags";

/**
 * Where the `host` platform keeps things on the machine, and what it names
 * them: pure functions of the settings, the component and the version, so a
 * `local.Command` and (later) a `remote.Command` get the same paths and names.
 */

export function releaseDir(root: string, version: string, component: string): string {
    return `${root}/releases/${version}/${component}`;
}

/** `shop-api-v1-5-0`: a canary program is one per version; a replaced one keeps its name across versions (`shop-api`). */
export function programName(app: string, component: string, version: string | undefined): string {
    return version === undefined ? `${app}-${component}` : `${app}-${component}-${tagSlug(version)}`;
}

/** systemd runs a template per component and an instance per version: `shop-api@v1.5.0.service`. */
export function unitName(app: string, component: string, version: string): string {
    return `${app}-${component}@${version}.service`;
}

export function routerProgramName(app: string): string {
    return `${app}-router`;
}

/** Environment files, mode 0600: the only place a secret of a program is written. */
export function envFilePath(root: string, program: string): string {
    return `${root}/env/${program}.env`;
}

export function logFilePath(root: string, program: string): string {
    return `${root}/logs/${program}.log`;
}

export interface RouterPaths {
    readonly config: string;
    readonly pid: string;
    readonly errorLog: string;
    readonly accessLog: string;
    readonly temp: string;
    /** Version → slot of what the router routes to: the record `assignSlots` reads. */
    readonly live: string;
}

export function routerPaths(root: string): RouterPaths {
    const dir = `${root}/router`;
    return {
        config: `${dir}/nginx.conf`,
        pid: `${dir}/nginx.pid`,
        errorLog: `${dir}/error.log`,
        accessLog: `${dir}/access.log`,
        temp: `${dir}/tmp`,
        live: `${dir}/live.json`,
    };
}

/** The program's own path: relative to its release directory unless absolute. */
export function programPath(dir: string, executable: string): string {
    return executable.startsWith("/") ? executable : `${dir}/${executable.replace(/^\.\//, "")}`;
}

/** The live set the router last served, version → slot; empty before the first config. */
export function readLiveSlots(file: string): Record<string, number> {
    try {
        const parsed: unknown = JSON.parse(fs.readFileSync(file, "utf8"));
        if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return {};
        return Object.fromEntries(Object.entries(parsed).filter(([, slot]) => Number.isInteger(slot))) as Record<string, number>;
    } catch {
        return {};
    }
}
