import { strict as assert } from "assert";
import { compareTags, isReleaseTag, newestTag, tagSlug } from "../../core/releaseTags";

/** The precedence example of SemVer 2.0 §11, oldest first, as release tags. */
const SPEC_ORDER = [
    "v1.0.0-alpha",
    "v1.0.0-alpha.1",
    "v1.0.0-alpha.beta",
    "v1.0.0-beta",
    "v1.0.0-beta.2",
    "v1.0.0-beta.11",
    "v1.0.0-rc.1",
    "v1.0.0",
    "v2.0.0",
    "v2.1.0",
    "v2.1.1",
];

describe("release tags (core/releaseTags.ts)", () => {
    describe("isReleaseTag", () => {
        const accepted = [
            "v0.0.0",
            "v1.4.2",
            "v10.20.30",
            "v1.5.0-rc.1",
            "v1.0.0-alpha",
            "v1.0.0-alpha.beta.1",
            "v1.0.0-0.3.7",
            "v1.0.0-x.7.z.92",
            "v1.0.0-x-y-z.--",
            "v1.0.0-0alpha",
            "v1.0.0-rc-1",
        ];
        const refused = [
            "1.4.2",
            "V1.4.2",
            "v1.4",
            "v1",
            "v1.4.2.1",
            "v01.4.2",
            "v1.04.2",
            "v1.4.02",
            "v1.5.0-rc.01",
            "v1.5.0+1",
            "v1.5.0-rc.1+build.5",
            "v1.5.0-",
            "v1.5.0-rc..1",
            "v1.5.0-rc_1",
            "latest",
            "",
            " v1.4.2",
            "v1.4.2 ",
            "v-1.4.2",
            "vv1.4.2",
            "v=1.4.2",
            // Beyond 2^53 the `semver` package cannot order core numbers exactly.
            "v9007199254740993.0.0",
            "v1.0.0-rc.9007199254740993",
        ];
        for (const tag of accepted) it(`accepts ${JSON.stringify(tag)}`, () => assert.equal(isReleaseTag(tag), true));
        for (const tag of refused) it(`refuses ${JSON.stringify(tag)}`, () => assert.equal(isReleaseTag(tag), false));
    });

    describe("compareTags (SemVer 2.0 §11 precedence)", () => {
        it("orders the specification's example list pairwise", () => {
            for (let i = 0; i < SPEC_ORDER.length; i++) {
                for (let j = 0; j < SPEC_ORDER.length; j++) {
                    const expected = Math.sign(i - j);
                    assert.equal(Math.sign(compareTags(SPEC_ORDER[i], SPEC_ORDER[j])), expected, `${SPEC_ORDER[i]} vs ${SPEC_ORDER[j]}`);
                }
            }
        });

        const cases: Array<[string, string, number, string]> = [
            ["v1.5.0-rc.1", "v1.5.0", -1, "a pre-release is older than its release"],
            ["v1.5.0", "v1.5.0-rc.1", 1, "a release is newer than its pre-release"],
            ["v1.5.0-rc.1", "v1.4.9", 1, "the core version decides before the pre-release"],
            ["v1.10.0", "v1.9.0", 1, "minor versions compare as numbers, not text"],
            ["v1.0.10", "v1.0.9", 1, "patch versions compare as numbers, not text"],
            ["v2.0.0", "v10.0.0", -1, "major versions compare as numbers, not text"],
            ["v1.0.0-rc.10", "v1.0.0-rc.9", 1, "numeric identifiers compare as numbers"],
            ["v1.0.0-1", "v1.0.0-alpha", -1, "numeric identifiers are older than alphanumeric ones"],
            ["v1.0.0-alpha", "v1.0.0-1", 1, "alphanumeric identifiers are newer than numeric ones"],
            ["v1.0.0-0alpha", "v1.0.0-1", 1, "an identifier with a letter is alphanumeric even when it starts with a digit"],
            ["v1.0.0-Beta", "v1.0.0-alpha", -1, "alphanumeric identifiers compare in ASCII order (upper case first)"],
            ["v1.0.0-alpha.1", "v1.0.0-alpha", 1, "a longer pre-release list wins when the prefix is equal"],
            ["v1.0.0-alpha", "v1.0.0-alpha.1", -1, "a shorter pre-release list loses when the prefix is equal"],
            ["v1.0.0-rc.1.a", "v1.0.0-rc.2", -1, "an earlier identifier decides before the list length"],
            ["v1.4.2", "v1.4.2", 0, "equal releases"],
            ["v1.5.0-rc.1", "v1.5.0-rc.1", 0, "equal pre-releases"],
        ];
        for (const [a, b, sign, why] of cases) {
            it(`${a} ${sign < 0 ? "<" : sign > 0 ? ">" : "="} ${b}: ${why}`, () => {
                assert.equal(Math.sign(compareTags(a, b)), sign);
            });
        }

        it("throws on a value that is not a release tag", () => {
            assert.throws(() => compareTags("v1.4.2", "latest"), { message: "not a release tag: latest" });
            assert.throws(() => compareTags("1.4.2", "v1.4.2"), { message: "not a release tag: 1.4.2" });
        });
    });

    describe("newestTag", () => {
        it("returns the newest by precedence, not by text or position", () => {
            assert.equal(newestTag(["v1.9.0", "v1.10.0", "v1.2.0"]), "v1.10.0");
            assert.equal(newestTag(["v1.5.0", "v1.5.0-rc.2"]), "v1.5.0");
            assert.equal(newestTag(["v1.5.0-rc.2", "v1.5.0"]), "v1.5.0");
            assert.equal(newestTag([...SPEC_ORDER].reverse()), "v2.1.1");
            assert.equal(newestTag(["v1.0.0-beta.11", "v1.0.0-beta.2"]), "v1.0.0-beta.11");
        });

        it("returns the single tag of a one-element list and undefined for none", () => {
            assert.equal(newestTag(["v0.1.0"]), "v0.1.0");
            assert.equal(newestTag([]), undefined);
        });

        it("keeps the first of equal tags", () => {
            assert.equal(newestTag(["v1.4.2", "v1.4.2"]), "v1.4.2");
        });
    });

    describe("tagSlug", () => {
        const table: Array<[string, string]> = [
            ["v1.5.0", "v1-5-0"],
            ["v10.20.30", "v10-20-30"],
            ["v1.5.0-rc.1", "v1-5-0-rc-1"],
            ["v1.0.0-x-y-z.--", "v1-0-0-x-y-z---"],
            ["v1.0.0-Beta.2", "v1-0-0-Beta-2"],
        ];
        for (const [tag, slug] of table) it(`${tag} → ${slug}`, () => assert.equal(tagSlug(tag), slug));

        it("maps tags that differ only in `.` versus `-` to the same slug (which the config therefore refuses for two live versions)", () => {
            assert.equal(tagSlug("v1.5.0-rc.1"), tagSlug("v1.5.0-rc-1"));
        });
    });
});
