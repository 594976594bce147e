import {
    CreateDBClusterCommand,
    CreateDBInstanceCommand,
    CreateDBSubnetGroupCommand,
    DBCluster,
    DBInstance,
    DescribeDBClustersCommand,
    DescribeDBInstancesCommand,
    RDSClient,
} from "@aws-sdk/client-rds";
import { awsClientConfig } from "../../core/awsClient";
import { defaultNetwork, startMoto, TestMoto } from "../support/moto";
import { OpsRun, runOps, SECRET_ENV } from "../support/opsRun";

/** What the RDS tests share: one moto, a client of its RDS, a DB subnet group and a security group of its default VPC. */
export interface RdsWorld {
    readonly moto: TestMoto;
    readonly rds: RDSClient;
    readonly env: NodeJS.ProcessEnv;
    readonly securityGroup: string;
    readonly subnetGroup: string;
}

export const SUBNET_GROUP = "shop-subnets";
export const INSTANCE_CLASS = "db.t4g.micro";
export const WRITER_CLASS = "db.r6g.large";
/** The tests' own database password: it reaches moto through the SDK only, never an ops command. */
const MASTER_PASSWORD = "moto-only-passw0rd";

export async function startRdsWorld(): Promise<RdsWorld> {
    const moto = await startMoto();
    const rds = new RDSClient(awsClientConfig(moto.env, "RDS"));
    const { subnet, securityGroup } = await defaultNetwork(moto);
    await rds.send(
        new CreateDBSubnetGroupCommand({ DBSubnetGroupName: SUBNET_GROUP, DBSubnetGroupDescription: "shop", SubnetIds: [subnet] }),
    );
    return { moto, rds, env: { ...moto.env, ...SECRET_ENV }, securityGroup, subnetGroup: SUBNET_GROUP };
}

export async function createInstance(world: RdsWorld, id: string): Promise<DBInstance> {
    const answer = await world.rds.send(
        new CreateDBInstanceCommand({
            DBInstanceIdentifier: id,
            DBInstanceClass: INSTANCE_CLASS,
            Engine: "postgres",
            AllocatedStorage: 20,
            MasterUsername: "shop",
            MasterUserPassword: MASTER_PASSWORD,
            DBSubnetGroupName: world.subnetGroup,
            VpcSecurityGroupIds: [world.securityGroup],
        }),
    );
    return answer.DBInstance!;
}

/** An Aurora PostgreSQL cluster with one writer `<id>-1`. */
export async function createCluster(world: RdsWorld, id: string): Promise<DBCluster> {
    await world.rds.send(
        new CreateDBClusterCommand({
            DBClusterIdentifier: id,
            Engine: "aurora-postgresql",
            EngineVersion: "15.4",
            MasterUsername: "shop",
            MasterUserPassword: MASTER_PASSWORD,
            DBSubnetGroupName: world.subnetGroup,
            VpcSecurityGroupIds: [world.securityGroup],
        }),
    );
    await world.rds.send(
        new CreateDBInstanceCommand({
            DBInstanceIdentifier: `${id}-1`,
            DBClusterIdentifier: id,
            DBInstanceClass: WRITER_CLASS,
            Engine: "aurora-postgresql",
        }),
    );
    return (await describeClusters(world)).find((c) => c.DBClusterIdentifier === id)!;
}

export async function describeInstances(world: RdsWorld): Promise<DBInstance[]> {
    return (await world.rds.send(new DescribeDBInstancesCommand({}))).DBInstances ?? [];
}

export async function describeClusters(world: RdsWorld): Promise<DBCluster[]> {
    return (await world.rds.send(new DescribeDBClustersCommand({}))).DBClusters ?? [];
}

export function tagsOf(resource: { TagList?: { Key?: string; Value?: string }[] }): Record<string, string> {
    return Object.fromEntries((resource.TagList ?? []).map((t) => [t.Key ?? "", t.Value ?? ""]));
}

/** Runs an ops command against moto, polling fast: moto answers at once. */
export function rdsOps(world: RdsWorld, args: string[]): Promise<OpsRun> {
    return runOps([...args, "--poll", "100ms"], world.env);
}

/** The restore's stamp, taken from the name it gave the restored copy. */
export function stampOf(restored: string): string {
    const match = /-restore-(\d{14})$/.exec(restored);
    if (!match) throw new Error(`no restore stamp in \`${restored}\``);
    return match[1];
}

/** Elapsed times and the stamp vary from run to run; everything else in a progress line is exact. */
export function stable(stderr: string, stamp?: string): string {
    const timed = stderr.replace(/\(\d+(m\d\d)?s\)/g, "(T)");
    return stamp !== undefined ? timed.split(stamp).join("<stamp>") : timed;
}

/** What a drill must leave as it was: which instances exist, and each one's creation, state and endpoint. */
export async function instanceInventory(world: RdsWorld): Promise<unknown[]> {
    return (await describeInstances(world)).map((i) => [
        i.DBInstanceIdentifier,
        i.InstanceCreateTime?.toISOString(),
        i.DBInstanceStatus,
        i.Endpoint?.Address,
        i.DBClusterIdentifier,
    ]);
}

export async function clusterInventory(world: RdsWorld): Promise<unknown[]> {
    return (await describeClusters(world)).map((c) => [
        c.DBClusterIdentifier,
        c.ClusterCreateTime?.toISOString(),
        c.Status,
        c.Endpoint,
        c.DBClusterMembers?.map((m) => m.DBInstanceIdentifier),
    ]);
}
