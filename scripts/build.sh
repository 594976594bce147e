#!/usr/bin/env bash
# `npm run build`: compiles the program and the ops programs into bin/ (or the
# `--outDir` given after `--`), then removes the outputs whose source is gone
# (scripts/prune-build.js says why).
set -euo pipefail
cd "$(dirname "$0")/.."
out=bin
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    [ "${args[i]}" = "--outDir" ] && [ $((i + 1)) -lt ${#args[@]} ] && out=${args[i + 1]}
done
npx tsc -p tsconfig.build.json "$@"
node scripts/prune-build.js "$out"
