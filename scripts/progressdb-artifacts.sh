#!/usr/bin/env bash
# Builds the progressdb stand-in's artifacts (examples/progressdb-demo/), one
# .tar.gz per version, into examples/progressdb-demo/dist/ (git-ignored): the
# shared progressdb.js, lock.js, kms.js, formats.js and migrate.js plus the
# version's release.json. The bytes depend on the sources only (names sorted,
# mtime 0, owner root, fixed modes, `gzip -n`), so the sha256 pins in
# examples/progressdb-host.yaml (`release:artifacts`) hold on every machine with
# Debian's tar and gzip.
#   scripts/progressdb-artifacts.sh [out-dir]    prints "<sha256>  <file>" per artifact
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
src=$root/examples/progressdb-demo
out=${1:-$src/dist}
mkdir -p "$out"
for version_dir in "$src"/v*/; do
    version=$(basename "$version_dir")
    staging=$(mktemp -d)
    chmod 0755 "$staging"
    trap 'rm -rf "$staging"' EXIT
    install -m 0644 "$src"/progressdb.js "$src"/lock.js "$src"/kms.js "$src"/formats.js "$src"/migrate.js \
        "$version_dir"release.json "$staging/"
    target=$out/progressdb-$version.tar.gz
    tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu \
        -C "$staging" -cf - . | gzip -n -9 >"$target.tmp.$$"
    mv "$target.tmp.$$" "$target"
    rm -rf "$staging"
    trap - EXIT
    sha256sum "$target"
done
