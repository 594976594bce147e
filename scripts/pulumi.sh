#!/usr/bin/env bash
# Runs a Pulumi CLI command on one stack with local file state, so no Pulumi
# Cloud account is needed. The CLI is the pinned `pulumi` npm package's version,
# which scripts/toolchain.sh builds from Go modules when it is not installed.
#   STACK=prod scripts/pulumi.sh preview [pulumi flags…]
set -euo pipefail
cd "$(dirname "$0")/.."

command=${1:?usage: STACK=<stack> scripts/pulumi.sh <preview|up|stack|config|…> [flags]}
shift
. scripts/stack-env.sh
case "$command" in
preview | up | refresh | destroy) prepare_dev_machine ;;
esac
npx --no-install pulumi stack select --create "$stack" --non-interactive >/dev/null
case "$command" in
preview | up | refresh | destroy | config) exec npx --no-install pulumi "$command" --stack "$stack" "${config_file_args[@]}" "$@" ;;
*) exec npx --no-install pulumi "$command" --stack "$stack" "$@" ;;
esac
