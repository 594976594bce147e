import { Policies } from "@pulumi/policy";
import { imagesPinnedByDigest } from "./rules/imagesPinnedByDigest";
import { migrationAfterBackup } from "./rules/migrationAfterBackup";
import { noOpenIngress } from "./rules/noOpenIngress";
import { noPlaintextSecrets } from "./rules/noPlaintextSecrets";
import { releaseRunnerLimited } from "./rules/releaseRunnerLimited";
import { stateRetainedInProduction } from "./rules/stateRetainedInProduction";

/** Every rule of the pack. Kept apart from `index.ts`, which starts the policy server on import. */
export const policies: Policies = [
    imagesPinnedByDigest,
    migrationAfterBackup,
    stateRetainedInProduction,
    noOpenIngress,
    noPlaintextSecrets,
    releaseRunnerLimited,
];
