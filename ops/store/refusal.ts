/** The one message for a store that will not take a backup: `store-check` and `backup` both give it. */
export function storeRefusal(store: string, cause: string): string {
    return (
        `the backup store \`${store}\` refuses writes: ${cause}. Nothing was written there: make the store writable for this ` +
        "process (its permissions, bucket policy or credentials), or name another with `--store`, then run again"
    );
}
