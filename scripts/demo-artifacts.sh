#!/usr/bin/env bash
# Builds the dev stack's demo artifacts, one .tar.gz per version, into
# examples/demo/dist/ (git-ignored): server.js plus the version's store.js and
# migrate.js. The bytes depend on the sources only (names sorted, mtime 0,
# owner root, fixed modes, `gzip -n`), so the sha256 pins in Pulumi.dev.yaml
# (`release:artifacts`) hold on every machine with Debian's tar and gzip.
#   scripts/demo-artifacts.sh [out-dir]    prints "<sha256>  <file>" per artifact
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
demo=$root/examples/demo
out=${1:-$demo/dist}
mkdir -p "$out"
for version_dir in "$demo"/v*/; do
    version=$(basename "$version_dir")
    staging=$(mktemp -d)
    chmod 0755 "$staging"
    trap 'rm -rf "$staging"' EXIT
    install -m 0644 "$demo/server.js" "$version_dir"store.js "$version_dir"migrate.js "$staging/"
    target=$out/demo-$version.tar.gz
    tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu \
        -C "$staging" -cf - . | gzip -n -9 >"$target.tmp"
    mv "$target.tmp" "$target"
    rm -rf "$staging"
    trap - EXIT
    sha256sum "$target"
done
