import * as fs from "fs";
import * as path from "path";
import { Readable } from "stream";
import { pipeline } from "stream/promises";
import { compareTags, isReleaseTag } from "../../core/releaseTags";
import { HashingCounter, runChild, sha256OfFile } from "../checksum";
import { manifestOf, ReleaseManifest } from "./releaseManifest";

/** The record each verified release directory carries: what was unpacked there, by digest. */
export const RECORD_FILE = ".safe-release.json";

export interface InstallRequest {
    readonly root: string;
    readonly version: string;
    readonly component: string;
    readonly sha256: string;
    /** A file path (relative to the working directory, or absolute) or an `http(s)://` URL. */
    readonly source: string;
    /** The config key the digest comes from, named in a mismatch. */
    readonly key: string;
}

export interface InstallResult {
    readonly dir: string;
    readonly sha256: string;
    /** False when the directory was already there with the same digest (a rollback downloads nothing). */
    readonly installed: boolean;
}

/** Thrown for what the operator must fix (a digest, a source); the CLI prints it without a stack trace. */
export class ArtifactError extends Error {}

const isUrl = (source: string) => /^https?:\/\//.test(source);

/**
 * Fetches or copies the artifact, checks its sha256 first, then unpacks it (a
 * `.tar.gz`, recognised by its gzip magic) or places it (a single file, made
 * executable) into `<root>/releases/<version>/<component>/`, by rename, so a
 * release directory is either complete or absent. An existing directory is never
 * written: the same digest is a no-op, another digest an error.
 */
export async function installArtifact(req: InstallRequest): Promise<InstallResult> {
    const dir = path.join(req.root, "releases", req.version, req.component);
    const existing = readRecord(dir);
    if (existing !== undefined) {
        if (existing.sha256 === req.sha256) return { dir, sha256: req.sha256, installed: false };
        throw new ArtifactError(
            `${dir} holds ${req.component} ${req.version} with sha256 ${existing.sha256}, but \`${req.key}\` is ${req.sha256}; ` +
                "a release directory is never overwritten: give the new build a new version, or remove the directory by hand",
        );
    }
    if (fs.existsSync(dir)) {
        throw new ArtifactError(`${dir} exists without its ${RECORD_FILE} record; it was not installed by safe-release: move it away`);
    }
    const versionDir = path.dirname(dir);
    fs.mkdirSync(versionDir, { recursive: true });
    const incoming = path.join(versionDir, `.${req.component}.${process.pid}.download`);
    const staging = path.join(versionDir, `.${req.component}.${process.pid}.staging`);
    try {
        const actual = await fetchTo(req.source, incoming);
        if (actual !== req.sha256) {
            throw new ArtifactError(
                `the artifact ${req.source} has sha256 ${actual}, but \`${req.key}\` is ${req.sha256}; nothing was installed or stopped`,
            );
        }
        fs.mkdirSync(staging);
        if (isGzip(incoming)) {
            await runChild({ command: "tar", args: ["-xzf", incoming, "-C", staging, "--no-same-owner"], label: "tar" });
        } else {
            const target = path.join(staging, fileName(req.source));
            fs.renameSync(incoming, target);
            fs.chmodSync(target, 0o755);
        }
        const files = await manifestOf(staging, RECORD_FILE);
        const record = { version: req.version, component: req.component, sha256: req.sha256, source: req.source, files };
        fs.writeFileSync(path.join(staging, RECORD_FILE), `${JSON.stringify(record)}\n`);
        fs.renameSync(staging, dir);
        return { dir, sha256: req.sha256, installed: true };
    } finally {
        fs.rmSync(incoming, { force: true });
        fs.rmSync(staging, { recursive: true, force: true });
    }
}

/** What `.safe-release.json` says; `files` is absent in a directory installed before manifests were recorded. */
export interface ReleaseRecord {
    readonly sha256: string;
    readonly files?: ReleaseManifest;
}

export function readRecord(dir: string): ReleaseRecord | undefined {
    let text: string;
    try {
        text = fs.readFileSync(path.join(dir, RECORD_FILE), "utf8");
    } catch {
        return undefined;
    }
    let record: { sha256?: unknown; files?: unknown };
    try {
        record = JSON.parse(text);
    } catch {
        throw new ArtifactError(`${dir}/${RECORD_FILE} is not JSON; move the directory away`);
    }
    if (typeof record.sha256 !== "string") throw new ArtifactError(`${dir}/${RECORD_FILE} has no sha256; move the directory away`);
    const files = record.files;
    const validFiles =
        typeof files === "object" && files !== null && !Array.isArray(files) && Object.values(files).every((v) => typeof v === "string");
    return { sha256: record.sha256, ...(validFiles ? { files: files as ReleaseManifest } : {}) };
}

async function fetchTo(source: string, target: string): Promise<string> {
    if (!isUrl(source)) {
        if (!fs.existsSync(source)) throw new ArtifactError(`the artifact ${source} does not exist (looked in ${process.cwd()})`);
        fs.copyFileSync(source, target);
        return (await sha256OfFile(target)).sha256;
    }
    let response: Response;
    try {
        response = await fetch(source, { redirect: "follow" });
    } catch (err) {
        throw new ArtifactError(`fetching ${withoutQuery(source)} failed: ${(err as Error).message}`);
    }
    if (!response.ok || response.body === null) {
        throw new ArtifactError(`fetching ${withoutQuery(source)} answered HTTP ${response.status}; expected 200 with the artifact`);
    }
    const counter = new HashingCounter();
    await pipeline(Readable.fromWeb(response.body as import("stream/web").ReadableStream), counter, fs.createWriteStream(target));
    return counter.digest();
}

/** A signed URL's query is a credential: never in a message. */
function withoutQuery(url: string): string {
    return url.replace(/[?#].*$/, "");
}

function fileName(source: string): string {
    const name = path.basename(isUrl(source) ? new URL(source).pathname : source);
    return name === "" || name === "/" ? "artifact" : name;
}

function isGzip(file: string): boolean {
    const fd = fs.openSync(file, "r");
    try {
        const magic = Buffer.alloc(2);
        return fs.readSync(fd, magic, 0, 2, 0) === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
    } finally {
        fs.closeSync(fd);
    }
}

export interface PrunePlan {
    readonly kept: string[];
    readonly removed: string[];
}

/** Versions under `<root>/releases`: the protected ones and the newest `keep` others stay. */
export function planReleasePruning(versions: string[], keep: number, protect: string[]): PrunePlan {
    const newestFirst = versions.filter(isReleaseTag).sort((a, b) => compareTags(b, a));
    const others = newestFirst.filter((v) => !protect.includes(v));
    const removed = others.slice(keep);
    return { kept: newestFirst.filter((v) => !removed.includes(v)), removed };
}

export function pruneReleases(root: string, keep: number, protect: string[], dryRun = false): PrunePlan {
    const releases = path.join(root, "releases");
    const versions = fs.existsSync(releases) ? fs.readdirSync(releases) : [];
    const plan = planReleasePruning(versions, keep, protect);
    if (!dryRun) for (const version of plan.removed) fs.rmSync(path.join(releases, version), { recursive: true, force: true });
    return plan;
}
