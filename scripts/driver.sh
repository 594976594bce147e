#!/usr/bin/env bash
# Runs the promote or rollback driver on one stack through the Automation API,
# with the same state and passphrase as scripts/pulumi.sh.
#   STACK=prod scripts/driver.sh promote --steps 10,50,100 --bake 10m --metrics-url …
#   STACK=prod scripts/driver.sh rollback [--to v1.4.2]
set -euo pipefail
cd "$(dirname "$0")/.."

driver=${1:?usage: STACK=<stack> scripts/driver.sh <promote|rollback> [options]   (--help for details)}
shift
. scripts/stack-env.sh
# The Automation API drives the same CLI the npm package provides.
export PATH="$PWD/node_modules/.bin:$PATH"
exec npx --no-install ts-node --transpile-only drivers/cli.ts "$driver" "$stack" "$@"
