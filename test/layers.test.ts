import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";

/**
 * The layers of DESIGN.md, read from the imports themselves: `index.ts` →
 * `components/` → `settings/` → `core/`; `ops/`, `drivers/` and `plan/` use
 * `core/`, and `drivers/` and `plan/` also the components and settings they
 * evaluate. An arrow from a lower layer to a higher one fails here, naming it.
 */
const MAY_IMPORT: Record<string, readonly string[]> = {
    core: ["core"],
    settings: ["settings", "core"],
    components: ["components", "settings", "core"],
    ops: ["ops", "core"],
    drivers: ["drivers", "components", "settings", "core"],
    plan: ["plan", "components", "settings", "core", "top"],
    top: ["top", "components", "settings", "core"],
};

const ROOT = path.join(__dirname, "..");
const RELATIVE_IMPORT = /(?:\bfrom\s+|\brequire\(\s*|\bimport\(\s*)"(\.{1,2}\/[^"]+)"/g;

/** The layer of a file or an imported module (`../config` names the top-level config.ts). */
function layerOf(file: string): string {
    const parts = path.relative(ROOT, file).split(path.sep);
    return parts.length === 1 ? "top" : parts[0];
}

function sources(dir: string, recursive: boolean): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) return recursive ? sources(full, true) : [];
        return entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts") ? [full] : [];
    });
}

/** Every `from "./…"`/`require("../…")` of the project's own code, as `file → imported module`. */
export function importArrows(): Array<{ from: string; to: string }> {
    const files = [
        ...sources(ROOT, false),
        ...["core", "settings", "components", "ops", "drivers", "plan"].flatMap((d) => sources(path.join(ROOT, d), true)),
    ];
    return files.flatMap((file) =>
        [...fs.readFileSync(file, "utf8").matchAll(RELATIVE_IMPORT)].map((m) => ({ from: file, to: path.join(path.dirname(file), m[1]) })),
    );
}

describe("layers: imports run one way (DESIGN.md)", () => {
    const arrows = importArrows();

    it("reads the imports of every layer", () => {
        const layers = new Set(arrows.map((a) => layerOf(a.from)));
        assert.deepEqual([...layers].sort(), ["components", "core", "drivers", "ops", "plan", "settings", "top"]);
    });

    it("has no arrow from a lower layer to a higher one", () => {
        const wrong = arrows
            .filter((a) => !MAY_IMPORT[layerOf(a.from)].includes(layerOf(a.to)))
            .map((a) => `${path.relative(ROOT, a.from)} imports ${path.relative(ROOT, a.to)} (${layerOf(a.from)} → ${layerOf(a.to)})`);
        assert.deepEqual(wrong, []);
    });

    it("keeps core/ free of every other layer, so any program can use it", () => {
        const core = arrows.filter((a) => layerOf(a.from) === "core");
        assert.ok(core.length > 0);
        assert.deepEqual(
            core.filter((a) => layerOf(a.to) !== "core").map((a) => path.relative(ROOT, a.from)),
            [],
        );
    });
});
