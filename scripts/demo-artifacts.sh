#!/usr/bin/env bash
# Builds the dev stack's demo artifacts, one .tar.gz per version, into
# examples/demo/dist/ (git-ignored): server.js plus the version's store.js and
# migrate.js, packed by scripts/release-tarball.sh, so the sha256 pins in
# Pulumi.dev.yaml (`release:artifacts`) hold on every machine.
#   scripts/demo-artifacts.sh [out-dir]    prints "<sha256>  <file>" per artifact
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
demo=$root/examples/demo
out=${1:-$demo/dist}
mkdir -p "$out"
for version_dir in "$demo"/v*/; do
    version=$(basename "$version_dir")
    "$root/scripts/release-tarball.sh" "$out/demo-$version.tar.gz" "$demo/server.js" "$version_dir"store.js "$version_dir"migrate.js
done
