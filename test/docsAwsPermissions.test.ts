import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";

/*
 * docs/aws-permissions.md lists the IAM permissions a release needs. It is held
 * to the program: every AWS resource type the components declare has its row,
 * and every AWS SDK call the ops programs, the core and the drivers make is
 * named by the IAM action it needs. A new resource type or SDK call without its
 * permission in the doc fails here, before a release fails with AccessDenied.
 */
const ROOT = path.join(__dirname, "..");
const PAGE = fs.readFileSync(path.join(ROOT, "docs", "aws-permissions.md"), "utf8");

function tsFiles(dir: string): string[] {
    return fs
        .readdirSync(path.join(ROOT, dir), { withFileTypes: true })
        .flatMap((entry) =>
            entry.isDirectory() ? tsFiles(path.join(dir, entry.name)) : entry.name.endsWith(".ts") ? [path.join(dir, entry.name)] : [],
        )
        .sort();
}

/** `aws.<module>.<Type>` of every resource and data source the components declare. */
export function declaredAwsTypes(source: string): string[] {
    const patterns = [
        /new aws\.(\w+)\.([A-Z]\w*)\(/g,
        // Loaded on first use (components/awsSdk.ts).
        /new \(awsSdk\(\)\.(\w+)\.([A-Z]\w*)\)\(/g,
        /\baws\.(\w+)\.(get[A-Z]\w*?)(?:Output)?\(/g,
    ];
    const found = patterns.flatMap((p) => [...source.matchAll(p)].map((m) => `aws.${m[1]}.${m[2]}`));
    const topLevel = [...source.matchAll(/\baws\.(get[A-Z]\w*?)(?:Output)?\(/g)].map((m) => `aws.${m[1]}`);
    return [...new Set([...found, ...topLevel])].sort();
}

/** The IAM prefix of each AWS SDK v3 client the code imports. */
const SERVICE_PREFIX: Record<string, string> = {
    "client-s3": "s3",
    "client-ecs": "ecs",
    "client-ecr": "ecr",
    "client-rds": "rds",
    "client-kms": "kms",
    "client-cloudwatch": "cloudwatch",
    "client-cloudwatch-logs": "logs",
};

/** S3 operations whose IAM action has another name. */
const S3_ACTIONS: Record<string, string[]> = {
    ListObjectsV2: ["ListBucket"],
    HeadObject: ["GetObject"],
    CopyObject: ["GetObject", "PutObject"],
    UploadPartCopy: ["GetObject", "PutObject"],
    CreateMultipartUpload: ["PutObject"],
    UploadPart: ["PutObject"],
    CompleteMultipartUpload: ["PutObject"],
    ListMultipartUploads: ["ListBucketMultipartUploads"],
};

/** The IAM actions behind the SDK calls of one source file: commands sent, paginators run, uploads made. */
export function sdkActions(source: string): string[] {
    const moduleOf = new Map<string, string>();
    for (const m of source.matchAll(/import\s*(?:type\s*)?\{([^}]*)\}\s*from\s*"@aws-sdk\/([\w-]+)"/g)) {
        for (const name of m[1].split(",").map((n) => n.trim().split(/\s+as\s+/)[0])) if (name !== "") moduleOf.set(name, m[2]);
    }
    const operations: Array<[string, string]> = [];
    for (const m of source.matchAll(/new (\w+)Command\(/g)) {
        const module = moduleOf.get(`${m[1]}Command`);
        if (module !== undefined) operations.push([module, m[1]]);
    }
    for (const m of source.matchAll(/\bpaginate(\w+)\(/g)) {
        const module = moduleOf.get(`paginate${m[1]}`);
        if (module !== undefined) operations.push([module, m[1]]);
    }
    if (moduleOf.get("Upload") === "lib-storage" && /new Upload\(/.test(source)) {
        for (const op of ["CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "AbortMultipartUpload"])
            operations.push(["client-s3", op]);
    }
    return [
        ...new Set(
            operations.flatMap(([module, op]) => {
                const prefix = SERVICE_PREFIX[module];
                if (prefix === undefined) throw new Error(`no IAM prefix known for @aws-sdk/${module} (${op}): add it to SERVICE_PREFIX`);
                return (prefix === "s3" ? (S3_ACTIONS[op] ?? [op]) : [op]).map((action) => `${prefix}:${action}`);
            }),
        ),
    ].sort();
}

/** The first cell of each row of the page's "What `pulumi up` creates" table. */
function documentedTypes(page: string): string[] {
    const section = page.split("### What `pulumi up` creates")[1]?.split("\n### ")[0] ?? "";
    return [...section.matchAll(/^\| `(aws\.[\w.]+)`/gm)].map((m) => m[1]).sort();
}

describe("docs/aws-permissions.md: the permissions match what the program does", () => {
    const componentTypes = [
        ...new Set(tsFiles("components").flatMap((f) => declaredAwsTypes(fs.readFileSync(path.join(ROOT, f), "utf8")))),
    ].sort();
    const actionsByFile = ["ops", "core", "drivers"]
        .flatMap(tsFiles)
        .map((f) => [f, sdkActions(fs.readFileSync(path.join(ROOT, f), "utf8"))] as const)
        .filter(([, actions]) => actions.length > 0);

    it("has a row for every AWS resource type the components declare, and none they do not", () => {
        assert.ok(componentTypes.includes("aws.ecs.Service") && componentTypes.includes("aws.rds.Snapshot"), componentTypes.join(", "));
        assert.deepEqual(documentedTypes(PAGE), componentTypes);
    });

    it("names the IAM action of every AWS SDK call of the ops programs, the core and the drivers", () => {
        const all = [...new Set(actionsByFile.flatMap(([, actions]) => actions))].sort();
        for (const expected of ["ecs:RunTask", "ecs:StopTask", "logs:GetLogEvents", "s3:ListBucket", "ecr:DescribeImages"])
            assert.ok(all.includes(expected), expected);
        const missing = actionsByFile.flatMap(([file, actions]) =>
            actions.filter((a) => !PAGE.includes(`\`${a}\``)).map((a) => `${a} (${file})`),
        );
        assert.deepEqual(missing, []);
    });

    it("finds resource types and SDK calls as the code writes them", () => {
        assert.deepEqual(
            declaredAwsTypes(
                "new aws.ecs.Service(`x`, {});\nnew (awsSdk().rds.Snapshot)(`y`, {});\n" +
                    "aws.ec2.getVpcOutput({ id }, {});\naws.getRegionOutput({}, {});\nconst t: aws.ecs.Service = x;",
            ),
            ["aws.ec2.getVpc", "aws.ecs.Service", "aws.getRegion", "aws.rds.Snapshot"],
        );
        assert.deepEqual(
            sdkActions(
                'import { ListObjectsV2Command, paginateListObjectsV2, S3Client } from "@aws-sdk/client-s3";\n' +
                    'import { RunTaskCommand } from "@aws-sdk/client-ecs";\nimport { Upload } from "@aws-sdk/lib-storage";\n' +
                    "s3.send(new ListObjectsV2Command({}));\nnew RunTaskCommand({});\npaginateListObjectsV2({ client }, {});\n" +
                    "new Upload({});\nnew LocalCommand();",
            ),
            ["ecs:RunTask", "s3:AbortMultipartUpload", "s3:ListBucket", "s3:PutObject"],
        );
    });
});
