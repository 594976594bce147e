import * as grpc from "@grpc/grpc-js";
import { ChildProcess, spawn } from "child_process";
import * as path from "path";

const analyzerRpc = require("@pulumi/pulumi/proto/analyzer_grpc_pb");
const analyzerPb = require("@pulumi/pulumi/proto/analyzer_pb");
const structPb = require("google-protobuf/google/protobuf/struct_pb");
const emptyPb = require("google-protobuf/google/protobuf/empty_pb");

/** How the engine marks a secret on the wire (`resource.SecretSig` in the Pulumi engine). */
export function wireSecret(value: unknown): Record<string, unknown> {
    return { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value };
}

export interface Diagnostic {
    policyName: string;
    message: string;
    enforcementLevel: "advisory" | "mandatory";
    urn: string;
}

export interface WireResource {
    type: string;
    name: string;
    properties: Record<string, unknown>;
    protect?: boolean;
    additionalSecretOutputs?: string[];
    parent?: string;
    dependencies?: string[];
}

export function wireUrn(type: string, name: string): string {
    return `urn:pulumi:prod::safe-release::${type}::${name}`;
}

function options(resource: WireResource): unknown {
    const opts = new analyzerPb.AnalyzerResourceOptions();
    opts.setProtect(resource.protect ?? false);
    opts.setAdditionalsecretoutputsList(resource.additionalSecretOutputs ?? []);
    opts.setParent(resource.parent ?? "");
    return opts;
}

function diagnosticsOf(response: any): Diagnostic[] {
    return response.getDiagnosticsList().map((d: any) => ({
        policyName: d.getPolicyname(),
        message: d.getMessage(),
        enforcementLevel: d.getEnforcementlevel() === analyzerPb.EnforcementLevel.MANDATORY ? "mandatory" : "advisory",
        urn: d.getUrn(),
    }));
}

/**
 * The policy pack running as `pulumi preview --policy-pack policy` runs it: the SDK's
 * `run-policy-pack` in the pack's directory, which prints the port of its analyzer server,
 * and a gRPC client that calls it the way the engine does.
 */
export class PolicyPackProcess {
    private constructor(
        private readonly child: ChildProcess,
        private readonly client: any,
    ) {}

    static async start(packDir: string, stack: string): Promise<PolicyPackProcess> {
        const runner = require.resolve("@pulumi/pulumi/cmd/run-policy-pack");
        const child = spawn(process.execPath, [runner, "127.0.0.1:0", "."], {
            cwd: packDir,
            env: { ...process.env, PULUMI_NODEJS_STACK: stack, PULUMI_NODEJS_PROJECT: "safe-release", PULUMI_NODEJS_DRY_RUN: "true" },
            stdio: ["ignore", "pipe", "pipe"],
        });
        const port = await new Promise<number>((resolve, reject) => {
            let stdout = "";
            let stderr = "";
            child.stdout!.on("data", (chunk) => {
                stdout += chunk;
                const line = /^(\d+)\n/.exec(stdout);
                if (line) resolve(Number(line[1]));
            });
            child.stderr!.on("data", (chunk) => (stderr += chunk));
            child.on("exit", (code) => reject(new Error(`policy pack in ${path.basename(packDir)} exited ${code}: ${stderr.trim()}`)));
        });
        const client = new analyzerRpc.AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
        return new PolicyPackProcess(child, client);
    }

    private call<T>(method: string, request: unknown): Promise<T> {
        return new Promise((resolve, reject) => {
            this.client[method](request, (err: Error | null, response: T) => (err ? reject(err) : resolve(response)));
        });
    }

    async policies(): Promise<Array<{ name: string; enforcementLevel: "advisory" | "mandatory" }>> {
        const info: any = await this.call("getAnalyzerInfo", new emptyPb.Empty());
        return info.getPoliciesList().map((p: any) => ({
            name: p.getName(),
            enforcementLevel: p.getEnforcementlevel() === analyzerPb.EnforcementLevel.MANDATORY ? "mandatory" : "advisory",
        }));
    }

    /** Sends policy config as the engine does after filling in schema defaults. */
    async configure(config: Record<string, Record<string, unknown>>): Promise<void> {
        const request = new analyzerPb.ConfigureAnalyzerRequest();
        for (const [policy, properties] of Object.entries(config)) {
            const entry = new analyzerPb.PolicyConfig();
            entry.setEnforcementlevel(analyzerPb.EnforcementLevel.MANDATORY);
            entry.setProperties(structPb.Struct.fromJavaScript(properties));
            request.getPolicyconfigMap().set(policy, entry);
        }
        await this.call("configure", request);
    }

    async analyze(resource: WireResource): Promise<Diagnostic[]> {
        const request = new analyzerPb.AnalyzeRequest();
        request.setType(resource.type);
        request.setName(resource.name);
        request.setUrn(wireUrn(resource.type, resource.name));
        request.setProperties(structPb.Struct.fromJavaScript(resource.properties));
        request.setOptions(options(resource));
        return diagnosticsOf(await this.call("analyze", request));
    }

    async analyzeStack(resources: WireResource[]): Promise<Diagnostic[]> {
        const request = new analyzerPb.AnalyzeStackRequest();
        request.setResourcesList(
            resources.map((resource) => {
                const wire = new analyzerPb.AnalyzerResource();
                wire.setType(resource.type);
                wire.setName(resource.name);
                wire.setUrn(wireUrn(resource.type, resource.name));
                wire.setProperties(structPb.Struct.fromJavaScript(resource.properties));
                wire.setOptions(options(resource));
                wire.setParent(resource.parent ?? "");
                wire.setDependenciesList(resource.dependencies ?? []);
                return wire;
            }),
        );
        return diagnosticsOf(await this.call("analyzeStack", request));
    }

    async stop(): Promise<void> {
        this.client.close();
        if (this.child.exitCode === null && this.child.signalCode === null) {
            const exited = new Promise((resolve) => this.child.once("exit", resolve));
            this.child.kill();
            await exited;
        }
    }
}
