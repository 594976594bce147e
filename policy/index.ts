import { PolicyPack } from "@pulumi/policy";
import { policies } from "./policies";

new PolicyPack("safe-release", {
    description:
        "Release guard rails for safe-release: pinned images, backups before migrations, retained state, closed ingress, no plain-text secrets, a least-privilege release runner.",
    enforcementLevel: "mandatory",
    policies,
});
