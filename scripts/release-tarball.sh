#!/usr/bin/env bash
# Packs files into a release artifact whose bytes depend on their contents only
# (names sorted, mtime 0, owner root, mode 0644, `gzip -n`), so a sha256 pin in a
# stack file holds on every machine with Debian's tar and gzip; prints
# "<sha256>  <target>". Used by scripts/demo-artifacts.sh and progressdb-artifacts.sh.
#   scripts/release-tarball.sh <target.tar.gz> <file>…
set -euo pipefail
target=${1:?usage: scripts/release-tarball.sh <target.tar.gz> <file>...}
shift
staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
chmod 0755 "$staging"
install -m 0644 "$@" "$staging/"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu \
    -C "$staging" -cf - . | gzip -n -9 >"$target.tmp.$$"
mv "$target.tmp.$$" "$target"
sha256sum "$target"
