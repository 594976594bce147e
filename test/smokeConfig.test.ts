import * as assert from "assert";
import { parseSmokeConfig } from "../core/smokeConfig";
import { jsonEqual, substitute, valueAtPath } from "../ops/smoke/json";
import { firstBytes, maskSecrets } from "../core/mask";
import { isSecretCapture } from "../ops/smoke/runner";

describe("parseSmokeConfig (`release:smoke`)", () => {
    it("fills defaults and keeps flows in order", () => {
        const items = parseSmokeConfig(
            JSON.stringify([
                { name: "health", path: "/health" },
                {
                    name: "projects",
                    steps: [
                        {
                            name: "create",
                            method: "POST",
                            path: "/projects",
                            body: { name: "smoke" },
                            capture: { projectId: "id" },
                            expectStatus: 201,
                        },
                        { name: "delete", method: "DELETE", path: "/projects/{{projectId}}", expectStatus: 204, timeoutMs: 1000 },
                    ],
                },
            ]),
        );
        assert.deepStrictEqual(items[0], {
            kind: "check",
            check: {
                name: "health",
                method: "GET",
                path: "/health",
                expectStatus: 200,
                expectJson: undefined,
                body: undefined,
                headers: {},
                useOperatorToken: false,
                timeoutMs: 5000,
                capture: {},
            },
        });
        assert.strictEqual(items[1].kind, "flow");
        const flow = items[1].kind === "flow" ? items[1].flow : undefined;
        assert.deepStrictEqual(
            flow?.steps.map((s) => [s.name, s.method, s.path, s.expectStatus, s.timeoutMs, s.capture]),
            [
                ["create", "POST", "/projects", 201, 5000, { projectId: "id" }],
                ["delete", "DELETE", "/projects/{{projectId}}", 204, 1000, {}],
            ],
        );
    });

    const errors: Array<[string, unknown, string]> = [
        ["not JSON", "[{", '`release:smoke` must be JSON; got "[{"'],
        ["empty", [], "`release:smoke` must be a non-empty list of checks and flows; got []"],
        [
            "status out of range",
            [
                { name: "a", path: "/" },
                { name: "b", path: "/" },
                { name: "c", path: "/", expectStatus: 700 },
            ],
            "`release:smoke[2].expectStatus` must be an integer HTTP status from 100 to 599; got 700",
        ],
        ["no name", [{ path: "/" }], "`release:smoke[0].name` must be a non-empty string; got nothing"],
        ["relative path", [{ name: "a", path: "health" }], '`release:smoke[0].path` must be a path starting with `/`; got "health"'],
        [
            "bad method",
            [{ name: "a", path: "/", method: "get" }],
            '`release:smoke[0].method` must be one of GET, HEAD, POST, PUT, PATCH, DELETE; got "get"',
        ],
        [
            "bad timeout",
            [{ name: "a", path: "/", timeoutMs: 0 }],
            "`release:smoke[0].timeoutMs` must be an integer number of milliseconds from 1 to 300000; got 0",
        ],
        [
            "bad expectJson",
            [{ name: "a", path: "/", expectJson: "ok" }],
            '`release:smoke[0].expectJson` must be an object of dot paths to expected values, such as {"status":"ok"}; got "ok"',
        ],
        [
            "header value",
            [{ name: "a", path: "/", headers: { "X-A": 1 } }],
            '`release:smoke[0].headers` must be an object of header names to string values; got {"X-A":1}',
        ],
        [
            "literal credential",
            [{ name: "a", path: "/", headers: { authorization: "Bearer abc" } }],
            "`release:smoke[0].headers` must not hard-code Authorization; use `useOperatorToken` or a captured `{{token}}` in a flow",
        ],
        [
            "operator flag",
            [{ name: "a", path: "/", useOperatorToken: "yes" }],
            '`release:smoke[0].useOperatorToken` must be true or false; got "yes"',
        ],
        [
            "unknown field",
            [{ name: "a", path: "/", expect: 200 }],
            "`release:smoke[0].expect` is not a smoke check field; valid fields: name, method, path, expectStatus, expectJson, body, headers, useOperatorToken, timeoutMs",
        ],
        [
            "capture outside a flow",
            [{ name: "a", path: "/", capture: { id: "id" } }],
            "`release:smoke[0].capture` is not a smoke check field (`capture` is only valid in a flow's steps); valid fields: name, method, path, expectStatus, expectJson, body, headers, useOperatorToken, timeoutMs",
        ],
        [
            "duplicate names",
            [
                { name: "a", path: "/" },
                { name: "a", steps: [{ name: "s", path: "/" }] },
            ],
            '`release:smoke[1].name` must be unique; "a" is already used by `release:smoke[0]`',
        ],
        ["empty flow", [{ name: "f", steps: [] }], "`release:smoke[0].steps` must be a non-empty list of checks; got []"],
        [
            "flow field",
            [{ name: "f", steps: [{ name: "s", path: "/" }], retries: 2 }],
            "`release:smoke[0].retries` is not a flow field; a flow has only `name` and `steps`",
        ],
        [
            "duplicate steps",
            [
                {
                    name: "f",
                    steps: [
                        { name: "s", path: "/" },
                        { name: "s", path: "/" },
                    ],
                },
            ],
            '`release:smoke[0].steps` step names must be unique; "s" appears twice',
        ],
        [
            "variable used before capture",
            [
                {
                    name: "f",
                    steps: [
                        { name: "create", path: "/p", capture: { projectId: "id" } },
                        { name: "delete", path: "/p/{{projectId}}/{{ownerId}}" },
                    ],
                },
            ],
            "`release:smoke[0].steps[1].path` uses `{{ownerId}}`, which no earlier step of the flow captures; captured so far: projectId",
        ],
        [
            "variable in a body with nothing captured",
            [{ name: "f", steps: [{ name: "s", path: "/", body: { a: ["{{x}}"] } }] }],
            "`release:smoke[0].steps[0].body` uses `{{x}}`, which no earlier step of the flow captures; captured so far: none",
        ],
        [
            "bad capture name",
            [{ name: "f", steps: [{ name: "s", path: "/", capture: { "project-id": "id" } }] }],
            '`release:smoke[0].steps[0].capture` variable names must match [A-Za-z_][A-Za-z0-9_]*; got "project-id"',
        ],
        [
            "bad capture path",
            [{ name: "f", steps: [{ name: "s", path: "/", capture: { id: "" } }] }],
            '`release:smoke[0].steps[0].capture.id` must be a dot path into the JSON response, such as data.id; got ""',
        ],
    ];
    for (const [title, raw, message] of errors) {
        it(`rejects ${title}`, () => assert.throws(() => parseSmokeConfig(raw), { message }));
    }
});

describe("smoke helpers", () => {
    it("masks given secrets, bearer credentials, JWTs and secret-named JSON fields", () => {
        const text = `{"access_token":"abc\\"def","userPassword":"p4ss","name":"ann","auth":"Bearer x.y-z=","jwt":"eyJhbGciOi.eyJzdWIiOi.sig","k":"s3cr3t-value"}`;
        assert.strictEqual(
            maskSecrets(text, ["s3cr3t-value", "abc"]),
            `{"access_token":"[masked]","userPassword":"[masked]","name":"ann","auth":"Bearer [masked]","jwt":"[masked]","k":"[masked]"}`,
        );
    });

    it("cuts at a byte count without splitting a character", () => {
        assert.strictEqual(firstBytes("aé", 2), "a");
        assert.strictEqual(firstBytes("abc", 5), "abc");
        assert.strictEqual(Buffer.byteLength(firstBytes("x".repeat(900), 500)), 500);
    });

    it("reads dot paths, compares JSON and substitutes variables", () => {
        const doc = { data: { items: [{ id: 7 }, { id: 9 }] } };
        assert.deepStrictEqual(
            [valueAtPath(doc, "data.items.1.id"), valueAtPath(doc, "data.items.length"), valueAtPath(doc, "data.nope.x")],
            [9, 2, undefined],
        );
        assert.ok(jsonEqual({ a: [1, { b: null }] }, { a: [1, { b: null }] }));
        assert.ok(!jsonEqual({ a: 1 }, { a: 1, b: undefined }) && !jsonEqual([1], [1, 2]) && !jsonEqual("1", 1));
        const vars = new Map([["id", "a/b c"]]);
        assert.strictEqual(substitute("/p/{{id}}", vars, true), "/p/a%2Fb%20c");
        assert.deepStrictEqual(substitute({ n: ["{{ id }}", 3] }, vars), { n: ["a/b c", 3] });
        assert.throws(() => substitute("{{other}}", vars), { message: "`{{other}}` has not been captured" });
    });

    it("treats captures named or sourced like credentials as secrets", () => {
        assert.deepStrictEqual(
            [
                isSecretCapture("token", "data.jwt"),
                isSecretCapture("session", "auth.access_token"),
                isSecretCapture("projectId", "project.id"),
            ],
            [true, true, false],
        );
    });
});
