import * as pulumi from "@pulumi/pulumi";
import { ComponentSpec } from "../../settings/components";
import { HostSettings } from "../../settings/host";
import { commandLine } from "../data/opsCommand";
import { TARGET_HEADER } from "../../core/nginxConfig";
import { DeployedVersion, TestEndpoint } from "../platform";
import { routerUrl, serviceDownArgv, serviceUpArgv } from "./argv";
import { envFilePath, programName, releaseDir, unitName } from "../../core/hostLayout";
import { HostRunner, HostStep } from "./runner";
import { renderProgramSection } from "../../core/supervisord";
import { renderUnitTemplate } from "./systemd";

/** What one program of a component needs, whichever resource runs it. */
export interface ProgramArgs {
    readonly app: string;
    readonly settings: HostSettings;
    readonly component: ComponentSpec;
    readonly version: string;
    /** The port a web component listens on (`PORT`); none for a worker. */
    readonly port?: number;
    /** Secret variables by name: the command's environment, from which `host-service` writes the 0600 env file. */
    readonly secrets: Record<string, pulumi.Output<string>>;
    /** The version's verified release directory exists once these are done. */
    readonly installed: pulumi.Resource[];
    readonly after: pulumi.Resource[];
    /** A program keyed by component (`replace`): an update swaps the version, and a failure puts the old one back. */
    readonly replaced: boolean;
    /** Where the step runs: here, or over SSH. */
    readonly runner: HostRunner;
}

/** The environment a program (and a one-off task of its version) gets besides the secrets. */
export function plainEnvironment(component: ComponentSpec, version: string, port?: number): Record<string, string> {
    return { ...component.env, RELEASE_VERSION: version, ...(port !== undefined ? { PORT: String(port) } : {}) };
}

/** The program's name, its definition (a supervisord section or a systemd template) and the argv that installs and removes it. */
export function programPlan(args: Omit<ProgramArgs, "secrets" | "installed" | "after" | "runner">): {
    name: string;
    definition: string;
    up: string[];
    down: string[];
} {
    const { app, settings, component, version, port } = args;
    const dir = releaseDir(settings.root, version, component.name);
    const systemd = settings.manager === "systemd";
    const name = systemd ? unitName(app, component.name, version) : programName(app, component.name, args.replaced ? undefined : version);
    const envFile = envFilePath(settings.root, systemd ? name.replace(/\.service$/, "") : name);
    const definition = systemd
        ? renderUnitTemplate({
              app,
              component: component.name,
              root: settings.root,
              command: component.command!,
              ...(settings.exclusiveData[component.name] !== undefined ? { dataDirectory: settings.exclusiveData[component.name] } : {}),
          })
        : renderProgramSection({
              name,
              root: settings.root,
              directory: dir,
              command: component.command!,
              description: `${app} ${component.name} ${version}`,
          });
    const up = serviceUpArgv(settings, {
        program: name,
        envFile,
        plainEnv: plainEnvironment(component, version, port),
        secretEnv: Object.keys(component.secretEnv).sort(),
        ...(port !== undefined ? { healthUrl: `http://127.0.0.1:${port}${component.healthPath}` } : {}),
        restoreOnFailure: args.replaced,
    });
    return { name, definition, up, down: serviceDownArgv(settings, name, envFile) };
}

/** One program under the service manager: created (and updated) by `host-service up`, deleted by `host-service down`. */
export function programCommand(name: string, args: ProgramArgs, parent: pulumi.Resource): HostStep {
    const plan = programPlan(args);
    const up = commandLine(plan.up);
    const inputs = { create: up, update: up, delete: commandLine(plan.down), stdin: plan.definition, environment: args.secrets };
    const opts = { parent, dependsOn: [...args.installed, ...args.after], additionalSecretOutputs: ["environment"] };
    return args.runner.step(name, inputs, opts);
}

export interface HostVersionArgs {
    readonly app: string;
    readonly settings: HostSettings;
    readonly version: string;
    /** The components this version runs side by side with the other live version (`canary`). */
    readonly components: ComponentSpec[];
    /** Component → port (web components). */
    readonly ports: Record<string, number>;
    readonly secrets: Record<string, Record<string, pulumi.Output<string>>>;
    readonly installed: Record<string, pulumi.Resource>;
    readonly after: pulumi.Resource[];
    /** Programs of this version that the platform runs per component (`replace`), with their backends. */
    readonly replaced: { readonly ready: pulumi.Resource[]; readonly backends: Record<string, string[]> };
    readonly runner: HostRunner;
}

/**
 * Everything one live version runs on the host: per `canary` component a
 * program on the version's own port, started from the version's release
 * directory. Nothing here depends on the weights or on whether the version is
 * `version` or `previous`, so a shift or a warm rollback leaves it untouched.
 */
export class HostVersion extends pulumi.ComponentResource implements DeployedVersion {
    public readonly version: string;
    public readonly targets: Record<string, pulumi.Output<string>> = {};
    /** Web component → `127.0.0.1:port`, for the router. */
    public readonly backends: Record<string, string[]> = {};
    public readonly ready: pulumi.Resource[] = [];
    public readonly testEndpoint: TestEndpoint;

    constructor(name: string, args: HostVersionArgs, opts: pulumi.ComponentResourceOptions = {}) {
        super("safe-release:host:HostVersion", name, {}, opts);
        const { version, settings } = args;
        this.version = version;
        this.testEndpoint = { baseUrl: pulumi.output(routerUrl(settings)), headers: { [TARGET_HEADER]: version }, viaRouting: true };
        for (const component of args.components) {
            const port = args.ports[component.name];
            this.ready.push(
                programCommand(
                    `${name}-${component.name}`,
                    {
                        app: args.app,
                        settings,
                        component,
                        version,
                        ...(port !== undefined ? { port } : {}),
                        secrets: args.secrets[component.name] ?? {},
                        installed: [args.installed[component.name]],
                        after: args.after,
                        replaced: false,
                        runner: args.runner,
                    },
                    this,
                ),
            );
            if (port !== undefined) this.backends[component.name] = [`127.0.0.1:${port}`];
        }
        this.ready.push(...args.replaced.ready);
        Object.assign(this.backends, args.replaced.backends);
        for (const [component, backends] of Object.entries(this.backends)) this.targets[component] = pulumi.output(backends.join(","));
        this.registerOutputs({ version, targets: this.targets });
    }
}
