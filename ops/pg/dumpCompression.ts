import { UsageError } from "../command";

/** `backup --compress` when absent: why, with the figures, in dump.ts. */
export const DEFAULT_DUMP_COMPRESSION = "zstd:1";

/** How the archive's bytes are compressed, as `backup --compress` chose. */
export type DumpCompression =
    /** pg_dump writes its archive uncompressed; zstd compresses it in a process of its own. */
    | { readonly method: "zstd"; readonly level: number }
    /** pg_dump's own zlib (`--compress=N`), inside pg_dump. */
    | { readonly method: "gzip"; readonly level: number }
    | { readonly method: "none" };

/** zstd's levels above 19 need `--ultra` and far more memory; zlib's end at 9. */
const LEVELS = { zstd: { min: 1, max: 19 }, gzip: { min: 1, max: 9 } } as const;

/** What `--compress` accepts, for the usage text and the error. */
export const COMPRESS_VALUES = "zstd:1–19, gzip:1–9 or none";

/** `--compress`: absent for the default. Throws a UsageError naming what is accepted. */
export function parseDumpCompression(flag: string | undefined): DumpCompression {
    const value = flag ?? DEFAULT_DUMP_COMPRESSION;
    if (value === "none") return { method: "none" };
    const match = /^(zstd|gzip):(\d+)$/.exec(value);
    if (match) {
        const method = match[1] as keyof typeof LEVELS;
        const level = Number(match[2]);
        if (level >= LEVELS[method].min && level <= LEVELS[method].max) return { method, level };
    }
    // The flag once took pg_dump's zlib level alone.
    const hint = /^\d+$/.test(value) ? `; a bare level was pg_dump's zlib level: write \`gzip:${value}\` (or \`none\` for 0)` : "";
    throw new UsageError(
        `\`--compress\` must be ${COMPRESS_VALUES} (default ${DEFAULT_DUMP_COMPRESSION}: zstd on a core of its own while pg_dump streams); got \`${value}\`${hint}`,
    );
}

/** `zstd:1`, `gzip:6`, `none`: as `--compress` takes it. */
export function describeCompression(compression: DumpCompression): string {
    return compression.method === "none" ? "none" : `${compression.method}:${compression.level}`;
}

/** The archive's file name for a backup id: `.dump.zst` for zstd, else pg_dump's own `.dump`. */
export function dumpFileName(id: string, compression: DumpCompression): string {
    return compression.method === "zstd" ? `${id}.dump.zst` : `${id}.dump`;
}
