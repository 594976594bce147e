#!/usr/bin/env bash
# Runs the promote or rollback driver on one stack through the Automation API,
# with the same state and passphrase as scripts/pulumi.sh.
#   STACK=prod scripts/driver.sh promote --steps 10,50,100 --bake 10m --metrics-url …
#   STACK=prod scripts/driver.sh rollback [--to v1.4.2]
# Each step commits its change of Pulumi.<stack>.yaml (--no-commit prints the git command instead),
# so the release workflow, which deploys the committed file, does not undo it.
set -euo pipefail
cd "$(dirname "$0")/.."

driver=${1:?usage: STACK=<stack> scripts/driver.sh <promote|rollback> [options]   (--help for details)}
shift
. scripts/stack-env.sh
# The drivers run the toolchain's CLI ($PULUMI_HOME/versions/<pin>, see drivers/pulumiCommand.ts),
# which stack-env.sh has just built or found.
exec npx --no-install ts-node --transpile-only drivers/cli.ts "$driver" "$stack" "$@"
