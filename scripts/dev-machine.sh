#!/usr/bin/env bash
# What the dev stack needs running on this machine before the Pulumi CLI runs,
# all of it private to the stack's `release:host.root` (read from the stack file):
#   - a supervisord of its own: <root>/supervisor/supervisord.conf, socket
#     <root>/supervisor/supervisor.sock, programs in <root>/supervisor/conf.d/;
#   - a PostgreSQL of its own for the migration ledger and lock: <root>/postgres/data,
#     listening on the Unix socket <root>/postgres/.s.PGSQL.5432 only, with the database the
#     stack file's `release:databaseUrl` names (its `release:app` when that URL is a secret).
# Each is started when it is not running; a machine without the tools gets one
# line naming the Debian packages. The machine's own services are not touched.
#   scripts/dev-machine.sh start [stack file]   (default Pulumi.dev.yaml)
#   scripts/dev-machine.sh stop  [stack file]
set -euo pipefail
cd "$(dirname "$0")/.."
action=${1:?usage: scripts/dev-machine.sh start|stop [stack file]}
stack_file=${2:-Pulumi.dev.yaml}

missing=()
need() { # program debian-package [fallback path]
    command -v "$1" >/dev/null 2>&1 || [ -x "${3:-/nonexistent}" ] || missing+=("$2")
}
need supervisord supervisor
need supervisorctl supervisor
need nginx nginx-light /usr/sbin/nginx
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
[ -n "$pg_bin" ] && [ -x "$pg_bin/initdb" ] || missing+=(postgresql)
if [ "${#missing[@]}" -gt 0 ]; then
    packages=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ' | sed 's/ $//')
    echo "the dev stack runs its demo under supervisord behind nginx, with a PostgreSQL for the migration ledger; install the missing Debian packages: apt-get install $packages" >&2
    exit 3
fi

# Line 1: the root; line 2: the data directory the backup archives (empty before the first release);
# line 3: the database the ledger lives in.
{ read -r root; read -r data_dir; read -r database; } < <(node -e '
    const yaml = require("js-yaml");
    const file = process.argv[1];
    const config = yaml.load(require("fs").readFileSync(file, "utf8")).config || {};
    const root = (config["release:host"] || {}).root;
    if (typeof root !== "string" || !root.startsWith("/")) {
        console.error(`${file}: release:host.root must be an absolute directory`);
        process.exit(2);
    }
    // A secret URL is encrypted in the stack file: its database cannot be read here, so the app names it.
    const url = config["release:databaseUrl"];
    let database = config["release:app"];
    if (typeof url === "string") {
        try {
            database = decodeURIComponent(new URL(url).pathname.replace(/^\//, ""));
        } catch {
            database = "";
        }
    }
    if (typeof database !== "string" || !/^[A-Za-z0-9_][A-Za-z0-9_-]{0,62}$/.test(database)) {
        console.error(`${file}: release:databaseUrl must name a database of letters, digits, "_" or "-" (postgresql://…/<database>); got ${JSON.stringify(database ?? null)}`);
        process.exit(2);
    }
    console.log(`${root}\n${(config["release:backup"] || {}).directory || ""}\n${database}`);
' "$stack_file")
[ -n "$root" ] && [ -n "$database" ] || exit 2
sup=$root/supervisor
conf=$sup/supervisord.conf
pg=$root/postgres
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

if [ "$action" = stop ]; then
    if [ -f "$sup/supervisord.pid" ] && kill -0 "$(cat "$sup/supervisord.pid")" 2>/dev/null; then
        supervisorctl -c "$conf" shutdown >/dev/null || true
        for _ in $(seq 1 100); do [ -f "$sup/supervisord.pid" ] && kill -0 "$(cat "$sup/supervisord.pid")" 2>/dev/null || break; sleep 0.1; done
    fi
    if [ -f "$pg/data/postmaster.pid" ]; then as_postgres "$pg_bin/pg_ctl" -D "$pg/data" -m fast -w -t 30 stop >/dev/null || true; fi
    exit 0
fi
[ "$action" = start ] || { echo "usage: scripts/dev-machine.sh start|stop [stack file]" >&2; exit 2; }

mkdir -p "$root/logs" "$sup/conf.d" ${data_dir:+"$data_dir"}
if ! supervisorctl -c "$conf" pid >/dev/null 2>&1; then
    cat >"$conf" <<CONF
; The dev stack's own supervisord (written by scripts/dev-machine.sh).
[unix_http_server]
file=$sup/supervisor.sock
chmod=0700
[supervisord]
logfile=$sup/supervisord.log
pidfile=$sup/supervisord.pid
childlogdir=$root/logs
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[supervisorctl]
serverurl=unix://$sup/supervisor.sock
[include]
files=$sup/conf.d/*.conf
CONF
    supervisord -c "$conf"
    for _ in $(seq 1 100); do supervisorctl -c "$conf" pid >/dev/null 2>&1 && break; sleep 0.1; done
    supervisorctl -c "$conf" pid >/dev/null 2>&1 || { echo "supervisord did not start; see $sup/supervisord.log" >&2; exit 1; }
    echo "dev-machine: started supervisord ($conf)" >&2
fi

if [ ! -S "$pg/.s.PGSQL.5432" ] || ! as_postgres "$pg_bin/pg_isready" -q -h "$pg"; then
    mkdir -p "$pg"
    [ "$(id -u)" = 0 ] && chown postgres "$pg"
    if [ ! -f "$pg/data/PG_VERSION" ]; then
        as_postgres "$pg_bin/initdb" -D "$pg/data" -U postgres -A trust -E UTF8 --locale=C --no-sync >"$pg/initdb.log" 2>&1 ||
            { echo "initdb failed ($(tail -n 1 "$pg/initdb.log")); see $pg/initdb.log" >&2; exit 1; }
    fi
    as_postgres "$pg_bin/pg_ctl" -D "$pg/data" -l "$pg/postgres.log" -w -t 30 \
        -o "-c listen_addresses='' -k $pg" start >/dev/null ||
        { echo "PostgreSQL did not start; see $pg/postgres.log" >&2; exit 1; }
    echo "dev-machine: started PostgreSQL (socket in $pg)" >&2
fi
if ! as_postgres "$pg_bin/psql" -h "$pg" -U postgres -d postgres -tAc "select 1 from pg_database where datname = '$database'" | grep -q 1; then
    as_postgres "$pg_bin/createdb" -h "$pg" -U postgres "$database"
    echo "dev-machine: created database $database" >&2
fi
