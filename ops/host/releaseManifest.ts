import * as fs from "fs";
import * as path from "path";
import { sha256OfFile } from "../checksum";

/**
 * The files of a release directory and their SHA-256, recorded when it is installed. The
 * artifact's digest pins what was downloaded; the manifest pins what was unpacked, so a
 * rollback can prove, before anything stops, that the directory it returns to is still the
 * one that was installed (no file deleted, truncated or edited since).
 */
export type ReleaseManifest = Record<string, string>;

/** Every regular file under `dir` but `skip` (the record itself), by path relative to `dir`, `/`-separated, sorted. */
export async function manifestOf(dir: string, skip: string): Promise<ReleaseManifest> {
    const manifest: ReleaseManifest = {};
    for (const relative of regularFiles(dir, "").filter((name) => name !== skip)) {
        manifest[relative] = (await sha256OfFile(path.join(dir, relative))).sha256;
    }
    return manifest;
}

function regularFiles(root: string, prefix: string): string[] {
    const found: string[] = [];
    const entries = fs.readdirSync(path.join(root, prefix), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const entry of entries) {
        const relative = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
        if (entry.isDirectory()) found.push(...regularFiles(root, relative));
        else if (entry.isFile()) found.push(relative);
    }
    return found;
}

/** How `dir` differs from its manifest: each missing or changed file, in the manifest's order. Empty: intact. */
export async function manifestDifferences(dir: string, manifest: ReleaseManifest): Promise<string[]> {
    const differences: string[] = [];
    for (const [relative, expected] of Object.entries(manifest)) {
        const file = path.join(dir, relative);
        const stat = fs.statSync(file, { throwIfNoEntry: false });
        if (stat === undefined || !stat.isFile()) {
            differences.push(`${relative} is missing`);
            continue;
        }
        const actual = (await sha256OfFile(file)).sha256;
        if (actual !== expected) differences.push(`${relative} has sha256 ${actual}; ${expected} was installed`);
    }
    return differences;
}
