#!/usr/bin/env bash
# The Pulumi toolchain on a machine that reaches package registries only.
#
# Builds the Pulumi CLI and the Node.js language host from their Go modules (the
# versions in toolchain/versions.env), caches the binaries outside the repo keyed by
# those pins, and installs them where the CLI, the npm `pulumi` wrapper and the
# Automation API look first: $PULUMI_HOME/versions/<version>/bin. A CLI already
# there (downloaded by the wrapper on a machine with internet) is used as it is.
#
# Resource plugins: a real plugin installed in $PULUMI_HOME/plugins is used. Where
# it is missing, the stand-in under test/plugins/<name>/ is compiled and put on PATH
# (the engine says so with a warning); see those files for why they exist.
#
#   scripts/toolchain.sh               build if needed and install; progress on stderr
#   eval "$(scripts/toolchain.sh --print-env)"
#                                      the same, then the environment that uses it
# Environment: PULUMI_HOME (default ~/.pulumi), SAFE_RELEASE_TOOLCHAIN_CACHE
# (default ${XDG_CACHE_HOME:-~/.cache}/safe-release/toolchain).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../toolchain/versions.env
. "$root/toolchain/versions.env"

say() { echo "toolchain: $*" >&2; }

pulumi_home=${PULUMI_HOME:-$HOME/.pulumi}
cache=${SAFE_RELEASE_TOOLCHAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/safe-release/toolchain}
cli_dir=$pulumi_home/versions/$PULUMI_CLI_VERSION
key=$(cd "$root/toolchain" && cat versions.env cli/go.mod cli/go.sum language-nodejs/go.mod language-nodejs/go.sum | sha256sum | cut -c1-16)
built=$cache/$key
# Launchers of the stand-in plugins, per PULUMI_HOME: whether a real plugin is there decides which are on PATH.
standin_path=$root/.toolchain/path-$(printf %s "$pulumi_home" | sha256sum | cut -c1-12)

# Runs a command, printing how long it has been going every 30 s: a cold Go build is minutes of silence.
with_progress() {
    local what=$1 started=$SECONDS
    shift
    "$@" &
    local pid=$!
    while ! wait_for "$pid" 30; do say "$what: still running ($((SECONDS - started)) s)"; done
    wait "$pid"
    say "$what: done in $((SECONDS - started)) s"
}
wait_for() { # pid seconds → 0 once the process has ended
    local i
    for ((i = 0; i < $2 * 2; i++)); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.5
    done
    return 1
}

go_build() { # module-dir package output version-variable version
    (
        cd "$root/toolchain/$1"
        # The go.sum beside the go.mod pins every module's hash, so nothing is asked of a checksum database.
        CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false" go build -trimpath -tags osusergo,grpcnotrace \
            -ldflags "-s -w -X $4=v$5" -o "$3" "$2"
    )
}

build_binaries() {
    mkdir -p "$cache"
    local tmp
    tmp=$(mktemp -d "$cache/.build-XXXXXX")
    say "building the Pulumi CLI v$PULUMI_CLI_VERSION and the Node.js language host v$PULUMI_LANGUAGE_NODEJS_VERSION from Go modules into $built (once; minutes on a cold machine)"
    with_progress "go mod download" sh -c "cd '$root/toolchain/cli' && go mod download && cd ../language-nodejs && go mod download"
    with_progress "build pulumi" go_build cli github.com/pulumi/pulumi/pkg/v3/cmd/pulumi "$tmp/bin/pulumi" \
        github.com/pulumi/pulumi/sdk/v3/go/common/version.Version "$PULUMI_CLI_VERSION"
    with_progress "build pulumi-language-nodejs" go_build language-nodejs \
        github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs "$tmp/bin/pulumi-language-nodejs" \
        github.com/pulumi/pulumi/sdk/v3/go/common/version.Version "$PULUMI_LANGUAGE_NODEJS_VERSION"
    local stamped
    stamped=$("$tmp/bin/pulumi" version)
    if [ "$stamped" != "v$PULUMI_CLI_VERSION" ]; then
        say "the built CLI says it is '$stamped', not v$PULUMI_CLI_VERSION"
        exit 1
    fi
    rm -rf "$built"
    mv "$tmp" "$built"
}

install_cli() {
    if [ -x "$cli_dir/bin/pulumi" ] && [ ! -L "$cli_dir/bin" ]; then return; fi # the wrapper's own download
    if [ ! -x "$built/bin/pulumi" ] || [ ! -x "$built/bin/pulumi-language-nodejs" ]; then
        if ! command -v go >/dev/null; then
            say "no Pulumi CLI v$PULUMI_CLI_VERSION in $cli_dir and no \`go\` to build it: the npm \`pulumi\` wrapper will download it (that needs internet; offline, install Go 1.25 or newer)"
            return
        fi
        # Two test runs may start together: one builds, the other waits for it.
        mkdir -p "$cache"
        exec 9>"$cache/.lock"
        flock 9
        [ -x "$built/bin/pulumi" ] || build_binaries
        flock -u 9
    fi
    install_language_launcher
    mkdir -p "$cli_dir"
    ln -sfn "$built/bin" "$cli_dir/bin"
}

# The language host built here (v3.68) reads the project's `runtime.options.typescript` only from
# a flag, which this CLI no longer passes (it sends the options in the run request, which that host
# predates). Without `-typescript=false` every program run loads ts-node and the TypeScript compiler,
# although the program is compiled JavaScript: a launcher in the host's place, in the same directory
# (so the CLI takes it as the bundled host, without a warning), passes the flag when the Pulumi.yaml
# in its working directory (the project's) says `typescript: false`.
install_language_launcher() {
    local host=$built/bin/pulumi-language-nodejs real=$built/bin/pulumi-language-nodejs-host
    if [ -x "$real" ] && head -n 2 "$host" | grep -q 'safe-release language launcher'; then return; fi
    mkdir -p "$cache"
    exec 8>"$cache/.lock"
    flock 8
    if [ ! -x "$real" ] || ! head -n 2 "$host" | grep -q 'safe-release language launcher'; then
        [ -x "$real" ] || ln -f "$host" "$real"
        # Renamed over the host in one step: a CLI starting meanwhile finds the old binary or the launcher.
        cat >"$host.$$" <<'LAUNCHER'
#!/bin/sh
# safe-release language launcher: pulumi-language-nodejs-host with the project's typescript option (scripts/toolchain.sh).
host="$(dirname "$0")/pulumi-language-nodejs-host"
if [ -f Pulumi.yaml ] && grep -Eq '^[[:space:]]+typescript:[[:space:]]*false[[:space:]]*(#.*)?$' Pulumi.yaml; then
    exec "$host" -typescript=false "$@"
fi
exec "$host" "$@"
LAUNCHER
        chmod +x "$host.$$"
        mv -f "$host.$$" "$host"
        say "the Node.js language host passes the project's \`typescript: false\` on (launcher in $built/bin)"
    fi
    flock -u 8
}

# The stand-in plugins run on node from compiled JavaScript: compiled again only when a source changed.
install_standins() {
    local out=$root/.toolchain
    local stamp=$out/plugins.stamp
    local newest
    newest=$(find "$root/test/plugins" -name '*.ts' -newer "$stamp" -print -quit 2>/dev/null || true)
    if ! compgen -G "$root/test/plugins/*/main.ts" >/dev/null; then return; fi
    if [ ! -x "$root/node_modules/.bin/tsc" ]; then
        say "stand-in plugins: not compiled yet (run \`npm ci\` first; the next run compiles them)"
        return
    fi
    if [ ! -f "$stamp" ] || [ -n "$newest" ]; then
        say "compiling the stand-in plugins in test/plugins"
        (cd "$root" && npx --no-install tsc -p tsconfig.plugins.json)
        touch "$stamp"
    fi
    mkdir -p "$standin_path"
    local name version
    for name in command docker; do
        version=$([ "$name" = command ] && echo "$PULUMI_COMMAND_PLUGIN_VERSION" || echo "$PULUMI_DOCKER_PLUGIN_VERSION")
        rm -f "$standin_path/pulumi-resource-$name"
        [ -f "$root/test/plugins/$name/main.ts" ] || continue
        if [ -x "$pulumi_home/plugins/resource-$name-v$version/pulumi-resource-$name" ]; then continue; fi
        printf '#!/bin/sh\n# Stand-in for pulumi-resource-%s v%s: see test/plugins/%s/main.ts.\nexec node "%s" "$@"\n' \
            "$name" "$version" "$name" "$out/plugins/test/plugins/$name/main.js" >"$standin_path/pulumi-resource-$name"
        chmod +x "$standin_path/pulumi-resource-$name"
        say "plugin $name v$version: not installed in $pulumi_home/plugins; using the stand-in in test/plugins/$name"
    done
}

install_cli
install_standins

if [ "${1:-}" = --print-env ]; then
    printf 'export PULUMI_HOME=%q\n' "$pulumi_home"
    printf 'export PATH=%q:%q:"$PATH"\n' "$cli_dir/bin" "$standin_path"
    echo 'export PULUMI_SKIP_UPDATE_CHECK=true'
    echo 'export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true'
    # This language host predates runtime options in the run request, so it tells the SDK
    # "TypeScript" whatever Pulumi.yaml says; the program is compiled JavaScript, so ts-node
    # must at least not type-check the project on every run.
    echo 'export PULUMI_NODEJS_TRANSPILE_ONLY=true'
fi
