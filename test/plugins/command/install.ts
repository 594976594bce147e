import * as fs from "fs";
import * as path from "path";
import { UPSTREAM_VERSION } from "./provider";

export const PLUGIN_EXECUTABLE = "pulumi-resource-command";

/**
 * The executable the engine starts: a shell script that runs `main` by absolute
 * paths, so it works from any working directory (the engine starts plugins in the
 * program's directory) and adds nothing to the environment the commands inherit.
 * Compiled (`tsconfig.plugins.json`), it runs `main.js` on node; from source, it
 * runs `main.ts` through ts-node with the repository's tsconfig.
 */
export function launcherScript(nodeBinary: string = process.execPath): string {
    const compiled = __filename.endsWith(".js");
    const main = path.join(__dirname, compiled ? "main.js" : "main.ts");
    const repoRoot = path.resolve(__dirname, "../../..");
    const tsNode = compiled ? "" : require.resolve("ts-node", { paths: [repoRoot] });
    for (const [name, value] of Object.entries({ node: nodeBinary, main, tsNode })) {
        if (/['\\"\n]/.test(value)) {
            throw new Error(`the ${name} path ${value} holds a quote, backslash or newline; the launcher cannot quote it`);
        }
    }
    const bootstrap =
        `require(${JSON.stringify(tsNode)}).register({ project: ${JSON.stringify(path.join(repoRoot, "tsconfig.json"))}, transpileOnly: true });` +
        ` require(${JSON.stringify(main)}).serve(process.argv.slice(1));`;
    return [
        "#!/bin/sh",
        `# Stand-in for pulumi-resource-command v${UPSTREAM_VERSION} (see ${main}).`,
        compiled ? `exec '${nodeBinary}' '${main}' "$@"` : `exec '${nodeBinary}' -e '${bootstrap}' -- "$@"`,
        "",
    ].join("\n");
}

/** Writes the launcher as `<dir>/pulumi-resource-command` and returns its path. */
export function writeLauncher(dir: string, nodeBinary?: string): string {
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, PLUGIN_EXECUTABLE);
    fs.writeFileSync(file, launcherScript(nodeBinary), { mode: 0o755 });
    return file;
}

/**
 * Installs the stand-in into `<pulumiHome>/plugins/resource-command-v1.2.1/`, where
 * the engine finds the version `@pulumi/command` 1.2.1 asks for (a plugin directory
 * without a `.partial` marker is an installed one). Returns the executable's path.
 */
export function installCommandPlugin(pulumiHome: string, nodeBinary?: string): string {
    const dir = path.join(pulumiHome, "plugins", `resource-command-v${UPSTREAM_VERSION}`);
    fs.rmSync(`${dir}.partial`, { force: true });
    return writeLauncher(dir, nodeBinary);
}
