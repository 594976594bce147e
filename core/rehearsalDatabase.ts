/**
 * The scratch database of a rehearsal whose migration runs where its database cannot be
 * handed over per run (an ECS one-off task reads DATABASE_URL from Secrets Manager): a
 * name fixed per app, so the secret can name it before the rehearsal starts. The prefix
 * marks the database as the rehearsal's own: `rehearse --scratch-database` drops a
 * leftover of that name and refuses any other.
 */
export const REHEARSAL_DATABASE_PREFIX = "sr_rehearse_";

/** `sr_rehearse_shop` for app `shop` (`-` becomes `_`: no quoting surprises in hand-typed SQL). */
export function fixedRehearsalDatabase(app: string): string {
    return `${REHEARSAL_DATABASE_PREFIX}${app.replace(/-/g, "_")}`.slice(0, 63);
}

/** The same connection string naming another database; everything else (credentials, host, options) kept. */
export function urlNamingDatabase(url: string, database: string): string {
    const parsed = new URL(url);
    parsed.pathname = `/${encodeURIComponent(database)}`;
    return parsed.toString();
}
