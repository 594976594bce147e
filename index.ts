import { readLastRelease } from "./components/lastRelease";
import { Release } from "./components/release";
import { readReleaseConfig } from "./config";

/** Reads and validates the stack's config, then declares the release; its outputs are the stack's. */
export = async () => {
    const { release, secrets } = readReleaseConfig();
    const last = await readLastRelease(release.app, release.data.backup.log);
    return new Release(release.app, { config: release, secrets, last }).outputs;
};
