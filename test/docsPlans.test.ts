import { strict as assert } from "assert";
import { DocPage, blockLines, firstMissingLine, hasTag, readDocs } from "./fixtures/docs/markdown";
import { PlacedBlock, PlanOutcome, StackChange, applyChange, exampleStack, placeBlocks, planChange } from "./fixtures/docs/scenarios";

/**
 * Each change a doc shows is planned as `npm run plan` plans it (in-process):
 * the section's stack file before and after the change. The plan lines the doc
 * quotes must be printed, and a change the doc calls refused must be refused
 * with exactly the message it quotes.
 */
const pages = readDocs();
const example = exampleStack(pages);

function describePlacement(page: DocPage): Array<{ change: StackChange; checks: PlacedBlock[] }> {
    const placed = placeBlocks(page, example);
    const changes = [...new Set(placed.map((p) => p.change).filter((c): c is StackChange => c !== undefined))];
    return changes.map((change) => ({
        change,
        checks: placed.filter((p) => p.change === change && (hasTag(p.block, "text", "plan") || hasTag(p.block, "text", "message"))),
    }));
}

describe("docs: every config change plans as the doc says", function () {
    this.timeout(60000);
    const outcomes = new Map<StackChange, Promise<PlanOutcome>>();
    const planned = (change: StackChange) => outcomes.get(change) ?? outcomes.set(change, planChange(change)).get(change)!;

    for (const page of pages) {
        for (const { change, checks } of describePlacement(page)) {
            const where = `${page.file}:${change.block.line} (${change.block.section})`;
            it(`${where}: ${change.refused ? "refused with the quoted message" : "plans the quoted lines"}`, async () => {
                const outcome = await planned(change);
                if (change.refused) {
                    assert.ok("refusal" in outcome, `${where}: the program accepted a change the doc says it refuses`);
                    const quoted = checks.find((c) => hasTag(c.block, "text", "message"));
                    assert.ok(quoted !== undefined, `${where}: a refused change needs the \`text message\` block it is refused with`);
                    assert.equal(outcome.refusal, quoted.block.text.trim());
                    return;
                }
                assert.ok("plan" in outcome, `${where}: the program refused the change: ${"refusal" in outcome ? outcome.refusal : ""}`);
                const plans = checks.filter((c) => hasTag(c.block, "text", "plan"));
                assert.ok(plans.length > 0, `${where}: a change needs a \`text plan\` block showing what it does`);
                for (const quoted of plans) {
                    assert.equal(
                        firstMissingLine(blockLines(quoted.block), outcome.plan),
                        undefined,
                        `${quoted.block.file}:${quoted.block.line}\n${outcome.plan}`,
                    );
                }
            });
        }
    }

    it("covers the operator's tasks: start, shift, promote, abort, roll back (warm, retired, failed migration)", () => {
        const sections = pages.flatMap((p) =>
            describePlacement(p)
                .filter((c) => !c.change.refused)
                .map((c) => c.change.block.section),
        );
        for (const section of [
            "Start a release",
            "Shift traffic",
            "Promote: retire the previous version",
            "Abort the canary",
            "After an app bug",
            "After v1.4.2 was retired",
            "After a failed migration",
        ]) {
            assert.ok(sections.includes(section), section);
        }
    });
});

describe("docs: how a doc's change is applied to the stack file", () => {
    const stack = "config:\n  release:app: shop\n  release:version: v1.5.0\n  release:previous: v1.4.2\n  release:canaryWeight: 10\n";

    it("sets the keys given and deletes the lines marked for deletion", () => {
        const after = applyChange(stack, "config:\n  release:canaryWeight: 0\n  # release:previous: v1.4.2    <- delete this line\n");
        assert.equal(after, "config:\n  release:app: shop\n  release:version: v1.5.0\n  release:canaryWeight: 0\n");
    });

    it("refuses a change that deletes a key the file lacks, sets a foreign key, or does nothing", () => {
        assert.throws(() => applyChange(stack, "# release:restoreFrom: x   <- delete this line"), {
            message: "a change deletes `release:restoreFrom`, which the stack file does not have",
        });
        assert.throws(() => applyChange(stack, "config:\n  aws:region: eu-west-1\n"), {
            message: "a change may set `release:` keys only; got `aws:region`",
        });
        assert.throws(() => applyChange(stack, "# just a note\n"), { message: "a change sets or deletes nothing:\n# just a note\n" });
    });

    it("a doc whose quoted plan line is not printed fails", async () => {
        const before = example;
        const change: StackChange = {
            block: { file: "x.md", line: 1, lang: "yaml", tags: [], text: "", section: "" },
            before,
            after: applyChange(before, "release:version: v1.5.0\nrelease:previous: v1.4.2\nrelease:canaryWeight: 0"),
            refused: false,
        };
        const outcome = await planChange(change);
        assert.ok("plan" in outcome);
        assert.equal(firstMissingLine(["  [x] 11. weights: v1.5.0 0% / v1.4.2 100%"], outcome.plan), undefined);
        assert.equal(
            firstMissingLine(["  [x] 11. weights: v1.5.0 10% / v1.4.2 90%"], outcome.plan),
            "  [x] 11. weights: v1.5.0 10% / v1.4.2 90%",
        );
        assert.equal(
            firstMissingLine(["  [x] 11. weights: v1.5.0 0% / v1.4.2 100%", "  [x] 5. quiesce: stop worker of v1.4.2"], outcome.plan),
            "  [x] 5. quiesce: stop worker of v1.4.2",
            "lines must appear in order",
        );
    });
});
