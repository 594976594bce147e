import { programPath } from "../../core/hostLayout";
import { shellQuote } from "../../core/shell";

export interface UnitTemplateSpec {
    readonly app: string;
    readonly component: string;
    readonly root: string;
    /** The program and its arguments, relative to the release directory unless absolute. */
    readonly command: readonly string[];
    /** The data directory the program writes (kept writable under `ProtectSystem=`). */
    readonly dataDirectory?: string;
    /** @default 30 */
    readonly stopWaitSeconds?: number;
}

/** systemd expands `%i` and friends: a literal `%` is `%%`. */
const unitLiteral = (text: string) => text.replace(/%/g, "%%");

/**
 * The template unit `<app>-<component>@.service`; each version is an instance
 * (`shop-api@v1.5.0.service`), so `%i` picks its release directory and its env
 * file (mode 0600, which carries `PORT`, `RELEASE_VERSION` and the secrets).
 */
export function renderUnitTemplate(spec: UnitTemplateSpec): string {
    if (spec.command.length === 0) throw new Error(`component ${spec.component} has no command; give the program to run`);
    const directory = `${unitLiteral(spec.root)}/releases/%i/${spec.component}`;
    const [executable, ...args] = spec.command;
    const exec = [programPath(directory, unitLiteral(executable)), ...args.map(unitLiteral)];
    return [
        "# written by safe-release; changes are overwritten",
        "[Unit]",
        `Description=${spec.app} ${spec.component} %i`,
        "After=network.target",
        "",
        "[Service]",
        "Type=simple",
        `WorkingDirectory=${directory}`,
        `EnvironmentFile=${unitLiteral(`${spec.root}/env/${spec.app}-${spec.component}@`)}%i.env`,
        `ExecStart=${shellQuote(exec)}`,
        "Restart=on-failure",
        "RestartSec=2s",
        `TimeoutStopSec=${spec.stopWaitSeconds ?? 30}s`,
        "KillMode=mixed",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        ...(spec.dataDirectory !== undefined ? ["ProtectSystem=full", `ReadWritePaths=${unitLiteral(spec.dataDirectory)}`] : []),
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ].join("\n");
}
