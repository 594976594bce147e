import { ProgramRun, RecordedResource } from "./mockEngine";

/** The marker the Pulumi wire format puts on a secret value. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_MARK = "1b47061264138c4ac30d75fd1eb44270";

export function isSecret(value: unknown): boolean {
    return typeof value === "object" && value !== null && (value as Record<string, unknown>)[SECRET_SIG] === SECRET_MARK;
}

/** The one resource of `type` named `name`; fails loudly when it is missing, so assertions never pass on nothing. */
export function resource(run: ProgramRun, type: string, name: string): RecordedResource {
    const found = [...run.resources.values()].filter((r) => r.type === type && r.name === name);
    if (found.length !== 1) {
        const names = [...run.resources.values()].filter((r) => r.type === type).map((r) => r.name);
        throw new Error(`expected one ${type} named ${name}; found ${found.length} (${type} names: ${names.join(", ") || "none"})`);
    }
    return found[0];
}

export function resourcesOfType(run: ProgramRun, type: string): RecordedResource[] {
    return [...run.resources.values()].filter((r) => r.type === type).sort((a, b) => a.name.localeCompare(b.name));
}

/** URN of a resource, for asserting on `dependencies`. */
export function urnOf(run: ProgramRun, type: string, name: string): string {
    return resource(run, type, name).urn;
}

/** Paths in `value` where `needle` appears outside a Pulumi secret: where a secret would leak into state or a preview. */
export function plainTextPaths(value: unknown, needle: string, path = ""): string[] {
    if (isSecret(value)) return [];
    if (typeof value === "string") return value.includes(needle) ? [path || "(value)"] : [];
    if (Array.isArray(value)) return value.flatMap((v, i) => plainTextPaths(v, needle, `${path}[${i}]`));
    if (typeof value === "object" && value !== null) {
        return Object.entries(value).flatMap(([k, v]) => plainTextPaths(v, needle, path ? `${path}.${k}` : k));
    }
    return [];
}

/** The two resources of a release start's rollback check (`components/data/rollbackCheck.ts`), as diffs name them. */
export function rollbackCheckOf(version: string, app = "shop"): string[] {
    return [
        `command:local:Command::${app}-rollback-check-${version}-run`,
        `safe-release:data:RollbackCheck::${app}-rollback-check-${version}`,
    ];
}

/** The pinned images the stack exports for `version`, as `artifacts-check --images` lists them. */
export function pinnedImagesOf(run: ProgramRun, version: string): string {
    return Object.values((run.outputs.images as Record<string, Record<string, string>>)[version])
        .sort()
        .join(",");
}
