import { rdsStamp, restoreNames, RdsTarget, SNAPSHOT_KIND } from "./rdsSnapshots";
import { RdsRun } from "./rdsWait";

/**
 * The restore AWS documents for keeping an endpoint: restore the snapshot into a new
 * instance (cluster) beside the live one, wait until it is available, rename the live
 * one out of the way (kept, never deleted), rename the restored one to the live
 * identifier. The endpoint is made of the identifier, so the app's connection string
 * does not change. One procedure for instances and Aurora clusters; what differs is
 * behind `RdsRestorer`.
 */

export interface SnapshotFacts {
    readonly id: string;
    readonly arn: string;
    /** The instance (cluster) it was taken of. */
    readonly source: string;
    readonly status: string;
    readonly engine?: string;
    readonly engineVersion?: string;
}

export interface LiveFacts {
    readonly status: string;
    readonly endpoint?: string;
}

export interface RdsRestorer<L extends LiveFacts> {
    /** `instance`, `cluster`: as messages and flags name it. */
    readonly noun: RdsTarget["kind"];
    readonly snapshotNoun: string;
    /** Undefined when RDS knows no such snapshot. */
    describeSnapshot(id: string): Promise<SnapshotFacts | undefined>;
    /** Newest first: what a message offers instead of an unknown snapshot. */
    snapshotsOf(live: string): Promise<string[]>;
    /** Undefined when RDS knows no such instance (cluster). */
    describe(id: string): Promise<L | undefined>;
    /** Why the live one cannot be restored this way, if it cannot. */
    refusal(live: L): string | undefined;
    /** Starts the restore into `restored`; pushes each identifier it creates onto `created` as soon as it exists. */
    restore(snapshot: SnapshotFacts, live: L, restored: string, created: string[]): Promise<void>;
    /** Waits until everything `restore` created is available. */
    waitRestored(created: readonly string[]): Promise<void>;
    /** Renames and waits until the new name is available. */
    rename(from: string, to: string): Promise<void>;
    /** Deletes a drill's copy (no final snapshot) and waits until it is gone. */
    remove(created: readonly string[]): Promise<void>;
    /** The `aws` command that deletes a kept copy, for messages. */
    removeHint(created: readonly string[]): string;
    renameHint(from: string, to: string): string;
}

export interface RestoreRequest {
    readonly snapshot: string;
    readonly live: string;
    /** Names the live identifier: a snapshot of another instance (cluster) may replace it. */
    readonly into?: string;
    readonly drill: boolean;
}

/** Nothing was changed: the message says why, and what to do. */
export class RestoreRefusal extends Error {}

/** Something was changed or created: the message says what exists now and what to do. */
export class RestoreFailure extends Error {
    constructor(
        message: string,
        readonly exists: readonly string[],
    ) {
        super(message);
    }
}

export interface RestoreOutcome {
    readonly snapshot: string;
    readonly kind: string;
    readonly drill: boolean;
    readonly live: string;
    /** The identifier the snapshot was restored into (the live identifier after the swap). */
    readonly restored: string;
    /** Every identifier the restore created (for Aurora: the cluster and its instance). */
    readonly created: readonly string[];
    /** The live one under its kept name; null for a drill. */
    readonly preRestore: string | null;
    readonly endpointBefore: string | null;
    readonly endpoint: string | null;
    /** A drill's copy, deleted. */
    readonly deleted: readonly string[];
}

const UNCHANGED = "nothing was changed";

/** Checks before anything is created; every refusal leaves AWS as it was. */
async function checked<L extends LiveFacts>(r: RdsRestorer<L>, request: RestoreRequest): Promise<{ snapshot: SnapshotFacts; live: L }> {
    const { live: liveId, into } = request;
    if (into !== undefined && into !== liveId) {
        throw new RestoreRefusal(
            `\`--into\` must name the ${r.noun} \`--${r.noun}\` names, the one the restore replaces (\`${liveId}\`); got \`${into}\`; ${UNCHANGED}`,
        );
    }
    const snapshot = await r.describeSnapshot(request.snapshot);
    if (snapshot === undefined) {
        const known = await r.snapshotsOf(liveId);
        const offer = known.length > 0 ? `snapshots of \`${liveId}\`, newest first: ${known.join(", ")}` : `\`${liveId}\` has none`;
        throw new RestoreRefusal(
            `\`--snapshot\` names \`${request.snapshot}\`, which is no ${r.snapshotNoun} RDS knows; ${offer}; ${UNCHANGED}`,
        );
    }
    if (snapshot.source !== liveId && into === undefined && !request.drill) {
        throw new RestoreRefusal(
            `refusing to restore ${r.snapshotNoun} \`${snapshot.id}\` of ${r.noun} \`${snapshot.source}\` into \`${liveId}\` (\`--${r.noun}\`): ` +
                `it would replace \`${liveId}\`. Name the snapshot's own ${r.noun} with \`--${r.noun} ${snapshot.source}\`, ` +
                `or pass \`--into ${liveId}\` to replace \`${liveId}\` on purpose; ${UNCHANGED}`,
        );
    }
    if (snapshot.status !== "available") {
        throw new RestoreRefusal(
            `${r.snapshotNoun} \`${snapshot.id}\` is \`${snapshot.status}\`, not \`available\`: run the restore again once it is available; ${UNCHANGED}`,
        );
    }
    const live = await r.describe(liveId);
    if (live === undefined) {
        throw new RestoreRefusal(`\`--${r.noun}\` names \`${liveId}\`, which is no ${r.noun} RDS knows; ${UNCHANGED}`);
    }
    const refusal = r.refusal(live);
    if (refusal !== undefined) throw new RestoreRefusal(`${refusal}; ${UNCHANGED}`);
    if (live.status !== "available" && !request.drill) {
        throw new RestoreRefusal(
            `${r.noun} \`${liveId}\` is \`${live.status}\`, not \`available\`: it cannot be renamed now; run the restore again once it is available; ${UNCHANGED}`,
        );
    }
    return { snapshot, live };
}

export async function restoreSnapshot<L extends LiveFacts>(
    r: RdsRestorer<L>,
    request: RestoreRequest,
    run: RdsRun,
    now: Date,
): Promise<RestoreOutcome> {
    const { snapshot, live } = await checked(r, request);
    const liveId = request.live;
    const { restored, preRestore } = restoreNames(liveId, rdsStamp(now));
    const created: string[] = [];
    run.log(`restoring ${r.snapshotNoun} ${snapshot.id} into ${r.noun} ${restored}, beside ${liveId}${request.drill ? " (drill)" : ""}`);
    const kept = () =>
        `\`${liveId}\` is untouched; the restored copy ${created.map((id) => `\`${id}\``).join(", ")} is kept for inspection: ` +
        `delete it when done with \`${r.removeHint(created)}\``;
    try {
        await r.restore(snapshot, live, restored, created);
    } catch (err) {
        if (created.length === 0)
            throw new RestoreFailure(`${(err as Error).message}; nothing was created and \`${liveId}\` is untouched`, []);
        throw new RestoreFailure(`${(err as Error).message}; ${kept()}`, created);
    }
    try {
        await r.waitRestored(created);
    } catch (err) {
        throw new RestoreFailure(`${(err as Error).message}; ${kept()}`, created);
    }
    const outcome = {
        snapshot: snapshot.id,
        kind: SNAPSHOT_KIND[r.noun],
        drill: request.drill,
        live: liveId,
        restored,
        created: [...created],
        endpointBefore: live.endpoint ?? null,
    };
    if (request.drill) {
        const endpoint = (await r.describe(restored))?.endpoint ?? null;
        try {
            await r.remove(created);
        } catch (err) {
            throw new RestoreFailure(
                `the drill restored ${created.join(", ")}, but could not delete it: ${(err as Error).message}; ` +
                    `\`${liveId}\` is untouched; delete the copy with \`${r.removeHint(created)}\``,
                created,
            );
        }
        return { ...outcome, preRestore: null, endpoint, deleted: [...created] };
    }
    await swap(r, run, { liveId, restored, preRestore, created });
    const endpoint = (await r.describe(liveId))?.endpoint ?? null;
    return { ...outcome, preRestore, endpoint, deleted: [] };
}

/** The two renames; a failure puts the live one back under its name before it says what exists. */
async function swap<L extends LiveFacts>(
    r: RdsRestorer<L>,
    run: RdsRun,
    names: { liveId: string; restored: string; preRestore: string; created: readonly string[] },
): Promise<void> {
    const { liveId, restored, preRestore, created } = names;
    const copy = `the restored copy \`${restored}\` is kept (delete it with \`${r.removeHint(created)}\`)`;
    try {
        await r.rename(liveId, preRestore);
    } catch (err) {
        throw new RestoreFailure(`${(err as Error).message}; ${await putBack(r, run, liveId, preRestore)}; ${copy}`, [
            ...created,
            ...((await r.describe(preRestore)) !== undefined ? [preRestore] : [liveId]),
        ]);
    }
    try {
        await r.rename(restored, liveId);
    } catch (err) {
        const back = await putBack(r, run, liveId, preRestore);
        const exists = [...created.filter((id) => id !== restored), ...((await r.describe(restored)) !== undefined ? [restored] : [])];
        throw new RestoreFailure(`${(err as Error).message}; ${back}; ${copy}`, [...exists, liveId]);
    }
}

/** After a failed rename: the live one gets its own name back, so the app's endpoint answers again. */
async function putBack<L extends LiveFacts>(r: RdsRestorer<L>, run: RdsRun, liveId: string, preRestore: string): Promise<string> {
    try {
        if ((await r.describe(preRestore)) === undefined) return `\`${liveId}\` keeps its name and is as it was`;
        run.log(`renaming ${preRestore} back to ${liveId}`);
        await r.rename(preRestore, liveId);
        return `\`${liveId}\` was renamed back and is as it was`;
    } catch (err) {
        return (
            `\`${liveId}\` could not be renamed back (${(err as Error).message}): it is \`${preRestore}\` now and its endpoint has changed; ` +
            `rename it back with \`${r.renameHint(preRestore, liveId)}\``
        );
    }
}
