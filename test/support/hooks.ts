import { runTestEndCleanups } from "./processes";

/** Root hooks: servers started by any test file are stopped once, after the whole run. */
export const mochaHooks = {
    async afterAll(): Promise<void> {
        await runTestEndCleanups();
    },
};
