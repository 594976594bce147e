// First, before anything loads `@pulumi/pulumi`: see the module for what it saves on every run.
import "./components/sdkStartup";
import * as pulumi from "@pulumi/pulumi";
import { readLastRelease } from "./components/lastRelease";
import { checkSchemaHead, plainSecret } from "./components/schemaHeadCheck";
import { Release } from "./components/release";
import { ConfigError, readReleaseConfig } from "./config";

/** Reads and validates the stack's config, then declares the release; its outputs are the stack's. */
export = async () => {
    try {
        const { release, secrets } = readReleaseConfig();
        const recorded = await readLastRelease(release.app, release.data.backup.store);
        // The stack outputs are a cache of the schema head; the migration ledger, where it answers, is the truth.
        const last = await checkSchemaHead(recorded, {
            app: release.app,
            databaseUrl: await plainSecret(secrets.databaseUrl),
            acceptSchemaHead: release.acceptSchemaHead,
            restoreFrom: release.data.restoreFrom,
        });
        return new Release(release.app, { config: release, secrets, last }).outputs;
    } catch (err) {
        // A config error or a refused transition is the operator's to fix: the engine shows a
        // RunError as its message alone, where any other error gets a stack trace (and Node's
        // inspection of it costs seconds).
        if (err instanceof ConfigError) throw Object.assign(new pulumi.RunError(err.message), { name: err.name });
        throw err;
    }
};
