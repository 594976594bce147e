import * as fs from "fs";
import * as path from "path";
import { CheckFailure } from "@pulumi/pulumi/provider";
import { Client, SFTPWrapper, Stats } from "ssh2";
import { maskSecrets } from "../output";
import { ResourceType } from "../resourceType";
import { containsUnknown, isObject, reveal, SECRET_SIG_KEY, WireMap, WireValue } from "../wire";
import { checkConnection, connectionSecrets, decodeConnection, dial } from "./connection";

export const COPY_TO_REMOTE_TYPE = "command:remote:CopyToRemote";
export const COPY_TO_REMOTE_INPUTS = ["connection", "remotePath", "source", "triggers"] as const;

const ASSET_SIG = "c44067f5952c0a294b673a41bacd8c17";
const ARCHIVE_SIG = "0def7320c3a5731c473e5ecbe6d01bc7";

/** The source as the engine sends it: its path (or text) and the content hash it computed. */
interface Source {
    readonly kind: "asset" | "archive";
    readonly path?: string;
    readonly text?: string;
    readonly hash?: string;
}

function decodeSource(wire: WireValue): Source | undefined {
    const value = reveal(wire);
    if (!isObject(value)) return undefined;
    const sig = value[SECRET_SIG_KEY];
    if (sig !== ASSET_SIG && sig !== ARCHIVE_SIG) return undefined;
    const text = (name: string) => (typeof value[name] === "string" ? (value[name] as string) : undefined);
    const source = { kind: sig === ASSET_SIG ? "asset" : "archive", path: text("path"), text: text("text"), hash: text("hash") };
    return Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined)) as unknown as Source;
}

/** Upstream's check: a path-based file asset, a text asset, or a path-based archive (a file or a directory). */
function checkCopyInputs(news: WireMap): CheckFailure[] {
    const failures: CheckFailure[] = [];
    for (const name of Object.keys(news)) {
        if (!(COPY_TO_REMOTE_INPUTS as readonly string[]).includes(name) && news[name] !== null) {
            failures.push({
                property: name,
                reason: `\`${name}\` is not an input of ${COPY_TO_REMOTE_TYPE}; valid inputs: ${COPY_TO_REMOTE_INPUTS.join(", ")}`,
            });
        }
    }
    if (containsUnknown(news.source)) return [...failures, ...checkConnection(news.connection)];
    const source = decodeSource(news.source);
    if (source === undefined) failures.push({ property: "asset", reason: "either asset or archive must be set" });
    else if (source.kind === "asset" && source.path === undefined && source.text === undefined) {
        failures.push({ property: "asset", reason: "asset must be a path-based file asset or a text asset" });
    } else if (source.kind === "archive" && source.path === undefined) {
        failures.push({ property: "archive", reason: "archive must be a path to a file or directory" });
    }
    if (typeof reveal(news.remotePath) !== "string" && !containsUnknown(news.remotePath)) {
        failures.push({ property: "remotePath", reason: "`remotePath` is required: the destination path on the remote host" });
    }
    return [...failures, ...checkConnection(news.connection)];
}

/**
 * `command:remote:CopyToRemote` v1.2.1: copies the source over SFTP on create,
 * and on update only when the source's hash or `remotePath` changed; a changed
 * `triggers` replaces it. Delete leaves the remote files in place, as upstream does.
 */
export const copyToRemote: ResourceType = {
    token: COPY_TO_REMOTE_TYPE,
    inputNames: COPY_TO_REMOTE_INPUTS,
    replaceOnChanges: ["triggers"],
    randomId: true,
    check: checkCopyInputs,
    async create(operation, news) {
        if (!containsUnknown(news)) await copy(news, operation.log);
        return news;
    },
    async update(operation, olds, news) {
        if (containsUnknown(news)) return news;
        const changed =
            decodeSource(olds.source)?.hash !== decodeSource(news.source)?.hash || reveal(olds.remotePath) !== reveal(news.remotePath);
        if (changed) await copy(news, operation.log);
        return news;
    },
    async delete() {},
};

async function copy(wire: WireMap, log: (line: string) => void): Promise<void> {
    const connection = decodeConnection(wire.connection);
    const source = decodeSource(wire.source)!;
    const remotePath = reveal(wire.remotePath) as string;
    const mask = (text: string) => maskSecrets(text, connectionSecrets(connection));
    let client: Client | undefined;
    try {
        client = await dial(connection, (line) => log(mask(line)));
        const sftp = await new Promise<SFTPWrapper>((resolve, reject) => client!.sftp((err, s) => (err ? reject(err) : resolve(s))));
        if (source.path === undefined) await copyText(sftp, source.text ?? "", remotePath);
        else await copyPath(sftp, source.path, remotePath);
    } catch (err) {
        throw new Error(mask((err as Error).message));
    } finally {
        client?.end();
    }
}

async function copyText(sftp: SFTPWrapper, text: string, dest: string): Promise<void> {
    if ((await remoteStat(sftp, dest))?.isDirectory()) {
        throw new Error(`remote path ${dest} is a directory; when using a text asset, remotePath must be a file path`);
    }
    await mkdirAll(sftp, path.posix.dirname(dest));
    await call<void>((cb) => sftp.writeFile(dest, text, cb), `failed to write text content to remote path ${dest}`);
}

/** Upstream's table: a directory goes to `dest/<name>` (to `dest/` itself when the source path ends in `/`), a file to `dest` or into it. */
async function copyPath(sftp: SFTPWrapper, sourcePath: string, destPath: string): Promise<void> {
    const info = fs.statSync(sourcePath);
    let dest = destPath;
    const destStat = await remoteStat(sftp, dest);
    if (info.isDirectory()) {
        if (destStat === undefined) await mkdirAll(sftp, dest);
        else if (!destStat.isDirectory()) throw new Error(`remote path ${dest} exists but is not a directory`);
        if (!sourcePath.endsWith("/")) {
            dest = path.posix.join(dest, path.basename(sourcePath));
            const inner = await remoteStat(sftp, dest);
            if (inner !== undefined && !inner.isDirectory()) throw new Error(`remote path ${dest} exists but is not a directory`);
            if (inner === undefined) await call<void>((cb) => sftp.mkdir(dest, cb), `failed to create remote directory ${dest}`);
        }
        await copyDirectory(sftp, sourcePath, dest);
    } else {
        if (destStat?.isDirectory()) dest = path.posix.join(dest, path.basename(sourcePath));
        else if (destStat === undefined) await mkdirAll(sftp, path.posix.dirname(dest));
        await copyFile(sftp, sourcePath, dest);
    }
}

async function copyDirectory(sftp: SFTPWrapper, source: string, dest: string): Promise<void> {
    for (const entry of fs.readdirSync(source, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
        const from = path.join(source, entry.name);
        const to = path.posix.join(dest, entry.name);
        if (!entry.isDirectory()) {
            await copyFile(sftp, from, to);
            continue;
        }
        const existing = await remoteStat(sftp, to);
        if (existing === undefined) await call<void>((cb) => sftp.mkdir(to, cb), `failed to create remote directory ${to}`);
        else if (!existing.isDirectory()) throw new Error(`remote path ${to} exists but is not a directory`);
        await copyDirectory(sftp, from, to);
    }
}

function copyFile(sftp: SFTPWrapper, source: string, dest: string): Promise<void> {
    return call<void>((cb) => sftp.fastPut(source, dest, cb), `failed to copy file ${source} to remote path ${dest}`);
}

async function mkdirAll(sftp: SFTPWrapper, dir: string): Promise<void> {
    const stat = await remoteStat(sftp, dir);
    if (stat !== undefined) return;
    await mkdirAll(sftp, path.posix.dirname(dir));
    await call<void>((cb) => sftp.mkdir(dir, cb), `failed to create parent directories for ${dir}`);
}

async function remoteStat(sftp: SFTPWrapper, target: string): Promise<Stats | undefined> {
    return new Promise((resolve, reject) =>
        sftp.stat(target, (err, stats) => {
            if (!err) resolve(stats);
            else if ((err as Error & { code?: number }).code === 2) resolve(undefined);
            else reject(new Error(`failed to stat remote path ${target}: ${err.message}`));
        }),
    );
}

function call<T>(act: (cb: (err: Error | null | undefined, value?: T) => void) => void, what: string): Promise<T> {
    return new Promise((resolve, reject) =>
        act((err, value) => (err ? reject(new Error(`${what}: ${err.message}`)) : resolve(value as T))),
    );
}
