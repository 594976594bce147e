import { strict as assert } from "assert";
import { formatDuration, parseDuration } from "../../core/duration";

describe("durations (core/duration.ts): one parser for the ops programs and the drivers", () => {
    it("parses whole and fractional amounts of ms, s, m and h", () => {
        assert.deepEqual(
            ["250ms", "1.5s", "30s", "90s", "5m", "10m", "1h", "24h"].map((d) => parseDuration(d, "--bake")),
            [250, 1500, 30_000, 90_000, 300_000, 600_000, 3_600_000, 86_400_000],
        );
    });

    for (const text of ["0s", "25h", "10", "5 m", " 5m", "1d", "-1s", "1e3ms", ""]) {
        it(`refuses ${JSON.stringify(text)}, naming the flag`, () => {
            assert.throws(() => parseDuration(text, "--lock-timeout"), {
                message: `\`--lock-timeout\` must be a duration from 1ms to 24h such as 90s, 5m or 1h; got ${JSON.stringify(text)}`,
            });
        });
    }

    it("formats a duration back in the largest whole unit, minutes and seconds, or tenths of a second", () => {
        assert.deepEqual([40, 250, 1500, 30_000, 90_000, 190_000, 300_000, 3_600_000, 5_400_000].map(formatDuration), [
            "40ms",
            "250ms",
            "1.5s",
            "30s",
            "1m30s",
            "3m10s",
            "5m",
            "1h",
            "90m",
        ]);
    });
});
