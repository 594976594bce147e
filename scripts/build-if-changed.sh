#!/usr/bin/env bash
# Compiles the program and the ops programs into bin/ (`npm run build`) unless bin/ is
# already newer than every source it is built from. tsc rewrites every output file
# on each build, so skipping an unchanged one also keeps a running `pulumi up` of
# another shell (or another test) from reading a half-written bin/index.js.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=bin/.built
if [ -f "$stamp" ] && [ -z "$(find index.ts config.ts tsconfig.json tsconfig.build.json package-lock.json core settings components ops \
    -newer "$stamp" \( -name '*.ts' -o -name '*.json' \) -print -quit 2>/dev/null)" ]; then
    # A deleted source changes no mtime: its stale outputs still go.
    exec node scripts/prune-build.js
fi
npm run --silent build
touch "$stamp"
