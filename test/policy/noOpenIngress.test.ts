import * as assert from "assert";
import { allowedPublicPorts, describeTraffic, isWorldCidr, noOpenIngress, onlyAllowedPorts } from "../../policy/rules/noOpenIngress";
import { UNKNOWN_STRING, resourceViolations } from "./policyArgs";

const SG = "aws:ec2/securityGroup:SecurityGroup";
const INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule";
const SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule";

function openMessage(field: string, resource: string, traffic: string, cidrs: string, ports = "80, 443"): string {
    return (
        `\`${field}\` of ${resource} opens ${traffic} to ${cidrs}; only the load balancer's listener ports ` +
        `(\`allowedPublicPorts\`: ${ports}) may be open to the internet, over tcp`
    );
}

describe("policy no-open-ingress", () => {
    describe("helpers", () => {
        it("recognises every spelling of the whole address space", () => {
            for (const cidr of ["0.0.0.0/0", "::/0", "::0/0", " 0.0.0.0/0 ", "10.0.0.0/0"]) {
                assert.strictEqual(isWorldCidr(cidr), true, cidr);
            }
            for (const cidr of ["10.0.0.0/8", "0.0.0.0/1", "::/10", "192.168.1.10/32"]) {
                assert.strictEqual(isWorldCidr(cidr), false, cidr);
            }
        });

        it("allows tcp only on ranges made entirely of allowed ports", () => {
            assert.strictEqual(onlyAllowedPorts("tcp", 443, 443, [80, 443]), true);
            assert.strictEqual(onlyAllowedPorts("6", 80, 80, [80, 443]), true);
            assert.strictEqual(onlyAllowedPorts("tcp", 80, 81, [80, 443]), false);
            assert.strictEqual(onlyAllowedPorts("tcp", 80, 443, [80, 443]), false);
            assert.strictEqual(onlyAllowedPorts("udp", 443, 443, [80, 443]), false);
            assert.strictEqual(onlyAllowedPorts("-1", 0, 0, [80, 443]), false);
            assert.strictEqual(onlyAllowedPorts("tcp", 443, 80, [80, 443]), false);
        });

        it("describes traffic in words", () => {
            assert.strictEqual(describeTraffic("-1", 0, 0), "all traffic");
            assert.strictEqual(describeTraffic("TCP", 22, 22), "tcp port 22");
            assert.strictEqual(describeTraffic("udp", 1000, 2000), "udp ports 1000-2000");
        });

        it("validates the configured ports", () => {
            assert.deepStrictEqual(allowedPublicPorts({}), [80, 443]);
            assert.deepStrictEqual(allowedPublicPorts({ allowedPublicPorts: [8443] }), [8443]);
            assert.throws(() => allowedPublicPorts({ allowedPublicPorts: [80, 0] }), {
                message: "`allowedPublicPorts` must list integers from 1 to 65535; got 0",
            });
            assert.throws(() => allowedPublicPorts({ allowedPublicPorts: [80.5] }), {
                message: "`allowedPublicPorts` must list integers from 1 to 65535; got 80.5",
            });
        });
    });

    describe("validateResource", () => {
        it("passes security groups open to the internet only on the listener ports, and private ingress on any port", async () => {
            const props = {
                ingress: [
                    { protocol: "tcp", fromPort: 80, toPort: 80, cidrBlocks: ["0.0.0.0/0"], ipv6CidrBlocks: ["::/0"] },
                    { protocol: "tcp", fromPort: 443, toPort: 443, cidrBlocks: ["0.0.0.0/0"] },
                    { protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["10.0.0.0/16"] },
                    { protocol: "tcp", fromPort: 5432, toPort: 5432, securityGroups: ["sg-123"] },
                ],
                egress: [{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] }],
            };
            assert.deepStrictEqual(await resourceViolations(noOpenIngress, { type: SG, name: "alb", props }), []);
            assert.deepStrictEqual(
                await resourceViolations(noOpenIngress, {
                    type: INGRESS_RULE,
                    name: "https",
                    props: { ipProtocol: "tcp", fromPort: 443, toPort: 443, cidrIpv6: "::/0" },
                }),
                [],
            );
            assert.deepStrictEqual(
                await resourceViolations(noOpenIngress, {
                    type: SG_RULE,
                    name: "egress",
                    props: { type: "egress", protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] },
                }),
                [],
            );
        });

        it("reports each open ingress block of a security group, IPv4 and IPv6 apart", async () => {
            const props = {
                ingress: [
                    { protocol: "tcp", fromPort: 443, toPort: 443, cidrBlocks: ["0.0.0.0/0"] },
                    { protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["10.0.0.0/8", "0.0.0.0/0"], ipv6CidrBlocks: ["::/0"] },
                    { protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] },
                ],
            };
            const resource = `${SG} \`app\``;
            assert.deepStrictEqual(await resourceViolations(noOpenIngress, { type: SG, name: "app", props }), [
                openMessage("ingress[1].cidrBlocks", resource, "tcp port 22", "`0.0.0.0/0`"),
                openMessage("ingress[1].ipv6CidrBlocks", resource, "tcp port 22", "`::/0`"),
                openMessage("ingress[2].cidrBlocks", resource, "all traffic", "`0.0.0.0/0`"),
            ]);
        });

        it("reports open vpc ingress rules and ingress security group rules, not egress ones", async () => {
            assert.deepStrictEqual(
                await resourceViolations(noOpenIngress, {
                    type: INGRESS_RULE,
                    name: "ssh",
                    props: { ipProtocol: "tcp", fromPort: 22, toPort: 22, cidrIpv4: "0.0.0.0/0" },
                }),
                [openMessage("cidrIpv4", `${INGRESS_RULE} \`ssh\``, "tcp port 22", "`0.0.0.0/0`")],
            );
            assert.deepStrictEqual(
                await resourceViolations(noOpenIngress, {
                    type: SG_RULE,
                    name: "range",
                    props: { type: "ingress", protocol: "tcp", fromPort: 80, toPort: 443, cidrBlocks: ["0.0.0.0/0"] },
                }),
                [openMessage("cidrBlocks", `${SG_RULE} \`range\``, "tcp ports 80-443", "`0.0.0.0/0`")],
            );
            assert.deepStrictEqual(
                await resourceViolations(noOpenIngress, {
                    type: SG_RULE,
                    name: "out",
                    props: { type: "egress", protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["0.0.0.0/0"] },
                }),
                [],
            );
        });

        it("uses the configured listener ports", async () => {
            const props = { ipProtocol: "tcp", fromPort: 443, toPort: 443, cidrIpv4: "0.0.0.0/0" };
            assert.deepStrictEqual(
                await resourceViolations(noOpenIngress, {
                    type: INGRESS_RULE,
                    name: "https",
                    props,
                    config: { allowedPublicPorts: [8443] },
                }),
                [openMessage("cidrIpv4", `${INGRESS_RULE} \`https\``, "tcp port 443", "`0.0.0.0/0`", "8443")],
            );
            assert.deepStrictEqual(
                await resourceViolations(noOpenIngress, {
                    type: INGRESS_RULE,
                    name: "alt",
                    props: { ...props, fromPort: 8443, toPort: 8443 },
                    config: { allowedPublicPorts: [8443] },
                }),
                [],
            );
        });

        it("leaves CIDRs and ports that preview cannot know to the update", async () => {
            assert.deepStrictEqual(
                await resourceViolations(noOpenIngress, {
                    type: INGRESS_RULE,
                    name: "a",
                    props: { ipProtocol: "tcp", fromPort: 22, toPort: 22, cidrIpv4: UNKNOWN_STRING },
                }),
                [],
            );
            assert.deepStrictEqual(
                await resourceViolations(noOpenIngress, {
                    type: SG,
                    name: "b",
                    props: { ingress: [{ protocol: "tcp", fromPort: UNKNOWN_STRING, toPort: 22, cidrBlocks: ["0.0.0.0/0"] }] },
                }),
                [],
            );
            assert.deepStrictEqual(
                await resourceViolations(noOpenIngress, { type: SG, name: "c", props: { ingress: UNKNOWN_STRING } }),
                [],
            );
        });

        it("is mandatory with a default of ports 80 and 443", () => {
            assert.strictEqual(noOpenIngress.enforcementLevel, "mandatory");
            assert.deepStrictEqual(noOpenIngress.configSchema!.properties.allowedPublicPorts.default, [80, 443]);
        });
    });
});
