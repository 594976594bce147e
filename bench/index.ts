import * as fs from "fs";
import * as path from "path";

/**
 * `npm run bench`: runs every `bench/*.bench.ts` (or only those whose name
 * contains one of the arguments) in turn, each printing its own figures.
 */
async function main(filters: string[]): Promise<void> {
    const files = fs
        .readdirSync(__dirname)
        .filter((f) => f.endsWith(".bench.ts"))
        .filter((f) => filters.length === 0 || filters.some((filter) => f.includes(filter)))
        .sort();
    if (files.length === 0) throw new Error(`no benchmark matches ${filters.join(", ")}`);
    for (const file of files) {
        console.log(`\n## ${file.replace(/\.bench\.ts$/, "")}`);
        const started = Date.now();
        await (require(path.join(__dirname, file)) as { run(): Promise<void> }).run();
        console.log(`(${file}: ${((Date.now() - started) / 1000).toFixed(1)} s)`);
    }
}

main(process.argv.slice(2)).then(
    () => process.exit(0),
    (err) => {
        console.error(err instanceof Error ? err.stack : err);
        process.exit(1);
    },
);
