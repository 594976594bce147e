import * as fs from "fs";
import * as path from "path";
import { Writable } from "stream";
import { main } from "../../ops/cli";
import { atTestEnd, tempDir } from "./processes";

/** What one call of the fake prints and how it exits. */
export interface FakeResponse {
    /** Printed as JSON on stdout. */
    readonly json?: unknown;
    /** Printed on stdout as it is (for `aws s3 …`). */
    readonly text?: string;
    readonly stderr?: string;
    /** @default 0 */
    readonly exit?: number;
}

/**
 * Answers calls whose first two arguments are `command` (e.g. "ecs run-task"). Each call
 * takes the rule's next response; the last one repeats. Rules are tried in order.
 */
export interface FakeRule {
    readonly command: string;
    /** Options that must be present with exactly these values, e.g. { "--bucket": "src" }. */
    readonly when?: Readonly<Record<string, string>>;
    /** Options that must be absent, e.g. ["--continuation-token"] for a first page. */
    readonly absent?: readonly string[];
    readonly responses: readonly FakeResponse[];
}

/** One call as the fake saw it: its arguments and the variables that steer the CLI. */
export interface FakeAwsCall {
    readonly argv: string[];
    readonly env: { AWS_REGION?: string; AWS_PROFILE?: string; AWS_PAGER?: string };
}

export const RECORDED_ENV = ["AWS_REGION", "AWS_PROFILE", "AWS_PAGER"] as const;

/** The fake itself: a plain node script, so the code under test spawns a real program. */
function script(scenarioFile: string, logFile: string, stateFile: string): string {
    return `#!${process.execPath}
"use strict";
const fs = require("fs");
const argv = process.argv.slice(2);
const env = {};
for (const name of ${JSON.stringify(RECORDED_ENV)}) if (process.env[name] !== undefined) env[name] = process.env[name];
fs.appendFileSync(${JSON.stringify(logFile)}, JSON.stringify({ argv, env }) + "\\n");
const rules = JSON.parse(fs.readFileSync(${JSON.stringify(scenarioFile)}, "utf8"));
const valueOf = (flag) => { const i = argv.indexOf(flag); return i < 0 ? undefined : argv[i + 1]; };
const index = rules.findIndex((rule) =>
    argv.slice(0, 2).join(" ") === rule.command &&
    Object.entries(rule.when || {}).every(([flag, value]) => valueOf(flag) === value) &&
    (rule.absent || []).every((flag) => !argv.includes(flag)));
if (index < 0) {
    process.stderr.write("fake aws: no scenario rule for " + JSON.stringify(argv) + "\\n");
    process.exit(252);
}
const state = fs.existsSync(${JSON.stringify(stateFile)}) ? JSON.parse(fs.readFileSync(${JSON.stringify(stateFile)}, "utf8")) : {};
const used = state[index] || 0;
state[index] = used + 1;
fs.writeFileSync(${JSON.stringify(stateFile)}, JSON.stringify(state));
const responses = rules[index].responses;
const response = responses[Math.min(used, responses.length - 1)];
if (response.json !== undefined) process.stdout.write(JSON.stringify(response.json, null, 4) + "\\n");
if (response.text !== undefined) process.stdout.write(response.text);
if (response.stderr !== undefined) process.stderr.write(response.stderr);
process.exitCode = response.exit || 0;
`;
}

export interface FakeAws {
    /** The executable, for `SAFE_RELEASE_AWS_CLI`. */
    readonly program: string;
    /** Every call so far, in order. */
    calls(): FakeAwsCall[];
    /** Just the argument lists, without the trailing `--output json`. */
    argvs(): string[][];
}

export async function fakeAws(rules: readonly FakeRule[]): Promise<FakeAws> {
    const dir = await tempDir("safe-release-fake-aws-");
    atTestEnd(async () => fs.rmSync(dir, { recursive: true, force: true }));
    const scenarioFile = path.join(dir, "scenario.json");
    const logFile = path.join(dir, "calls.jsonl");
    const program = path.join(dir, "aws");
    fs.writeFileSync(scenarioFile, JSON.stringify(rules));
    fs.writeFileSync(program, script(scenarioFile, logFile, path.join(dir, "state.json")), { mode: 0o755 });
    const calls = (): FakeAwsCall[] =>
        fs.existsSync(logFile)
            ? fs
                  .readFileSync(logFile, "utf8")
                  .split("\n")
                  .filter((line) => line !== "")
                  .map((line) => JSON.parse(line))
            : [];
    return {
        program,
        calls,
        argvs: () =>
            calls().map((call) => {
                const tail = call.argv.slice(-2);
                if (tail[0] !== "--output" || tail[1] !== "json") throw new Error(`call without \`--output json\`: ${call.argv.join(" ")}`);
                return call.argv.slice(0, -2);
            }),
    };
}

/** Secrets the tests put in the environment; none may reach an argument, stdout or stderr. */
export const SECRET_ENV = {
    AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    AWS_SESSION_TOKEN: "FwoGZXIvYXdzEXAMPLESESSIONTOKEN",
    DATABASE_URL: "postgresql://shop:s3cret-db-passw0rd@db.internal:5432/shop",
} as const;

export class Capture extends Writable {
    text = "";
    _write(chunk: Buffer, _encoding: string, done: () => void): void {
        this.text += chunk.toString();
        done();
    }
}

export interface OpsRun {
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
}

/** Runs `safe-release-ops <args>` in-process against the fake, with secrets and a region in the environment. */
export async function runOps(fake: FakeAws, args: string[], env: NodeJS.ProcessEnv = {}): Promise<OpsRun> {
    const stdout = new Capture();
    const stderr = new Capture();
    const code = await main(args, {
        env: {
            PATH: process.env.PATH,
            SAFE_RELEASE_AWS_CLI: fake.program,
            AWS_REGION: "eu-west-1",
            AWS_PROFILE: "ops",
            ...SECRET_ENV,
            ...env,
        },
        stdout,
        stderr,
    });
    return { code, stdout: stdout.text, stderr: stderr.text };
}

/** Fails when any secret of `SECRET_ENV` shows up in the fake's arguments or the run's output. */
export function secretsLeaked(fake: FakeAws, run: OpsRun): string[] {
    const places = [
        ...fake.calls().map((call, i) => [`call ${i + 1} argv`, call.argv.join(" ")] as const),
        ["stdout", run.stdout] as const,
        ["stderr", run.stderr] as const,
    ];
    const values = Object.values(SECRET_ENV).flatMap((secret) => [secret, "s3cret-db-passw0rd"]);
    return places.filter(([, text]) => values.some((secret) => text.includes(secret))).map(([where]) => where);
}
