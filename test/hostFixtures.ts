import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { StackConfig } from "./support/mockProviders";

/** sha256 of a fixture artifact's bytes: "<component> <version>". */
export const SHA = (seed: string): string => require("crypto").createHash("sha256").update(seed).digest("hex");

/** A host root for the mocked engine (nothing runs there) and the artifact files its checks read. */
export function hostRoot(): string {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "safe-release-host-"));
    for (const version of ["v1.4.2", "v1.5.0"]) {
        for (const component of ["api", "worker"]) fs.writeFileSync(path.join(root, `${component}-${version}`), `${component} ${version}`);
    }
    return root;
}

/** The shop service (web api + worker) on host, every live version's artifacts pinned. */
export function hostConfig(root: string, overrides: StackConfig = {}): StackConfig {
    const artifacts = Object.fromEntries(
        ["v1.4.2", "v1.5.0"].map((v) => [
            v,
            Object.fromEntries(["api", "worker"].map((c) => [c, { path: path.join(root, `${c}-${v}`), sha256: SHA(`${c} ${v}`) }])),
        ]),
    );
    return {
        "release:app": "shop",
        "release:platform": "host",
        "release:components": {
            api: { role: "web", port: 8080, healthPath: "/health", command: ["./api"] },
            worker: { role: "worker", command: ["./worker", "--queue", "default"] },
        },
        "release:artifacts": artifacts,
        "release:host": { root: `${root}/srv`, routerPort: 18080, basePort: 19000 },
        ...overrides,
    };
}
