#!/usr/bin/env bash
# moto in server mode, the AWS API the tests run the ops programs against.
#
# Builds a virtualenv with the pinned `moto[server]` from PyPI into a cache outside the
# repo, keyed by the pin, and reuses it when it is already there (a cold build is a
# minute of pip; a warm one is a file test). Needs Debian `python3-venv`.
#
#   scripts/moto.sh                 build if needed; progress on stderr
#   scripts/moto.sh --print-path    the same, then the path of `moto_server` on stdout
# Environment: SAFE_RELEASE_MOTO_CACHE (default ${XDG_CACHE_HOME:-~/.cache}/safe-release).
set -euo pipefail

# PyPI's latest when pinned; test/support/moto.ts looks for the same directory name.
MOTO_VERSION=5.2.5
# Every dependency of it pinned too, so two machines build the same server.
constraints=$(cd "$(dirname "$0")/.." && pwd)/toolchain/moto-constraints.txt
constraints_sum=$(sha256sum "$constraints" | cut -d' ' -f1)

say() { echo "moto: $*" >&2; }

cache=${SAFE_RELEASE_MOTO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/safe-release}
venv=$cache/moto-$MOTO_VERSION
server=$venv/bin/moto_server

if [ -x "$server" ] && [ "$(cat "$venv/.complete" 2>/dev/null)" = "$constraints_sum" ]; then
    say "moto $MOTO_VERSION already in $venv"
else
    if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
        say "python3 cannot build a virtualenv: install the Debian package python3-venv (apt-get install -y python3-venv)"
        exit 1
    fi
    # A half-built venv (an interrupted pip) has no .complete, and one built with other
    # constraints has another sum in it: either is rebuilt from scratch.
    # It is built under its final name: a venv's scripts name their interpreter by absolute path.
    rm -rf "$venv"
    mkdir -p "$cache"
    say "building a virtualenv in $venv"
    python3 -m venv "$venv"
    say "installing moto[server]==$MOTO_VERSION from PyPI"
    "$venv/bin/pip" install --disable-pip-version-check --no-input --progress-bar off \
        -c "$constraints" "moto[server]==$MOTO_VERSION" >&2
    echo "$constraints_sum" >"$venv/.complete"
    say "moto $MOTO_VERSION ready: $server"
fi

if [ "${1:-}" = "--print-path" ]; then
    echo "$server"
fi
