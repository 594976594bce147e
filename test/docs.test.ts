import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { RELEASE_KEYS } from "../settings/release";
import { DocPage, hasTag, headingSlug, headingSlugs, linkTargets, parsePage, readDocs } from "./fixtures/docs/markdown";
import { sourceLinePatterns, unmatchedMessageLines } from "./fixtures/docs/sourceMessages";

const ROOT = path.join(__dirname, "..");
const DOCS = path.join(ROOT, "docs");
const pages = readDocs();

/** Every relative link that does not resolve, as `file: target (why)`. */
function brokenLinks(page: DocPage): string[] {
    return linkTargets(page)
        .filter((t) => !/^[a-z]+:/.test(t))
        .flatMap((target) => {
            const [file, anchor] = target.split("#");
            const resolved = file === "" ? path.join(DOCS, page.file) : path.resolve(DOCS, file);
            if (!fs.existsSync(resolved)) return [`${page.file}: ${target} (no such file)`];
            if (anchor !== undefined && !headingSlugs(fs.readFileSync(resolved, "utf8")).includes(anchor))
                return [`${page.file}: ${target} (no such heading)`];
            return [];
        });
}

/** `release:<key>` mentions outside refused changes and quoted messages (which show misspelt keys on purpose). */
function mentionedKeys(page: DocPage): string[] {
    const checked = [
        page.prose,
        ...page.blocks.filter((b) => !b.tags.includes("refused") && !b.tags.includes("message")).map((b) => b.text),
    ];
    return [...new Set(checked.flatMap((text) => [...text.matchAll(/\brelease:([A-Za-z][A-Za-z0-9]*)/g)].map((m) => m[1])))].sort();
}

function mentionedOpsCommands(page: DocPage): string[] {
    return [...new Set([...page.text.matchAll(/safe-release-ops(?:\.js)?\s+([a-z][a-z-]*)/g)].map((m) => m[1]))].sort();
}

describe("docs: the operator pages", () => {
    it("exist: an index and the procedures and references, each linked from the index", () => {
        assert.deepEqual(
            pages.map((p) => p.file),
            [
                "README.md",
                "aws-ecs.md",
                "aws-permissions.md",
                "rds-restore.md",
                "rehearsal.md",
                "release-checklist.md",
                "restore-drill.md",
                "rollback.md",
                "troubleshooting.md",
                "upgrade.md",
            ],
        );
        const index = linkTargets(pages[0]).map((t) => t.split("#")[0]);
        for (const page of pages.slice(1)) assert.ok(index.includes(page.file), `docs/README.md does not link ${page.file}`);
    });

    it("every relative link resolves to a file and, with an anchor, to one of its headings", () => {
        assert.deepEqual(pages.flatMap(brokenLinks), []);
    });

    it("a broken link or anchor is caught", () => {
        const page = parsePage(
            "README.md",
            "[a](upgrade.md#no-such-step) [b](missing.md) [c](upgrade.md#shift-traffic) [d](https://example.com/x)",
        );
        assert.deepEqual(brokenLinks(page), [
            "README.md: upgrade.md#no-such-step (no such heading)",
            "README.md: missing.md (no such file)",
        ]);
        assert.equal(headingSlug("Promote: retire the previous version"), "promote-retire-the-previous-version");
        assert.equal(headingSlug("After v1.4.2 was retired"), "after-v142-was-retired");
    });

    it("every `release:<key>` named is a key the program reads (settings/*.ts RELEASE_KEYS)", () => {
        const known = RELEASE_KEYS as readonly string[];
        const named = [...new Set(pages.flatMap(mentionedKeys))];
        assert.deepEqual(
            named.filter((k) => !known.includes(k)),
            [],
        );
        for (const key of ["version", "previous", "canaryWeight", "restoreFrom", "acceptSchemaHead", "analysis"])
            assert.ok(named.includes(key), key);
    });

    it("a misspelt key outside a refused change is caught", () => {
        const page = parsePage("x.md", "Set `release:canaryWieght`.\n\n```yaml refused\nrelease:canaryWieght: 1\n```\n");
        assert.deepEqual(mentionedKeys(page), ["canaryWieght"]);
    });

    it("every `safe-release-ops <command>` named exists in ops/commands/", () => {
        const named = [...new Set(pages.flatMap(mentionedOpsCommands))].sort();
        assert.deepEqual(
            named.filter((c) => !fs.existsSync(path.join(ROOT, "ops", "commands", `${c}.ts`))),
            [],
        );
        assert.deepEqual(named, [
            "artifacts-check",
            "backup",
            "drift",
            "ecs-task",
            "host-check",
            "migrate",
            "preflight",
            "prune",
            "rds-restore",
            "rds-snapshot",
            "rehearse",
            "restore",
            "smoke",
            "store-check",
            "verify",
        ]);
    });

    it("procedures are numbered steps, each page short enough to scan in an incident", () => {
        for (const page of pages) {
            assert.ok(page.text.split("\n").length <= 300, `${page.file} has ${page.text.split("\n").length} lines`);
            if (["upgrade.md", "rollback.md", "restore-drill.md"].includes(page.file)) assert.match(page.prose, /^1\. /m, page.file);
        }
    });

    it("no secret on a command line: commands take DATABASE_URL and tokens from the environment", () => {
        const commands = pages.flatMap((p) => p.blocks.filter((b) => b.lang === "sh"));
        assert.ok(commands.length > 10);
        for (const block of commands) {
            assert.doesNotMatch(block.text, /(DATABASE_URL|TOKEN|PASSPHRASE)=\S/, `${block.file}:${block.line}`);
            assert.doesNotMatch(block.text, /postgres(ql)?:\/\//, `${block.file}:${block.line}`);
        }
    });
});

describe("docs: every quoted message appears verbatim in the program's source", () => {
    const patterns = sourceLinePatterns(ROOT);
    const messages = pages.flatMap((p) => p.blocks.filter((b) => hasTag(b, "text", "message")));

    it("finds the quoted messages", () => {
        assert.ok(messages.length >= 10, `${messages.length} message blocks`);
    });

    for (const block of messages) {
        it(`${block.file}:${block.line} (${block.section})`, () => {
            assert.deepEqual(unmatchedMessageLines(block.text, patterns), []);
        });
    }

    it("a message that drifted from the source is caught", () => {
        const drifted =
            "`release:canaryWeight` must be 0 while v1.5.0 enters the live set (got 10): a new version takes traffic only after its services are healthy; raise the weight";
        assert.deepEqual(unmatchedMessageLines(drifted, patterns), [drifted]);
        assert.deepEqual(unmatchedMessageLines("some text\n  | …\n…", patterns), ["some text"]);
    });
});
