#!/usr/bin/env bash
# Builds the release runner image from runner/Dockerfile on a machine that reaches no image
# registry, against the Docker engine DOCKER_HOST names (or the default one).
#
#   scripts/runner-image.sh [--tag <name>] [--pg-major <N>]     default tag: safe-release-runner:local
#
# The Dockerfile's base (node:20-bookworm-slim by digest) cannot be pulled here, so a stand-in
# is made from what the machine has: a debootstrap minbase of Debian bookworm from the
# machine's own Debian mirror, plus the host's `node` and `npm` where the real image keeps
# them (/usr/local). It is imported under its own name and passed as the Dockerfile's
# BASE_IMAGE. The Dockerfile runs as written: its RUN steps reach the Debian mirror and the
# npm registry through `--network host` (the engine's bridges have no NAT).
#
# Cached outside the repo, each keyed by its inputs, under SAFE_RELEASE_RUNNER_CACHE (default
# ${XDG_CACHE_HOME:-~/.cache}/safe-release/runner-image):
#   minbase-<key>/minbase.tar   the debootstrap rootfs (suite, mirror, packages, this recipe)
#   image-<key>.tar             `docker save` of the built image (build context, base, PG major),
#                               loaded instead of rebuilt into an engine that lacks it
#   layers-<base key>.tar       the stand-in base, the `deps` stage (npm ci) and the last image:
#                               after a source edit, a new engine rebuilds only what changed
#                               (`--cache-from`); of each kind, the two newest are kept.
# Progress, one line per stage with its time, goes to stderr; stdout is the image ID.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tag=safe-release-runner:local
pg_major=15
while [ $# -gt 0 ]; do
    case $1 in
        --tag) tag=${2:?--tag needs an image name, e.g. safe-release-runner:local}; shift 2 ;;
        --pg-major) pg_major=${2:?--pg-major needs a PostgreSQL major, e.g. 15}; shift 2 ;;
        -h | --help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "runner-image: unknown argument '$1'; valid: --tag <name>, --pg-major <N>" >&2; exit 2 ;;
    esac
done
[[ $pg_major =~ ^[0-9]+$ ]] || { echo "runner-image: --pg-major must be a number such as 15, got '$pg_major'" >&2; exit 2; }

suite=bookworm
# Packages the real node:20-bookworm-slim has and minbase lacks: passwd (useradd, which the Dockerfile runs).
include=passwd
recipe_version=1
cache=${SAFE_RELEASE_RUNNER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/safe-release/runner-image}
started=$SECONDS
stage_started=$SECONDS
say() { echo "runner-image: $*" >&2; }
stage() { stage_started=$SECONDS; say "$*"; }
done_stage() { say "  done in $((SECONDS - stage_started)) s"; }

need() { command -v "$1" >/dev/null || { say "\`$1\` is not on PATH: install the Debian package \`$2\`"; exit 1; }; }
need docker docker.io
need debootstrap debootstrap
need node nodejs
need sha256sum coreutils
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
    { say "no Docker engine answers at ${DOCKER_HOST:-the default socket}; start one and set DOCKER_HOST"; exit 1; }

# The machine's Debian mirror, as apt is set up here (deb822 first, then a one-line sources.list).
mirror=${SAFE_RELEASE_DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
    mirror=$(awk '/^URIs:/ && $2 ~ /\/debian\/?$/ { print $2; exit }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
    [ -n "$mirror" ] || mirror=$(awk '/^deb / && $2 ~ /\/debian\/?$/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
    [ -n "$mirror" ] || { say "found no Debian mirror in /etc/apt; set SAFE_RELEASE_DEBIAN_MIRROR"; exit 1; }
fi
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9 # two builds at once share the cache entries, never half-written ones

hash_of() { sha256sum | cut -c1-16; }

# Every key first (cheap): an engine that lacks the image loads the saved one without any stage.
minbase_key=$(printf '%s\n' "$recipe_version" "$suite" "$mirror" "$include" "$(dpkg --print-architecture)" | hash_of)
minbase=$cache/minbase-$minbase_key/minbase.tar
node_bin=$(readlink -f "$(command -v node)")
npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
[ -f "$npm_dir/bin/npm-cli.js" ] || { say "cannot find npm's package beside $(command -v npm) (looked in $npm_dir)"; exit 1; }
node_major=$("$node_bin" -p 'process.versions.node.split(".")[0]')
# The host's extra CA certificates for Node.js (a TLS-inspecting proxy's, say) go into the stand-in too,
# so that npm in the build reaches the registry as the host's npm does. The real base has none.
host_ca=${NODE_EXTRA_CA_CERTS:-}
[ -z "$host_ca" ] || [ -r "$host_ca" ] || { say "NODE_EXTRA_CA_CERTS names $host_ca, which cannot be read"; exit 1; }
base_key=$( {
    echo "$minbase_key"
    sha256sum "$node_bin" | cut -d' ' -f1
    "$node_bin" "$npm_dir/bin/npm-cli.js" --version
    [ -z "$host_ca" ] || sha256sum <"$host_ca"
} | hash_of)
base=safe-release-local/node:$node_major-$suite-slim-$base_key
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The build context: exactly the `!` entries of runner/Dockerfile.dockerignore, as one reproducible tar.
mapfile -t context_paths < <(sed -n 's/^!//p' "$root/runner/Dockerfile.dockerignore")
(cd "$root" && tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$work/context.tar" \
    runner/Dockerfile runner/Dockerfile.dockerignore "${context_paths[@]}")
image_key=$( { sha256sum "$work/context.tar" | cut -d' ' -f1; echo "$base_key"; echo "$pg_major"; } | hash_of)
saved=$cache/image-$image_key.tar

# 1. The debootstrap rootfs, trimmed as Debian's slim images are (no docs, man pages, locales).
build_minbase() {
    stage "[1/4] debootstrap --variant=minbase $suite from $mirror (once per input; a minute or two)"
    local staging
    staging=$(mktemp -d "$work/minbase-XXXXXX")
    debootstrap --variant=minbase --include="$include" "$suite" "$staging/rootfs" "$mirror" >"$staging/debootstrap.log" 2>&1 ||
        { tail -n 20 "$staging/debootstrap.log" >&2; say "debootstrap failed; its log is above"; exit 1; }
    cat >"$staging/rootfs/etc/dpkg/dpkg.cfg.d/slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
CFG
    find "$staging/rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
    rm -rf "$staging/rootfs/usr/share/man/"* "$staging/rootfs/usr/share/info/"* \
        "$staging/rootfs/var/cache/apt/"*.bin "$staging/rootfs/var/lib/apt/lists/"* "$staging/rootfs/var/log/"*.log
    find "$staging/rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
    tar --sort=name --numeric-owner -C "$staging/rootfs" -cf "$staging/minbase.tar" .
    mkdir -p "$(dirname "$minbase")"
    mv "$staging/minbase.tar" "$minbase.partial" && mv "$minbase.partial" "$minbase"
    rm -rf "$staging"
    done_stage
}

# 2. The stand-in for node:20-bookworm-slim: that rootfs plus the host's node and npm where the real
#    image keeps them (/usr/local), imported as one layer.
import_base() {
    stage "[2/4] stand-in base $base (node $("$node_bin" --version) from the host)"
    local staging=$work/base
    mkdir -p "$staging/usr/local/bin" "$staging/usr/local/lib/node_modules"
    cp "$node_bin" "$staging/usr/local/bin/node"
    cp -r "$npm_dir" "$staging/usr/local/lib/node_modules/npm"
    ln -s ../lib/node_modules/npm/bin/npm-cli.js "$staging/usr/local/bin/npm"
    ln -s ../lib/node_modules/npm/bin/npx-cli.js "$staging/usr/local/bin/npx"
    # Entries the rootfs lacks only: a directory it has already (./usr/local/bin) must not appear twice.
    local entries=(./usr/local/bin/node ./usr/local/bin/npm ./usr/local/bin/npx ./usr/local/lib/node_modules)
    local changes=(--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' --change 'CMD ["node"]')
    if [ -n "$host_ca" ]; then
        mkdir -p "$staging/usr/local/share/safe-release"
        cp "$host_ca" "$staging/usr/local/share/safe-release/host-ca.crt"
        changes+=(--change 'ENV NODE_EXTRA_CA_CERTS=/usr/local/share/safe-release/host-ca.crt')
        entries+=(./usr/local/share/safe-release)
    fi
    cp "$minbase" "$work/base.tar"
    tar --owner=0 --group=0 --numeric-owner -C "$staging" -rf "$work/base.tar" "${entries[@]}"
    docker import "${changes[@]}" "$work/base.tar" "$base" >/dev/null
    rm -rf "$staging" "$work/base.tar"
    done_stage
}

# The layers a build can reuse when only sources changed: the base, the `deps` stage (npm ci) and the
# last image (its apt-get layer), saved together per base; `--cache-from` lets the classic builder use
# them in an engine that never built them.
cache_bundle=$cache/layers-$base_key.tar
deps=safe-release-local/runner-deps:$base_key

# Tagged by its inputs too, so an engine that has it says so without a label (a label is one more
# build step, and on vfs every step copies the whole tree).
keyed=safe-release-local/runner:$image_key
if docker image inspect "$keyed" >/dev/null 2>&1; then
    docker tag "$keyed" "$tag"
    say "$tag: already built from these inputs ($keyed)"
elif [ -f "$saved" ]; then
    stage "$tag: loading the image built from these inputs ($saved)"
    docker load -q -i "$saved" >/dev/null
    docker tag "$keyed" "$tag"
    done_stage
else
    # With --cache-from the classic builder uses only the images named, not its own cache: name them
    # only when they came from the saved layers, into an engine that has no cache of its own.
    cache_from=()
    if ! docker image inspect "$base" >/dev/null 2>&1 && [ -f "$cache_bundle" ]; then
        stage "[1/4] loading the base and the layers of the last build ($cache_bundle)"
        docker load -q -i "$cache_bundle" >/dev/null
        cache_from=(--cache-from "$deps" --cache-from "safe-release-local/runner-last:$base_key")
        done_stage
    fi
    if docker image inspect "$base" >/dev/null 2>&1; then
        say "[2/4] stand-in base $base: in the engine"
    else
        if [ -f "$minbase" ]; then say "[1/4] debootstrap rootfs: cached ($minbase)"; else build_minbase; fi
        import_base
    fi
    stage "[3/4] docker build -f runner/Dockerfile (PG_MAJOR=$pg_major, base $base${cache_from:+, reusing the saved layers}; npm ci and apt-get inside)"
    build() { # extra docker build arguments…
        DOCKER_BUILDKIT=0 docker build --network host --pull=false "${cache_from[@]}" \
            --build-arg "BASE_IMAGE=$base" --build-arg "PG_MAJOR=$pg_major" -f runner/Dockerfile "$@" - <"$work/context.tar" \
            >>"$work/build.log" 2>&1 ||
            { tail -n 30 "$work/build.log" >&2; say "docker build failed; the last lines of its output are above"; exit 1; }
    }
    build --target deps -t "$deps" # the npm ci stage under a name, saved for the next engine
    build -t "$keyed" -t "$tag"
    done_stage
    stage "[4/4] saving the image to $saved, and its layers to $cache_bundle, for the next engine"
    docker tag "$tag" safe-release-local/runner-last:"$base_key"
    docker save "$keyed" -o "$work/image.tar"
    mv "$work/image.tar" "$saved"
    docker save "$base" "$deps" safe-release-local/runner-last:"$base_key" -o "$work/layers.tar"
    mv "$work/layers.tar" "$cache_bundle"
    # The two newest builds stay: the current inputs and the one before (a branch switch back).
    ls -1t "$cache"/image-*.tar 2>/dev/null | tail -n +3 | xargs -r rm -f
    ls -1t "$cache"/layers-*.tar 2>/dev/null | tail -n +3 | xargs -r rm -f
    done_stage
fi
size=$(docker image inspect --format '{{.Size}}' "$tag")
say "$tag ready in $((SECONDS - started)) s: $((size / 1000000)) MB"
docker image inspect --format '{{.Id}}' "$tag"
