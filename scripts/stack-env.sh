# Sourced by scripts/pulumi.sh and scripts/driver.sh: the stack, its local file
# state and its passphrase, the same for the CLI and the drivers.
# STACK defaults to `dev`, the local `host` stack, whose secrets are
# encrypted with a passphrase that is not secret (`dev-only-not-secret`) so a
# newcomer needs nothing to start. Every other stack needs a real passphrase.
stack=${STACK:-dev}
if [ ! -f "Pulumi.$stack.yaml" ]; then
    echo "no Pulumi.$stack.yaml: STACK must name one of: $(ls Pulumi.*.yaml | sed -n 's/^Pulumi\.\(.*\)\.yaml$/\1/p' | tr '\n' ' ')" >&2
    exit 2
fi
if [ "$stack" = dev ] && [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
    export PULUMI_CONFIG_PASSPHRASE=dev-only-not-secret
fi
if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
    echo "set PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE: it encrypts this stack's secrets in local state" >&2
    exit 2
fi
# SAFE_RELEASE_STACK_FILE: another file to take the stack's config from (`--config-file`), such as a
# copy of Pulumi.dev.yaml whose `release:host.root` is a scratch directory.
stack_file=${SAFE_RELEASE_STACK_FILE:-Pulumi.$stack.yaml}
config_file_args=()
[ -n "${SAFE_RELEASE_STACK_FILE:-}" ] && config_file_args=(--config-file "$SAFE_RELEASE_STACK_FILE")
export PULUMI_BACKEND_URL=${PULUMI_BACKEND_URL:-file://$PWD/.pulumi-state}
# The CLI, the language host and the plugins: built from Go modules where no CLI
# is installed (these machines download nothing), then found on PATH.
eval "$(scripts/toolchain.sh --print-env)"
mkdir -p .pulumi-state
scripts/build-if-changed.sh

# The dev stack runs on this machine: its demo artifacts are built from examples/demo/ and its private
# supervisord and PostgreSQL started (scripts/dev-machine.sh) before the CLI needs them.
prepare_dev_machine() {
    [ "$stack" = dev ] || return 0
    scripts/demo-artifacts.sh >/dev/null
    scripts/dev-machine.sh start "$stack_file"
}
