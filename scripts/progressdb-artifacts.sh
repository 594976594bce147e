#!/usr/bin/env bash
# Builds the progressdb stand-in's artifacts (examples/progressdb-demo/), one
# .tar.gz per version, into examples/progressdb-demo/dist/ (git-ignored): the
# shared progressdb.js, lock.js, kms.js, formats.js and migrate.js plus the
# version's release.json, packed by scripts/release-tarball.sh, so the sha256
# pins in examples/progressdb-host.yaml (`release:artifacts`) hold on every machine.
#   scripts/progressdb-artifacts.sh [out-dir]    prints "<sha256>  <file>" per artifact
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
src=$root/examples/progressdb-demo
out=${1:-$src/dist}
mkdir -p "$out"
for version_dir in "$src"/v*/; do
    version=$(basename "$version_dir")
    "$root/scripts/release-tarball.sh" "$out/progressdb-$version.tar.gz" \
        "$src"/progressdb.js "$src"/lock.js "$src"/kms.js "$src"/formats.js "$src"/migrate.js "$version_dir"release.json
done
