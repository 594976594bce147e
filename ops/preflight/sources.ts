import * as fs from "fs";
import * as path from "path";
import { ClientBase } from "pg";
import { UsageError } from "../command";
import { tableExists } from "../pg/ledgers";

export type LedgerKind = "prisma" | "django";
export type LedgerChoice = LedgerKind | "auto";

export const LEDGER_TABLES: Readonly<Record<LedgerKind, string>> = { prisma: "_prisma_migrations", django: "django_migrations" };

export type DetectedLedger =
    { readonly kind: LedgerKind; readonly present: boolean } | { readonly kind: "none" } | { readonly kind: "ambiguous" };

/** Pure: which framework ledger to read, from the choice and which tables exist. */
export function chooseLedger(choice: LedgerChoice, present: ReadonlySet<LedgerKind>): DetectedLedger {
    if (choice !== "auto") return { kind: choice, present: present.has(choice) };
    if (present.size === 2) return { kind: "ambiguous" };
    const [only] = [...present];
    return only === undefined ? { kind: "none" } : { kind: only, present: true };
}

export async function detectLedger(client: ClientBase, choice: LedgerChoice): Promise<DetectedLedger> {
    const present = new Set<LedgerKind>();
    for (const kind of ["prisma", "django"] as const) {
        if (await tableExists(client, LEDGER_TABLES[kind])) present.add(kind);
    }
    return chooseLedger(choice, present);
}

function readDirOrFail(dir: string): fs.Dirent[] {
    try {
        return fs.readdirSync(dir, { withFileTypes: true });
    } catch (err) {
        throw new UsageError(`\`--migrations-dir\` must be a readable directory; got \`${dir}\` (${(err as NodeJS.ErrnoException).code})`);
    }
}

/** `<dir>/<migration>/migration.sql` for every migration folder; other entries (migration_lock.toml) are ignored. */
export function readPrismaMigrations(dir: string): Map<string, Buffer> {
    const files = new Map<string, Buffer>();
    for (const entry of readDirOrFail(dir)) {
        const file = path.join(dir, entry.name, "migration.sql");
        if (entry.isDirectory() && fs.existsSync(file)) files.set(entry.name, fs.readFileSync(file));
    }
    return files;
}

export interface DjangoTree {
    /** App folders that hold a `migrations/` package (the app label is taken to be the folder name). */
    readonly apps: Set<string>;
    /** `app/name` of every migration module. */
    readonly files: Set<string>;
}

export function readDjangoMigrations(dir: string): DjangoTree {
    const apps = new Set<string>();
    const files = new Set<string>();
    for (const entry of readDirOrFail(dir)) {
        const migrations = path.join(dir, entry.name, "migrations");
        if (!entry.isDirectory() || !fs.existsSync(migrations)) continue;
        apps.add(entry.name);
        for (const file of fs.readdirSync(migrations)) {
            if (file.endsWith(".py") && file !== "__init__.py") files.add(`${entry.name}/${file.slice(0, -3)}`);
        }
    }
    return { apps, files };
}

export function readSqlFile(file: string): string {
    try {
        return fs.readFileSync(file, "utf8");
    } catch (err) {
        throw new UsageError(`\`--pending-sql\` must name a readable file; got \`${file}\` (${(err as NodeJS.ErrnoException).code})`);
    }
}

/** Bytes available to an unprivileged writer on the volume holding `dir`. */
export async function freeBytes(dir: string): Promise<number> {
    const stats = await fs.promises.statfs(dir);
    return Number(stats.bavail) * Number(stats.bsize);
}
