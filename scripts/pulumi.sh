#!/usr/bin/env bash
# Runs a Pulumi CLI command on one stack with local file state, so no Pulumi
# Cloud account is needed. The CLI comes from the pinned `pulumi` npm package,
# which downloads the matching binary on first use (that needs internet).
#   STACK=prod scripts/pulumi.sh preview [pulumi flags…]
set -euo pipefail
cd "$(dirname "$0")/.."

command=${1:?usage: STACK=<stack> scripts/pulumi.sh <preview|up|stack|config|…> [flags]}
shift
stack=${STACK:-staging}
if [ ! -f "Pulumi.$stack.yaml" ]; then
    echo "no Pulumi.$stack.yaml: STACK must name one of: $(ls Pulumi.*.yaml | sed -n 's/^Pulumi\.\(.*\)\.yaml$/\1/p' | tr '\n' ' ')" >&2
    exit 2
fi
if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
    echo "set PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE: it encrypts this stack's secrets in local state" >&2
    exit 2
fi
npm run --silent build
export PULUMI_BACKEND_URL=${PULUMI_BACKEND_URL:-file://$PWD/.pulumi-state}
mkdir -p .pulumi-state
npx --no-install pulumi stack select --create "$stack" --non-interactive >/dev/null
exec npx --no-install pulumi "$command" --stack "$stack" "$@"
