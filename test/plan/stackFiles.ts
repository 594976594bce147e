import * as fs from "fs";
import * as path from "path";
import { evaluateTransition } from "../../plan/evaluate";
import { ReleaseReport, buildReport } from "../../plan/report";
import { evaluatedConfig, projectDefaults } from "../../plan/stackConfig";

/** The project's own Pulumi.yaml: its `config:` defaults apply to every stack file the tests write. */
export const PROJECT_YAML = fs.readFileSync(path.join(__dirname, "..", "..", "Pulumi.yaml"), "utf8");

/** Ciphertext as `pulumi config set --secret` writes it; the plan must never print it (or what stands in for it). */
export const DATABASE_URL_CIPHERTEXT = "v1:Zm9yLXRlc3RzLW9ubHk=:cG9zdGdyZXM6Ly9zaG9wOnB3QGRi";
export const TOKEN_CIPHERTEXT = "v1:dG9rZW4tbm9uY2U=:b3AtdG9rZW4tZm9yLXRlc3Rz";

export const API_V142 = `sha256:${"a1".repeat(32)}`;
export const API_V150 = `sha256:${"b2".repeat(32)}`;
export const WORKER_V142 = `sha256:${"c3".repeat(32)}`;
export const WORKER_V150 = `sha256:${"d4".repeat(32)}`;

export interface ShopRelease {
    readonly version: string;
    readonly previous?: string;
    readonly canaryWeight?: number;
    /** More `release:` lines, indented as stack-file config entries. */
    readonly extra?: string;
    /** Pin the digests of v1.4.2 and v1.5.0 in `release:digests`. @default true */
    readonly pinned?: boolean;
}

/**
 * A stack file of the Prisma runbook's service on aws-ecs: an api and a worker,
 * a PostgreSQL database (URL a secret) with an RDS instance, a migration that
 * quiesces the worker, two smoke checks, and (unless `pinned` is false) the
 * digests of v1.4.2 and v1.5.0.
 */
export function shopStack({ version, previous, canaryWeight, extra, pinned = true }: ShopRelease): string {
    return [
        "config:",
        "  aws:region: eu-west-1",
        "  release:app: shop",
        `  release:version: ${version}`,
        ...(previous !== undefined ? [`  release:previous: ${previous}`] : []),
        ...(canaryWeight !== undefined ? [`  release:canaryWeight: ${canaryWeight}`] : []),
        "  release:components:",
        "    api: { image: ghcr.io/acme/shop-api, role: web, port: 8080, healthPath: /health }",
        "    worker: { image: ghcr.io/acme/shop-api, role: worker, command: [node, worker.js] }",
        ...(pinned
            ? [
                  "  release:digests:",
                  `    v1.4.2: { api: "${API_V142}", worker: "${WORKER_V142}" }`,
                  `    v1.5.0: { api: "${API_V150}", worker: "${WORKER_V150}" }`,
              ]
            : []),
        "  release:aws:",
        "    vpcId: vpc-0abc12345def67890",
        "    subnetIds: [subnet-0aaa1111bbbb2222c, subnet-0ddd3333eeee4444f]",
        // The plans below are of steps run where `npm run up` runs: no release runner among their resources.
        "    dataStepsIn: local",
        "  release:databaseUrl:",
        `    secure: ${DATABASE_URL_CIPHERTEXT}`,
        "  release:smokeOperatorToken:",
        `    secure: ${TOKEN_CIPHERTEXT}`,
        "  release:database: { ledger: prisma, criticalTables: [users, projects], rdsInstance: shop-db }",
        "  release:migrate: { command: npx prisma migrate deploy, component: api, quiesce: [worker] }",
        "  release:smoke:",
        "    - { name: health, path: /health }",
        "    - { name: internal health, path: /health/internal, useOperatorToken: true }",
        ...(extra !== undefined ? [extra] : []),
        "",
    ].join("\n");
}

/** The plan of an update from `before` (a deployed stack file; none for a first deploy) to `after`, in-process. */
export async function planOf(
    after: string,
    before?: string,
    comparedWith = before === undefined ? "nothing" : "the test's stack file",
): Promise<ReleaseReport> {
    const defaults = projectDefaults(PROJECT_YAML);
    const afterConfig = evaluatedConfig(after, defaults, "Pulumi.staging.yaml");
    const diff = await evaluateTransition({
        stack: "staging",
        ...(before !== undefined
            ? { before: { config: evaluatedConfig(before, defaults, "Pulumi.staging.yaml (before)"), label: "before" } }
            : {}),
        after: afterConfig,
    });
    return buildReport({ stack: "staging", comparedWith, config: afterConfig.config, diff });
}
