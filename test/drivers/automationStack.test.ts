import * as assert from "assert";
import { LineSplitter } from "../../drivers/automationStack";

describe("drivers: update output from the Automation API", () => {
    it("passes on whole lines however the CLI's output is cut into chunks", () => {
        const lines: string[] = [];
        const splitter = new LineSplitter((line) => lines.push(line));
        // A secret cut between two chunks must reach the masking in one piece.
        for (const chunk of [
            "Updating (prod):\n    ~ command:local:Command router upd",
            "ating\r\n",
            "token op-sec",
            "ret-4b1d9c77 seen\n\n",
            "Duration: 5s",
        ]) {
            splitter.write(chunk);
        }
        assert.deepStrictEqual(lines, [
            "Updating (prod):",
            "    ~ command:local:Command router updating",
            "token op-secret-4b1d9c77 seen",
            "",
        ]);
        splitter.end();
        splitter.end();
        assert.deepStrictEqual(lines.slice(4), ["Duration: 5s"], "the unterminated last line once, at the end");
    });
});
