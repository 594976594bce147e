import { ConfigError, Plain, fail, optionalString } from "./checks";
import type { BackupStore, S3BackupStore } from "./data";

const RELATIVE_PATH = /^(?!\/)(?!.*(^|\/)\.\.(\/|$))[A-Za-z0-9._\/-]+$/;
const STORE_RULE = "`s3://<bucket>/<prefix>` or a path relative to the project, without `..`";
const BUCKET_RULE =
    "an S3 bucket name: 3 to 63 lower-case letters, digits, `.` and `-`, starting and ending with a letter or digit, " +
    "no `..`, not an IP address";
const PREFIX_RULE = "a key prefix of `/`-separated names of letters, digits, `.`, `_`, `-` and `=` (no empty, `.` or `..` name)";

/**
 * `release:backup.store`, or the older `release:backup.dir` (a directory store), or
 * the default `backups`. An S3 store keeps its log in the store, so `release:backup.log`
 * (a file on this machine) cannot go with it; its objects are encrypted with
 * `release:backup.kmsKeyId` where that is set, the key the release already depends on.
 */
export function parseStore(key: string, raw: Plain, kmsKeyId: string | undefined): BackupStore {
    const store = optionalString(`${key}.store`, raw.store);
    const dir = optionalString(`${key}.dir`, raw.dir);
    if (store !== undefined && dir !== undefined) {
        throw new ConfigError(
            `\`${key}.store\` and \`${key}.dir\` both say where backups go: keep \`${key}.store\` ` +
                `(\`${key}.dir\` is its older name for a directory store) and remove \`${key}.dir\``,
        );
    }
    if (store !== undefined && store.startsWith("s3://")) {
        if (raw.log !== undefined) {
            throw new ConfigError(
                `\`${key}.log\` is a file on this machine, for a directory store; with \`${key}.store\` ${store} ` +
                    "the backup log is in the store (one object per record under `records/`): remove `release:backup.log`",
            );
        }
        return parseS3Store(`${key}.store`, store, kmsKeyId);
    }
    const field = store !== undefined ? `${key}.store` : `${key}.dir`;
    const given = store ?? dir ?? "backups";
    if (!RELATIVE_PATH.test(given)) fail(field, store !== undefined ? STORE_RULE : "a path relative to the project, without `..`", given);
    // `backups/` and `backups` are one store: without this the log would be `backups//backups.log`, another text for the same file.
    const location = given.replace(/\/+$/, "");
    if (location === "" || location === ".") fail(field, "a directory below the project, not the project itself", given);
    const log = optionalString(`${key}.log`, raw.log) ?? `${location}/backups.log`;
    if (!RELATIVE_PATH.test(log)) fail(`${key}.log`, "a path relative to the project, without `..`", log);
    return { kind: "directory", location, log };
}

function parseS3Store(field: string, url: string, kmsKeyId: string | undefined): S3BackupStore {
    const [bucket, ...rest] = url.slice("s3://".length).split("/");
    if (!isBucketName(bucket)) fail(field, `\`s3://<bucket>/<prefix>\` with ${BUCKET_RULE}`, url);
    // A trailing `/` names the same prefix: `s3://b/p/` and `s3://b/p` are one store, written one way.
    while (rest.length > 0 && rest[rest.length - 1] === "") rest.pop();
    if (rest.some((name) => !/^[A-Za-z0-9._=-]+$/.test(name) || name === "." || name === "..")) {
        fail(field, `\`s3://<bucket>/<prefix>\` with ${PREFIX_RULE}`, url);
    }
    const prefix = rest.join("/");
    // The store's artifacts and its `records/` share the prefix: a bucket's root would mix them with whatever else it holds.
    if (prefix === "") fail(field, "`s3://<bucket>/<prefix>` with a prefix of the store's own, such as `s3://shop-backups/prod`", url);
    return {
        kind: "s3",
        location: `s3://${bucket}/${prefix}`,
        bucket,
        prefix,
        ...(kmsKeyId !== undefined ? { sseKmsKeyId: kmsKeyId } : {}),
    };
}

/** The general-purpose bucket naming rules of S3 that a name can break on its own. */
function isBucketName(name: string): boolean {
    return (
        /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name) &&
        !name.includes("..") &&
        !/^\d{1,3}(\.\d{1,3}){3}$/.test(name) &&
        !name.startsWith("xn--") &&
        !name.startsWith("sthree-") &&
        !name.endsWith("-s3alias") &&
        !name.endsWith("--ol-s3")
    );
}
