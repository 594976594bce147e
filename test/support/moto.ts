import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { atTestEnd, freePort, tempDir } from "./processes";

/** scripts/moto.sh pins the version; the virtualenv it builds is named after it. */
const MOTO_SCRIPT = path.join(__dirname, "..", "..", "scripts", "moto.sh");
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;

/** The credentials moto accepts; they exist only in the tests' environment. */
export const MOTO_CREDENTIALS = { AWS_ACCESS_KEY_ID: "testing", AWS_SECRET_ACCESS_KEY: "testing" } as const;
export const MOTO_REGION = "eu-west-1";

export function motoVersion(): string {
    const match = /^MOTO_VERSION=(\S+)$/m.exec(fs.readFileSync(MOTO_SCRIPT, "utf8"));
    if (!match) throw new Error(`${MOTO_SCRIPT} must pin MOTO_VERSION=<version>`);
    return match[1];
}

/** Where scripts/moto.sh puts `moto_server` (same defaults, same override). */
export function motoServerPath(env: NodeJS.ProcessEnv = process.env): string {
    const cache = env.SAFE_RELEASE_MOTO_CACHE || path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "safe-release");
    return path.join(cache, `moto-${motoVersion()}`, "bin", "moto_server");
}

/** One moto server on loopback: an AWS API for S3, KMS, ECS, CloudWatch and CloudWatch Logs. */
export interface TestMoto {
    readonly endpoint: string;
    /** An environment for the code under test: endpoint, region and moto's dummy credentials. */
    readonly env: NodeJS.ProcessEnv;
    stop(): Promise<void>;
}

function answers(port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const request = http.get({ host: "127.0.0.1", port, path: "/moto-api/", agent: false }, (response) => {
            response.resume();
            resolve(true);
        });
        request.on("error", () => resolve(false));
        request.setTimeout(1000, () => request.destroy());
    });
}

function exited(child: ChildProcess, ms: number): Promise<boolean> {
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
    return new Promise((resolve) => {
        const timer = setTimeout(() => resolve(false), ms);
        child.once("exit", () => {
            clearTimeout(timer);
            resolve(true);
        });
    });
}

/**
 * Starts `moto_server` on 127.0.0.1 on a free port, in a temporary directory of its own,
 * and resolves once it answers. It is stopped by `stop()` and, in any case, when the
 * test run ends (also after a failure).
 */
export async function startMoto(env: NodeJS.ProcessEnv = process.env): Promise<TestMoto> {
    const server = motoServerPath(env);
    if (!fs.existsSync(server)) {
        throw new Error(
            `moto is not installed (no ${server}): run scripts/moto.sh, which builds its virtualenv (needs the Debian package python3-venv)`,
        );
    }
    const dir = await tempDir("safe-release-moto-");
    const port = await freePort();
    const output = fs.openSync(path.join(dir, "moto.log"), "a");
    const child = spawn(server, ["-H", "127.0.0.1", "-p", String(port)], {
        cwd: dir,
        // Only what moto needs: no AWS settings of the machine leak in, and it writes nowhere but its directory.
        env: { PATH: process.env.PATH, HOME: dir, TMPDIR: dir, ...MOTO_CREDENTIALS },
        stdio: ["ignore", output, output],
    });
    fs.closeSync(output);
    let stopped: Promise<void> | undefined;
    const stop = (): Promise<void> =>
        (stopped ??= (async () => {
            child.kill("SIGTERM");
            if (!(await exited(child, STOP_TIMEOUT_MS))) {
                child.kill("SIGKILL");
                await exited(child, STOP_TIMEOUT_MS);
            }
            fs.rmSync(dir, { recursive: true, force: true });
        })());
    atTestEnd(stop);
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!(await answers(port))) {
        if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
            const log = fs.readFileSync(path.join(dir, "moto.log"), "utf8").slice(-2000);
            await stop();
            throw new Error(`moto_server did not answer on 127.0.0.1:${port} within ${START_TIMEOUT_MS} ms; its output:\n${log}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const endpoint = `http://127.0.0.1:${port}`;
    return {
        endpoint,
        env: { PATH: process.env.PATH, AWS_ENDPOINT_URL: endpoint, AWS_REGION: MOTO_REGION, ...MOTO_CREDENTIALS },
        stop,
    };
}

/**
 * A query-protocol call to moto's EC2 (the ops programs need no EC2 client): moto reads
 * the region from the credential scope and does not check the signature.
 */
async function ec2Query(moto: TestMoto, action: string): Promise<string> {
    const response = await fetch(moto.endpoint, {
        method: "POST",
        headers: {
            "content-type": "application/x-www-form-urlencoded",
            authorization: `AWS4-HMAC-SHA256 Credential=${MOTO_CREDENTIALS.AWS_ACCESS_KEY_ID}/20260101/${MOTO_REGION}/ec2/aws4_request, SignedHeaders=host, Signature=0`,
        },
        body: `Action=${action}&Version=2016-11-15`,
        signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`moto EC2 ${action} answered ${response.status}: ${text.slice(0, 300)}`);
    return text;
}

/** A subnet and a security group of moto's default VPC, which ECS `run-task` requires to exist. */
export async function defaultNetwork(moto: TestMoto): Promise<{ subnet: string; securityGroup: string }> {
    const subnet = /<subnetId>(subnet-[0-9a-f]+)<\/subnetId>/.exec(await ec2Query(moto, "DescribeSubnets"))?.[1];
    const securityGroup = /<groupId>(sg-[0-9a-f]+)<\/groupId>/.exec(await ec2Query(moto, "DescribeSecurityGroups"))?.[1];
    if (subnet === undefined || securityGroup === undefined) throw new Error("moto's default VPC has no subnet or security group");
    return { subnet, securityGroup };
}
