"use strict";
// The embedded KMS: PROGRESSDB_KMS_DIR/keys.json holds one data key, wrapped
// (AES-256-GCM) by a key derived from PROGRESSDB_KMS_MASTER_KEY. It is made on
// first start. Message bodies are stored encrypted with the data key, so the
// database is unreadable without this directory and the master key: both must be
// backed up with the `--db` directory.
const crypto = require("crypto");
const fs = require("fs");
const path = require("path");

const b64 = (buffer) => buffer.toString("base64");

function wrapKey(masterKey, salt) {
    return crypto.scryptSync(masterKey, salt, 32);
}

function seal(key, plain) {
    const iv = crypto.randomBytes(12);
    const cipher = crypto.createCipheriv("aes-256-gcm", key, iv);
    const data = Buffer.concat([cipher.update(plain), cipher.final()]);
    return `v1:${b64(iv)}:${b64(data)}:${b64(cipher.getAuthTag())}`;
}

function open(key, sealed) {
    const [tag, iv, data, auth] = String(sealed).split(":");
    if (tag !== "v1" || auth === undefined) throw new Error("not a sealed value");
    const decipher = crypto.createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64"));
    decipher.setAuthTag(Buffer.from(auth, "base64"));
    return Buffer.concat([decipher.update(Buffer.from(data, "base64")), decipher.final()]);
}

/** Opens (or, on first start, creates) the key file; returns encrypt/decrypt of message bodies. */
function openKms(dir, masterKey) {
    if (!dir) throw new Error("PROGRESSDB_KMS_DIR must name the embedded KMS directory");
    if (!masterKey || masterKey.length < 16) throw new Error("PROGRESSDB_KMS_MASTER_KEY must be set (at least 16 characters)");
    const file = path.join(dir, "keys.json");
    let record;
    if (fs.existsSync(file)) record = JSON.parse(fs.readFileSync(file, "utf8"));
    else {
        fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
        const salt = crypto.randomBytes(16);
        const dataKey = crypto.randomBytes(32);
        record = { keyId: `k-${crypto.randomBytes(4).toString("hex")}`, salt: b64(salt), wrapped: seal(wrapKey(masterKey, salt), dataKey) };
        const staging = `${file}.${process.pid}.tmp`;
        fs.writeFileSync(staging, `${JSON.stringify(record)}\n`, { mode: 0o600 });
        fs.renameSync(staging, file);
    }
    let dataKey;
    try {
        dataKey = open(wrapKey(masterKey, Buffer.from(record.salt, "base64")), record.wrapped);
    } catch {
        throw new Error(
            `PROGRESSDB_KMS_MASTER_KEY does not unwrap the data key in ${file}: wrong master key, or a KMS directory of another database`,
        );
    }
    return {
        keyId: record.keyId,
        encrypt: (text) => seal(dataKey, Buffer.from(text, "utf8")),
        decrypt: (sealed) => open(dataKey, sealed).toString("utf8"),
    };
}

module.exports = { openKms };
